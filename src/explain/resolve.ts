// FROM and TO of `kube-router explain`, resolved against a cluster snapshot: a pod (by `ns/name` or by
// its IP), a node (by one of its addresses, or a host-network pod, which sends as its node), or an
// address. An address inside a node's pod CIDR that no pod holds is still routed to that node, where the
// fail-closed check meets it, so it keeps its owning node.
import { cidrContainsIP, firstHost, parseCIDR } from '../model/normalize/cidr.js';
import { canonicalIP, ipFamily } from '../model/normalize/ip.js';
import type { ClusterSnapshot, IPFamily, NodeModel, PodModel } from '../model/types.js';
import { KrtError } from '../observe/errors.js';
import { policyPod } from '../controllers/firewall/compile/compiler.js';
import { nodePodCidrs } from '../controllers/firewall/compile/pod-cidrs.js';

export type Endpoint =
  | { readonly kind: 'pod'; readonly pod: PodModel; readonly node: string }
  | { readonly kind: 'node'; readonly node: string; readonly ips: readonly string[]; readonly via?: string }
  | { readonly kind: 'address'; readonly ip: string; readonly node?: string };

/** An endpoint with the one address the packet carries for it. */
export type Resolved = Endpoint & { readonly ip: string; readonly label: string };

const podKey = (p: PodModel): string => `${p.namespace}/${p.name}`;

export function nodeAddresses(n: NodeModel): string[] {
  return [...new Set([...n.internalIPs, ...n.externalIPs])];
}

/** Addresses the kernel of node `n` calls LOCAL (-m addrtype): its Node addresses and the kube-bridge gateways. */
export function localAddresses(n: NodeModel | undefined, podCIDRs: readonly string[]): string[] {
  const out = n ? nodeAddresses(n) : [];
  for (const c of podCIDRs) {
    const gw = parseCIDR(c) ? firstHost(c) : undefined;
    if (gw) out.push(gw);
  }
  return [...new Set(out)];
}

function podEndpoint(snap: ClusterSnapshot, p: PodModel, text: string): Endpoint {
  if (p.hostNetwork) {
    const node = p.nodeName !== undefined ? snap.nodes.get(p.nodeName) : undefined;
    const ips = node ? nodeAddresses(node) : p.hostIP ? [p.hostIP] : [];
    if (!p.nodeName || ips.length === 0) throw new KrtError('KRT_EXPLAIN_POD_NO_IP', `pod ${text} uses the host network and its node is not known`);
    return { kind: 'node', node: p.nodeName, ips, via: `host-network pod ${text}` };
  }
  if (!p.nodeName) throw new KrtError('KRT_EXPLAIN_POD_NO_IP', `pod ${text} is not scheduled to a node`);
  if (p.podIPs.length === 0) throw new KrtError('KRT_EXPLAIN_POD_NO_IP', `pod ${text} has no IP yet`);
  if (!policyPod(p)) throw new KrtError('KRT_EXPLAIN_POD_NO_IP', `pod ${text} has finished (${p.phase}); no firewall holds rules for it`);
  return { kind: 'pod', pod: p, node: p.nodeName };
}

/** Which node's pod CIDR holds `ip` (as that node's firewall derives its CIDRs). */
function ownerByPodCidr(snap: ClusterSnapshot, ip: string, families: readonly IPFamily[]): string | undefined {
  for (const n of snap.nodes.values()) {
    if (nodePodCidrs(n, families).cidrs.some((c) => cidrContainsIP(c, ip))) return n.name;
  }
  return undefined;
}

/** One endpoint; throws KrtErrors an operator can act on (codes in docs/errors.md). */
export function resolveEndpoint(snap: ClusterSnapshot, text: string, families: readonly IPFamily[] = [4, 6]): Endpoint {
  const ip = canonicalIP(text);
  if (ip === undefined) {
    const parts = text.split('/');
    const n = parts.length === 1 ? snap.nodes.get(text) : undefined;
    if (n) return { kind: 'node', node: n.name, ips: nodeAddresses(n) };
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new KrtError('KRT_EXPLAIN_ENDPOINT', `${JSON.stringify(text)} is neither namespace/pod, a node name nor an IP address`);
    }
    const p = snap.pods.get(text);
    if (!p) throw new KrtError('KRT_EXPLAIN_UNKNOWN_POD', `no pod ${text} in the cluster`);
    return podEndpoint(snap, p, text);
  }
  const owners: Endpoint[] = [];
  for (const p of snap.pods.values()) {
    if (!p.hostNetwork && policyPod(p) && p.nodeName && p.podIPs.includes(ip)) owners.push({ kind: 'pod', pod: p, node: p.nodeName });
  }
  for (const n of snap.nodes.values()) {
    const ips = nodeAddresses(n);
    if (ips.includes(ip)) owners.push({ kind: 'node', node: n.name, ips: [ip] });
  }
  if (owners.length > 1) {
    const names = owners.map((o) => (o.kind === 'pod' ? `pod ${podKey(o.pod)}` : `node ${o.node}`));
    throw new KrtError('KRT_EXPLAIN_AMBIGUOUS_IP', `${ip} is the address of ${names.join(' and ')}`);
  }
  if (owners[0]) return owners[0];
  const node = ownerByPodCidr(snap, ip, families);
  return { kind: 'address', ip, ...(node !== undefined ? { node } : {}) };
}

function addressesOf(e: Endpoint): readonly string[] {
  return e.kind === 'pod' ? e.pod.podIPs : e.kind === 'node' ? e.ips : [e.ip];
}

export function labelOf(e: Endpoint): string {
  if (e.kind === 'pod') return `pod ${podKey(e.pod)}`;
  if (e.kind === 'node') return e.via ?? `node ${e.node}`;
  return e.node ? `address ${e.ip} (pod CIDR of ${e.node}, no pod)` : `address ${e.ip}`;
}

/**
 * Picks the one address of each end the packet carries: the family both ends have (IPv4 first, as
 * the agents' enable-ipv4 default), unless an end was given as an IP, which fixes the family.
 */
export function resolvePair(snap: ClusterSnapshot, fromText: string, toText: string, families: readonly IPFamily[]): { from: Resolved; to: Resolved } {
  const from = resolveEndpoint(snap, fromText, families);
  const to = resolveEndpoint(snap, toText, families);
  const fixed = [fromText, toText].map((t) => ipFamily(t)).find((f) => f !== undefined);
  const candidates: IPFamily[] = fixed ? [fixed] : [4, 6];
  for (const f of candidates) {
    const a = addressesOf(from).find((ip) => ipFamily(ip) === f);
    const b = addressesOf(to).find((ip) => ipFamily(ip) === f);
    if (a && b) {
      return {
        from: { ...from, ip: canonicalIP(fromText) ?? a, label: labelOf(from) },
        to: { ...to, ip: canonicalIP(toText) ?? b, label: labelOf(to) },
      };
    }
  }
  const missing = [from, to].find((e) => e.kind === 'pod' && !e.pod.podIPs.some((ip) => candidates.includes(ipFamily(ip)!)));
  if (missing) throw new KrtError('KRT_EXPLAIN_POD_NO_IP', `${labelOf(missing)} has no IPv${candidates.join('/IPv')} address`);
  throw new KrtError('KRT_EXPLAIN_NO_PATH', `${labelOf(from)} and ${labelOf(to)} share no IP family`);
}
