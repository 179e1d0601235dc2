// The VIP firewall (kube-router's, on with --ipvs-permit-all, its default): traffic to an address the proxy
// serves is accepted only for a port and protocol it serves there (plus the ICMP that routing needs), and
// rejected otherwise, so a node process listening on 0.0.0.0 is not reachable through a ClusterIP
// (kube-router #282, kubernetes #72236). Pure: the virtual servers and the node's own addresses in, the
// three ipsets' entries out; apply/vip-firewall.ts renders the chain and restores it.
import { ipFamily } from '../../../model/normalize/ip.js';
import type { IPFamily } from '../../../model/types.js';
import type { VirtualServer } from './plan.js';

/** kube-router's names, so operators find what they know (`ipset list kube-router-svip`). */
export const SERVICE_IPS_SET = 'kube-router-svip';
export const SERVICE_PORTS_SET = 'kube-router-svip-prt';
export const LOCAL_IPS_SET = 'kube-router-local-ips';
export const SERVICES_CHAIN = 'KUBE-ROUTER-SERVICES';

export interface VipFirewallPlan {
  /** --ipvs-permit-all: the chain and its INPUT jump exist; false: neither does, nor do our sets. */
  readonly enabled: boolean;
  readonly families: readonly IPFamily[];
  /** Per family, sorted: every address a virtual server listens on (VIPs and NodePort addresses). */
  readonly serviceIPs: ReadonlyMap<IPFamily, readonly string[]>;
  /** Per family, sorted, as `ipset save` prints hash:ip,port entries: "10.96.0.10,udp:53". */
  readonly servicePorts: ReadonlyMap<IPFamily, readonly string[]>;
  /**
   * Per family, sorted: the node's own addresses. Never rejected, even when a NodePort makes them service
   * addresses too (kube-router #1924: an empty set here cut nodes off their own ports).
   */
  readonly localIPs: ReadonlyMap<IPFamily, readonly string[]>;
}

/** The set name in a family, kube-router style (IPv6 sets carry an "inet6:" prefix). */
export function familySet(base: string, f: IPFamily): string {
  return f === 6 ? `inet6:${base}` : base;
}

export function compileVipFirewall(
  servers: ReadonlyMap<string, VirtualServer>,
  localAddresses: readonly string[],
  families: readonly IPFamily[],
  enabled: boolean,
): VipFirewallPlan {
  const ips = new Map<IPFamily, Set<string>>();
  const ports = new Map<IPFamily, Set<string>>();
  const local = new Map<IPFamily, Set<string>>();
  for (const f of families) {
    ips.set(f, new Set());
    ports.set(f, new Set());
    local.set(f, new Set());
  }
  if (enabled) {
    for (const v of servers.values()) {
      const f = ipFamily(v.address);
      if (f === undefined || !ips.has(f)) continue;
      ips.get(f)!.add(v.address);
      ports.get(f)!.add(`${v.address},${v.protocol}:${v.port}`);
    }
    for (const a of localAddresses) {
      const f = ipFamily(a);
      if (f !== undefined) local.get(f)?.add(a);
    }
  }
  const sorted = (m: Map<IPFamily, Set<string>>) => new Map([...m].map(([f, s]) => [f, [...s].sort()] as const));
  return { enabled, families: [...families], serviceIPs: sorted(ips), servicePorts: sorted(ports), localIPs: sorted(local) };
}
