// Kernel routes (and ipip tunnels) from the speaker's current best paths. Always computed from the live
// Loc-RIB, never from a remembered list, so a withdrawn prefix can never be re-injected (kube-router #1738).
import { createHash } from 'node:crypto';
import type { Route } from '../../../bgp/api.js';
import type { OverlayEncap, OverlayType } from '../options.js';
import { cidrContainsIP, hostPrefix, parseCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES, ipFamily, parseIP } from '../../../model/normalize/ip.js';
import type { IPFamily as Family } from '../../../model/types.js';

/** kube-router's route protocol (0x11, "zebra") marks routes it owns. */
export const ROUTE_PROTO = 17;

/**
 * kube-router's policy-routing table ("kube-router" in rt_tables). Traffic *from* our pod CIDRs looks it up
 * first (`ip rule from <podCIDR> lookup 77`); it holds `<remote node IP> dev tun-x` for every tunnel, so a pod
 * talking to another node's own address (hostNetwork pods, kubelet) goes through the tunnel like the reply
 * does. Without it the request leaves by the underlay and the reply comes back through the tunnel: with
 * strict rp_filter the pod's node drops that reply (seen in test/lab-routing-overlay.uml.test.ts).
 */
export const POLICY_TABLE = 77;

export interface DesiredRoute {
  readonly dst: string;
  readonly family: Family;
  readonly via?: string;
  readonly dev?: string;
  readonly src?: string;
}

export interface DesiredTunnel {
  readonly name: string;
  readonly family: Family;
  readonly local: string;
  readonly remote: string;
  readonly encap: OverlayEncap;
  readonly encapPort: number;
}

export interface RoutePlan {
  readonly routes: readonly DesiredRoute[];
  readonly tunnels: readonly DesiredTunnel[];
  /** Routes for POLICY_TABLE: each tunnel's remote node address through its tunnel (absent = none). */
  readonly policyRoutes?: readonly DesiredRoute[];
  /** Prefixes we know of but cannot route (other subnet, overlay off): logged, counted. */
  readonly unroutable: readonly { prefix: string; nextHop: string; reason: string }[];
}

export interface RouteInputs {
  readonly bestPaths: readonly Route[];
  /** Our own pod CIDRs: never routed elsewhere even if a peer echoes them. */
  readonly ownPrefixes: readonly string[];
  /** Our node addresses (one per family at most is used as tunnel source). */
  readonly nodeIPs: readonly string[];
  /** Connected subnets of the node-IP interface(s), e.g. "172.31.0.0/24". */
  readonly localSubnets: readonly string[];
  /** Primary IPs of every known Node: only those get tunnels (a ToR's next hop never does). */
  readonly clusterNodeIPs: ReadonlySet<string>;
  readonly enableOverlay: boolean;
  readonly overlayType: OverlayType;
  readonly overlayEncap: OverlayEncap;
  readonly overlayEncapPort: number;
  readonly enableIpv4: boolean;
  readonly enableIpv6: boolean;
}

/** kube-router's tunnel name: "tun-" + first 11 hex chars of sha256(ip without dots/colons); 15 chars fits IFNAMSIZ. */
export function tunnelName(remoteIp: string): string {
  const digest = createHash('sha256').update(remoteIp.replace(/[.:]/g, '')).digest('hex');
  return `tun-${digest.slice(0, 11)}`;
}

export function isTunnelName(name: string): boolean {
  return /^tun-[0-9a-f]{11}$/.test(name);
}

export function compileRoutes(inp: RouteInputs): RoutePlan {
  const routes = new Map<string, DesiredRoute>();
  const tunnels = new Map<string, DesiredTunnel>();
  const unroutable: { prefix: string; nextHop: string; reason: string }[] = [];
  const own = new Set(inp.ownPrefixes);
  const mine = new Set(inp.nodeIPs);
  for (const r of inp.bestPaths) {
    if (r.peer === undefined) continue; // our own advertisement
    const c = parseCIDR(r.prefix, GO_ADDRESSES);
    if (!c || c.prefix === 0 || own.has(r.prefix)) continue;
    if ((c.family === 4 && !inp.enableIpv4) || (c.family === 6 && !inp.enableIpv6)) continue;
    const nh = r.nextHop;
    const nhIP = parseIP(nh, GO_ADDRESSES);
    if (mine.has(nh) || nhIP?.family !== c.family) continue;
    const sameSubnet = inp.localSubnets.some((s) => cidrContainsIP(s, nhIP));
    const isNode = inp.clusterNodeIPs.has(nh);
    const overlay = inp.enableOverlay && isNode && (inp.overlayType === 'full' || !sameSubnet);
    if (overlay) {
      const local = inp.nodeIPs.find((ip) => ipFamily(ip, GO_ADDRESSES) === c.family);
      if (!local) {
        unroutable.push({ prefix: r.prefix, nextHop: nh, reason: `no IPv${c.family} node address to source the tunnel from` });
        continue;
      }
      const name = tunnelName(nh);
      tunnels.set(name, { name, family: c.family, local, remote: nh, encap: inp.overlayEncap, encapPort: inp.overlayEncapPort });
      routes.set(r.prefix, { dst: r.prefix, family: c.family, dev: name, src: local });
    } else if (sameSubnet) {
      routes.set(r.prefix, { dst: r.prefix, family: c.family, via: nh });
    } else {
      unroutable.push({
        prefix: r.prefix,
        nextHop: nh,
        reason: isNode ? 'next hop in another subnet and --enable-overlay is off: the underlay must route it' : 'next hop is not on a connected subnet',
      });
    }
  }
  const policyRoutes = [...tunnels.values()].map((t) => ({ dst: hostPrefix(t.remote, GO_ADDRESSES)!, family: t.family, dev: t.name }));
  return { routes: [...routes.values()], tunnels: [...tunnels.values()], policyRoutes, unroutable };
}
