// kube-dummy-if: the dummy link that makes every service address local to the node (IPVS only sees
// packets addressed to the node itself). Pure diff to `ip -batch` lines; the applier runs them.

export const DUMMY_IF = 'kube-dummy-if';

const plen = (ip: string) => (ip.includes(':') ? 128 : 32);
/** The VIP's route in table local (`ip route` lines take it after the verb). */
const localRoute = (ip: string) => `local ${ip} dev ${DUMMY_IF} table local proto kernel`;

/**
 * Lines that add `add` (with a local route whose source is the node's address of the VIP's family, not the
 * VIP) and remove `del`. `nodeIPs`: the node's addresses, at most one per family is used.
 *
 * IPv4 replaces the kernel's local route in place. IPv6 cannot: the kernel's is metric 0, which no user
 * route can have (0 means the default, 1024), so a replace would add a second route the kernel's outranks.
 * The kernel's goes instead (the address is new: nothing uses it yet) and ours takes its place; and since
 * an IPv6 address takes only the kernel's route with it when it goes, ours is deleted by name first
 * (replaced without a source before, so that delete finds a route even after a batch stopped half-way).
 */
export function vipBatch(add: readonly string[], del: readonly string[], nodeIPs: string | readonly string[] | undefined): string[] {
  const sources = typeof nodeIPs === 'string' ? [nodeIPs] : (nodeIPs ?? []);
  const out: string[] = [];
  for (const ip of add) {
    const v6 = ip.includes(':');
    // IPv6: no duplicate address detection, so the VIP is usable at once (kube-router adds IFA_F_NODAD too).
    out.push(`addr add ${ip}/${plen(ip)} dev ${DUMMY_IF}${v6 ? ' nodad' : ''}`);
    // Without a source, the kernel answers a node process's connection to a VIP from the VIP itself, and a
    // remote endpoint's reply then lands on its own node's copy of that VIP (kube-router #376).
    const src = sources.find((s) => s.includes(':') === v6);
    if (!src) continue;
    if (v6) out.push(`route del local ${ip} dev ${DUMMY_IF} table local`);
    out.push(`route replace ${localRoute(ip)} scope host src ${src}`);
  }
  for (const ip of del) {
    if (ip.includes(':')) out.push(`route replace ${localRoute(ip)} scope host`, `route del ${localRoute(ip)} metric 1024`);
    out.push(`addr del ${ip}/${plen(ip)} dev ${DUMMY_IF}`);
  }
  return out;
}

/**
 * Addresses of `ip -o addr show dev kube-dummy-if` (both families), without link-scope ones: the kernel
 * gives an up dummy link an IPv6 link-local address of its own, which is no VIP of ours (taking it for a
 * stale one made every full sync, and so every restart, fail on deleting it with the wrong prefix).
 */
export function parseAddrShow(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (/\bscope link\b/.test(line)) continue;
    const m = /\binet6? ([0-9a-fA-F:.]+)\/\d+/.exec(line);
    if (m?.[1]) out.push(m[1]);
  }
  return out.sort();
}
