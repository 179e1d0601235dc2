// UDP has no connection end, so a client keeps sending to a removed backend for as long as its
// conntrack entry lives (kube-proxy and kube-router both flush these). Pure: which UDP real servers the
// new plan drops, per virtual server; apply/conntrack.ts deletes exactly those entries.
import type { VirtualServer } from './plan.js';

export interface UdpDestination {
  readonly vip: string;
  readonly port: number;
  readonly address: string;
  readonly targetPort: number;
}

export const udpDestinationKey = (d: UdpDestination): string => `${d.vip}:${d.port}->${d.address}:${d.targetPort}`;

/** Real servers of UDP virtual servers in `prev` that `next` no longer has (the whole service gone included). */
export function removedUdpDestinations(prev: ReadonlyMap<string, VirtualServer> | undefined, next: ReadonlyMap<string, VirtualServer>): UdpDestination[] {
  if (!prev) return [];
  const out: UdpDestination[] = [];
  for (const [key, v] of prev) {
    if (v.protocol !== 'udp') continue;
    const n = next.get(key);
    // Plans share unchanged virtual servers by identity (incremental compile); nothing to compare then.
    if (n === v) continue;
    const keep = new Set((n?.realServers ?? []).map((r) => `${r.address}:${r.port}`));
    for (const r of v.realServers) {
      if (!keep.has(`${r.address}:${r.port}`)) out.push({ vip: v.address, port: v.port, address: r.address, targetPort: r.port });
    }
  }
  return out;
}
