// What this node announces: its pod CIDR(s) (iBGP always, external peers only with --advertise-pod-cidr)
// and service VIPs as host routes to external peers only, per flag with per-service annotation
// overrides, withheld under a Local traffic policy when this node has no ready endpoint (so the upstream
// router spreads traffic over exactly the nodes that can serve it).
import type { Advertisement } from '../../../bgp/api.js';
import type { EndpointSliceModel, NodeModel, ServiceModel } from '../../../model/types.js';
import type { RouterOptions } from '../options.js';
import { hostPrefix, parseCIDROrIP } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES, ipFamily } from '../../../model/normalize/ip.js';

export const SVC_ANN = {
  clusterIp: 'kube-router.io/service.advertise.clusterip',
  externalIp: 'kube-router.io/service.advertise.externalip',
  loadBalancerIp: 'kube-router.io/service.advertise.loadbalancerip',
  local: 'kube-router.io/service.local',
} as const;

export type AdvertisementType = 'pod-cidr' | 'cluster-ip' | 'external-ip' | 'loadbalancer-ip';

export interface TypedAdvertisement extends Advertisement {
  readonly type: AdvertisementType;
}

export interface AdvertisementInputs {
  readonly self: NodeModel;
  /** Empty while the node has no pod CIDR: nothing is announced for it. */
  readonly podCidrs: readonly string[];
  readonly services: Iterable<ServiceModel>;
  readonly endpointSlices: Iterable<EndpointSliceModel>;
  readonly opts: RouterOptions;
}

function flagOrAnnotation(svc: ServiceModel, annotation: string, flag: boolean): boolean {
  const v = svc.annotations[annotation]?.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  return flag;
}

function familyOn(ipOrCidr: string, opts: RouterOptions): boolean {
  const f = parseCIDROrIP(ipOrCidr, GO_ADDRESSES)?.family;
  return (f === 4 && opts.enableIpv4) || (f === 6 && opts.enableIpv6);
}

/** "namespace/service" of every service with a ready endpoint on this node. */
export function servicesWithLocalEndpoints(slices: Iterable<EndpointSliceModel>, nodeName: string): Set<string> {
  const out = new Set<string>();
  for (const s of slices) {
    if (s.endpoints.some((e) => e.nodeName === nodeName && e.ready)) out.add(`${s.namespace}/${s.serviceName}`);
  }
  return out;
}

export function compileAdvertisements(inp: AdvertisementInputs): TypedAdvertisement[] {
  const { opts, self } = inp;
  const out = new Map<string, TypedAdvertisement>();
  const podTo = opts.enableIbgp ? (opts.advertisePodCidr ? 'all' : 'internal') : opts.advertisePodCidr ? 'external' : undefined;
  if (podTo) {
    for (const prefix of inp.podCidrs) if (familyOn(prefix, opts)) out.set(prefix, { type: 'pod-cidr', prefix, to: podTo });
  }
  const local = servicesWithLocalEndpoints(inp.endpointSlices, self.name);
  const nextHopFor = (ip: string): string | undefined =>
    [...self.internalIPs, ...self.externalIPs].find((n) => ipFamily(n, GO_ADDRESSES) === ipFamily(ip, GO_ADDRESSES));
  for (const svc of inp.services) {
    if (svc.type === 'ExternalName') continue;
    const key = `${svc.namespace}/${svc.name}`;
    const forcedLocal = svc.annotations[SVC_ANN.local]?.trim().toLowerCase() === 'true';
    const hasLocal = local.has(key);
    const add = (ips: readonly string[], type: AdvertisementType, withheld: boolean) => {
      if (withheld) return;
      for (const ip of ips) {
        if (!familyOn(ip, opts)) continue;
        const prefix = hostPrefix(ip, GO_ADDRESSES)!;
        if (out.has(prefix)) continue;
        const nh = nextHopFor(ip);
        out.set(prefix, { type, prefix, to: 'external', ...(nh ? { nextHop: nh } : {}) });
      }
    };
    if (flagOrAnnotation(svc, SVC_ANN.clusterIp, opts.advertiseClusterIp)) {
      add(svc.clusterIPs, 'cluster-ip', (svc.internalTrafficPolicy === 'Local' || forcedLocal) && !hasLocal);
    }
    const extLocal = (svc.externalTrafficPolicy === 'Local' || forcedLocal) && !hasLocal;
    if (flagOrAnnotation(svc, SVC_ANN.externalIp, opts.advertiseExternalIp)) add(svc.externalIPs, 'external-ip', extLocal);
    if (flagOrAnnotation(svc, SVC_ANN.loadBalancerIp, opts.advertiseLoadbalancerIp)) add(svc.loadBalancerIPs, 'loadbalancer-ip', extLocal);
  }
  return [...out.values()].sort((a, b) => a.prefix.localeCompare(b.prefix));
}

/** Every service VIP in the cluster plus the configured VIP ranges: never accepted from a peer. */
export function vipImportRejects(services: Iterable<ServiceModel>, opts: RouterOptions): string[] {
  const out = new Set<string>([...opts.serviceClusterIpRange, ...opts.serviceExternalIpRange, ...opts.loadbalancerIpRange]);
  for (const s of services) {
    for (const ip of [...s.clusterIPs, ...s.externalIPs, ...s.loadBalancerIPs]) {
      const p = hostPrefix(ip, GO_ADDRESSES);
      if (p) out.add(p);
    }
  }
  return [...out].sort();
}

/** Strips the controller-only `type` before handing advertisements to the speaker. */
export function toSpeakerAdvertisements(ads: readonly TypedAdvertisement[]): Advertisement[] {
  return ads.map(({ type: _t, ...rest }) => rest);
}
