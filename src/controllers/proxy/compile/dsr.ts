// DSR (kube-router.io/service.dsr=tunnel), the pure part. kube-router's design: an external or
// LoadBalancer IP of a DSR service is not held on kube-dummy-if ("VIP-less director"); a mangle rule marks
// packets to vip:port, a policy rule routes marked packets to the local host (table 78), IPVS serves the
// mark and forwards in IPIP tunnel mode, and each backend pod decapsulates on its own IPIP interface that
// holds the VIP, so it answers the client directly with the VIP as source. Pure: plan values only.
import type { DsrMark, DsrPlan, DsrPod, IpvsProtocol, VirtualServer } from './plan.js';

/** Policy routing tables and priorities, as kube-router numbers them (kube-router-dsr, external_ip). */
export const DSR_TABLE = 78;
export const DSR_RULE_PRIORITY = 32764;
export const EXTERNAL_IP_TABLE = 79;
export const EXTERNAL_IP_RULE_PRIORITY = 32765;
/**
 * Marks are hashed into the low 14 bits, as kube-router does (#1045): clear of the firewall's 0x10000
 * and 0x20000, so a packet never looks firewall-accepted because of its DSR mark.
 */
export const FWMARK_MASK = 0x3fff;
/** Default IPv4 MTU 1500 - outer and inner IP headers (2 x 20) - TCP header (20). */
export const DEFAULT_DSR_TCP_MSS = 1440;

/** FNV-1a, 32 bits: stable across releases and nodes, so every node marks a VIP the same way. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The firewall mark of one DSR address (never 0: 0 means "no mark"). */
export function dsrFwmark(vip: string, protocol: IpvsProtocol, port: number): number {
  return fnv1a(`${vip}-${protocol}-${port}`) & FWMARK_MASK || 1;
}

/** The DSR side of a plan, from its virtual servers (those with a fwmark). */
export function compileDsr(servers: ReadonlyMap<string, VirtualServer>, tcpMss: number): DsrPlan {
  const marks: DsrMark[] = [];
  const pods = new Map<string, Set<string>>();
  const bridge = new Set<string>();
  for (const v of servers.values()) {
    if (v.fwmark === undefined) continue;
    marks.push({ vip: v.address, protocol: v.protocol, port: v.port, fwmark: v.fwmark, service: `${v.service.namespace}/${v.service.name}` });
    for (const r of v.realServers) {
      if (!r.localPod) continue;
      let s = pods.get(r.address);
      if (!s) pods.set(r.address, (s = new Set()));
      s.add(v.address);
      bridge.add(v.address);
    }
  }
  marks.sort((a, b) => a.fwmark - b.fwmark);
  const podList: DsrPod[] = [...pods]
    .map(([podIP, vips]) => ({ podIP, vips: [...vips].sort() }))
    .sort((a, b) => (a.podIP < b.podIP ? -1 : a.podIP > b.podIP ? 1 : 0));
  return { marks, tcpMss, bridgeRoutes: [...bridge].sort(), pods: podList };
}

export const EMPTY_DSR: DsrPlan = { marks: [], tcpMss: DEFAULT_DSR_TCP_MSS, bridgeRoutes: [], pods: [] };
