// Pod-to-pod reachability through the compiled plans of every node on the path: same node is one
// bridged FORWARD pass; across nodes the packet is routed out of the source node (FORWARD) and into
// the destination node (FORWARD). Used by compiler tests and the offline conformance check.
import type { ClusterSnapshot, IPFamily, PodModel } from '../../model/types.js';
import { FirewallCompiler, type CompileOptions } from '../../controllers/firewall/compile/compiler.js';
import type { FirewallPlan } from '../../controllers/firewall/compile/plan.js';
import { tracePacket, type Verdict } from '../../controllers/firewall/compile/trace.js';

export const TEST_RANGES = {
  clusterIPRanges: ['10.96.0.0/12'],
  externalIPRanges: [],
  loadBalancerIPRanges: [],
  nodePortRange: { min: 30000, max: 32767 },
};

export function nodeOptions(node: string, extra: Partial<CompileOptions> = {}): CompileOptions {
  const n = Number(node.replace(/\D/g, '') || '1');
  return {
    nodeName: node,
    families: [4],
    podCIDRs: [`10.244.${n}.0/24`],
    ranges: TEST_RANGES,
    ...extra,
  };
}

/** One compiler per node, updated together, as each node's agent would be. */
export class Cluster {
  private readonly compilers = new Map<string, FirewallCompiler>();
  plans = new Map<string, FirewallPlan>();
  constructor(
    nodes: readonly string[],
    private readonly extra: Partial<CompileOptions> = {},
  ) {
    for (const n of nodes) this.compilers.set(n, new FirewallCompiler(nodeOptions(n, extra)));
  }
  update(s: ClusterSnapshot): this {
    for (const [n, c] of this.compilers) this.plans.set(n, c.update(s).plan);
    return this;
  }
  plan(node: string): FirewallPlan {
    const p = this.plans.get(node);
    if (!p) throw new Error(`no plan for ${node}`);
    return p;
  }
}

export interface Probe {
  proto: 'tcp' | 'udp' | 'sctp';
  port: number;
  family?: IPFamily;
}

function ipOf(p: PodModel, family: IPFamily): string {
  const ip = p.podIPs.find((i) => (family === 6) === i.includes(':'));
  if (!ip) throw new Error(`pod ${p.namespace}/${p.name} has no IPv${family} address`);
  return ip;
}

/** The verdict for a new connection from `from` (a pod, or an outside address) to pod `to`. */
export function reach(cluster: Cluster, from: PodModel | { ip: string }, to: PodModel, probe: Probe): Verdict {
  const family = probe.family ?? 4;
  const dst = ipOf(to, family);
  const src = 'ip' in from ? from.ip : ipOf(from, family);
  if ('ip' in from ? false : from.namespace === to.namespace && from.name === to.name) return 'ACCEPT';
  const base = { src, dst, proto: probe.proto, dport: probe.port } as const;
  const srcNode = 'ip' in from ? undefined : from.nodeName;
  const dstNode = to.nodeName!;
  if (srcNode === dstNode) {
    return tracePacket(cluster.plan(dstNode), { ...base, hook: 'FORWARD', bridged: true }).verdict;
  }
  if (srcNode && cluster.plans.has(srcNode)) {
    const out = tracePacket(cluster.plan(srcNode), { ...base, hook: 'FORWARD' }).verdict;
    if (out !== 'ACCEPT') return out;
  }
  return tracePacket(cluster.plan(dstNode), { ...base, hook: 'FORWARD' }).verdict;
}
