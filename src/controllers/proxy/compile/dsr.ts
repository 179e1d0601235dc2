// DSR (kube-router.io/service.dsr=tunnel), the pure part. kube-router's design: an external or
// LoadBalancer IP of a DSR service is not held on kube-dummy-if ("VIP-less director"); a mangle rule marks
// packets to vip:port, a policy rule routes marked packets to the local host (table 78), IPVS serves the
// mark and forwards in IPIP tunnel mode, and each backend pod decapsulates on its own IPIP interface that
// holds the VIP, so it answers the client directly with the VIP as source. Pure: plan values only.
import { virtualServerKey, type DsrMark, type DsrPlan, type DsrPod, type IpvsProtocol, type VirtualServer } from './plan.js';

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

/** One DSR address as text: what its mark is hashed from, and how collisions are ordered. */
export const dsrAddressKey = (vip: string, protocol: IpvsProtocol, port: number): string => `${vip}-${protocol}-${port}`;

const hashMark = (key: string): number => fnv1a(key) & FWMARK_MASK || 1;

/** The first-choice firewall mark of one DSR address (never 0: 0 means "no mark"); see assignFwmarks. */
export function dsrFwmark(vip: string, protocol: IpvsProtocol, port: number): number {
  return hashMark(dsrAddressKey(vip, protocol, port));
}

/**
 * Collision-free marks for a set of DSR addresses (dsrAddressKey), the same for the same set whatever the
 * order given, so every sync and every node marks alike: an address whose hash no other shares gets its
 * hash; among addresses sharing one, the first by key keeps it and the others probe upward (wrapping in
 * the 14 bits, skipping 0) to the first value no address holds. So a mark moves only when a new address
 * with the same hash sorts before it. An address is missing from the result when all 16,383 are taken.
 */
export function assignFwmarks(keys: Iterable<string>): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  const probing: string[] = [];
  for (const k of [...new Set(keys)].sort()) {
    const h = hashMark(k);
    if (used.has(h)) probing.push(k);
    else {
      used.add(h);
      out.set(k, h);
    }
  }
  for (const k of probing) {
    if (used.size >= FWMARK_MASK) break;
    let m = hashMark(k);
    while (used.has(m)) m = (m % FWMARK_MASK) + 1;
    used.add(m);
    out.set(k, m);
  }
  return out;
}

/**
 * Puts DSR virtual servers (each carrying a provisional mark) into `servers` under the marks assignFwmarks
 * gives the whole set; a server whose mark stays is the same object (the applier skips it by identity).
 * One per address: the caller has settled which service serves an address.
 */
export function placeDsrServers(servers: Map<string, VirtualServer>, dsr: readonly VirtualServer[], skipped: string[]): void {
  const key = (v: VirtualServer) => dsrAddressKey(v.address, v.protocol, v.port);
  const marks = assignFwmarks(dsr.map(key));
  for (const v of dsr) {
    const m = marks.get(key(v));
    if (m === undefined) {
      skipped.push(`service ${v.service.namespace}/${v.service.name} port ${v.service.port || v.port}: no free firewall mark for DSR address ${v.address}:${v.port}/${v.protocol} (all ${FWMARK_MASK} in use); not served`);
      continue;
    }
    const placed = m === v.fwmark ? v : { ...v, fwmark: m };
    servers.set(virtualServerKey(placed), placed);
  }
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
