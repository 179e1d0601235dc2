// Topology-aware routing (trafficDistribution: PreferClose, or the topology-mode annotation): the
// EndpointSlice controller writes hints.forZones on endpoints only for services that ask, so the hints
// are the signal, as in kube-proxy. A node then uses the endpoints hinted for its own zone, and all of
// them whenever the hints cannot be trusted: the node has no zone label, any endpoint lacks hints (the
// controller is mid-update or gave up), or no endpoint is hinted for this zone. Pure.

/** The node label that names its zone. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export interface Zoned {
  readonly zoneHints?: readonly string[] | undefined;
}

export interface NodeHinted extends Zoned {
  readonly nodeHints?: readonly string[] | undefined;
}

/**
 * trafficDistribution: PreferSameNode (the EndpointSlice controller writes hints.forNodes, and forZones
 * beside them): the endpoints hinted for this node when every endpoint has node hints and one names this
 * node, as kube-proxy decides it; otherwise the zone hints decide (preferZone), as kube-proxy falls back.
 */
export function preferClose<E extends NodeHinted>(endpoints: readonly E[], nodeName: string, zone: string | undefined): readonly E[] {
  let hinted = false;
  for (const e of endpoints) {
    if (!e.nodeHints || e.nodeHints.length === 0) return preferZone(endpoints, zone);
    if (e.nodeHints.includes(nodeName)) hinted = true;
  }
  return hinted && endpoints.length > 0 ? endpoints.filter((e) => e.nodeHints!.includes(nodeName)) : preferZone(endpoints, zone);
}

/** The endpoints this node should use for cluster-wide traffic: its zone's when the hints allow, else all. */
export function preferZone<E extends Zoned>(endpoints: readonly E[], zone: string | undefined): readonly E[] {
  if (!zone || endpoints.length === 0) return endpoints;
  let hinted = false;
  for (const e of endpoints) {
    if (!e.zoneHints || e.zoneHints.length === 0) return endpoints;
    if (e.zoneHints.includes(zone)) hinted = true;
  }
  return hinted ? endpoints.filter((e) => e.zoneHints!.includes(zone)) : endpoints;
}
