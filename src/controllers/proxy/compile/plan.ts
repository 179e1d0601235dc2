// The service proxy's desired dataplane as a value: what compile/ produces from the model and apply/
// turns into kernel state. Typed, never rule text: apply/ renders it for ipvsadm, ip and iptables.
import type { Protocol } from '../../../model/types.js';

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';
export type Scheduler = 'rr' | 'lc' | 'dh' | 'sh' | 'mh';
/** IPVS scheduler flags (ipvsadm -b), as kube-router's service.schedflags maps them. */
export type SchedulerFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

export interface RealServer {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /**
   * IPVS forwarding method; absent is masquerade (NAT). 'tunnel' (IPIP) is DSR: the packet reaches the
   * pod unchanged inside an IPIP header and the pod answers the client itself.
   */
  readonly forward?: 'tunnel';
  /** A DSR destination on this node: its pod needs the tunnel interface (see dsr/). */
  readonly localPod?: true;
}

/** Why an IPVS virtual server exists: the service port it serves and through which address kind. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly port: string;
  readonly via: 'clusterIP' | 'nodePort' | 'externalIP' | 'loadBalancer';
}

export interface VirtualServer {
  /**
   * A DSR service (kube-router.io/service.dsr=tunnel): IPVS matches this firewall mark, not
   * address:port; protocol, address and port say what the mangle rule marks.
   */
  readonly fwmark?: number;
  readonly protocol: IpvsProtocol;
  readonly address: string;
  readonly port: number;
  readonly scheduler: Scheduler;
  readonly flags: readonly SchedulerFlag[];
  /** ClientIP session affinity: IPVS persistence timeout in seconds. */
  readonly persistenceSeconds?: number;
  /** Sorted by address, then port. Empty: the service exists but has no usable endpoint here (drop). */
  readonly realServers: readonly RealServer[];
  readonly service: ServiceRef;
}

/** Source NAT the proxy needs, rendered into its own nat chain. */
export type NatRule =
  /** Traffic IPVS forwarded in masquerade mode, from outside this node's pods to outside them, leaves with the node's IP. */
  | { readonly kind: 'masquerade'; readonly exceptCIDRs: readonly string[]; readonly toSource: string }
  /** A pod reaching itself through a service: its own packets come back from the service address. */
  | { readonly kind: 'hairpin'; readonly endpoint: string; readonly vip: string; readonly port: number; readonly protocol: IpvsProtocol };

export interface ProxyPlan {
  /** Keyed by virtualServerKey(). */
  readonly virtualServers: ReadonlyMap<string, VirtualServer>;
  /** Addresses held on kube-dummy-if (ClusterIPs, external and LoadBalancer IPs in use), sorted. */
  readonly vips: readonly string[];
  readonly nat: readonly NatRule[];
  /** Services or parts of them left out, with the reason (logged once, counted in a metric). */
  readonly skipped: readonly string[];
  /** What DSR needs beside IPVS: marks, policy routing, pod-side tunnels (compile/dsr.ts). */
  readonly dsr: DsrPlan;
}

/** One DSR service address: packets to vip:port/protocol get `fwmark`, which IPVS serves. */
export interface DsrMark {
  readonly vip: string;
  readonly protocol: IpvsProtocol;
  readonly port: number;
  readonly fwmark: number;
  /** namespace/name, for the rule comment. */
  readonly service: string;
}

/** A pod on this node backing DSR services: an IPIP interface in its netns holds these VIPs. */
export interface DsrPod {
  readonly podIP: string;
  /** Sorted. */
  readonly vips: readonly string[];
}

export interface DsrPlan {
  /** Sorted by fwmark. Empty: no DSR service here, and no DSR state may remain. */
  readonly marks: readonly DsrMark[];
  /** TCP MSS for SYNs from DSR pods: the client's segments must fit the tunnel (MTU - 2 IP headers - TCP). */
  readonly tcpMss: number;
  /** VIPs routed to kube-bridge (table 79), so a local pod's replies from the VIP pass reverse-path checks. Sorted. */
  readonly bridgeRoutes: readonly string[];
  /** Sorted by podIP. */
  readonly pods: readonly DsrPod[];
}

export function virtualServerKey(v: { protocol: IpvsProtocol; address: string; port: number; fwmark?: number | undefined }): string {
  if (v.fwmark !== undefined) return `fwmark/${v.fwmark}`;
  return `${v.protocol}/${v.address.includes(':') ? `[${v.address}]` : v.address}:${v.port}`;
}

/** The address family a NAT rule belongs to: iptables (4) or ip6tables (6). */
export function natRuleFamily(r: NatRule): 4 | 6 {
  return (r.kind === 'hairpin' ? r.vip : r.toSource).includes(':') ? 6 : 4;
}

export function ipvsProtocol(p: Protocol): IpvsProtocol {
  return p === 'TCP' ? 'tcp' : p === 'UDP' ? 'udp' : 'sctp';
}
