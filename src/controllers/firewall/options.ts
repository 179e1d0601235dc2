// How a node's firewall options (from the agent's flags, firewallOptionsFrom in agent/builtin.ts) and its
// Node object become the compiler's options. One function, used by the controller on every sync and by
// `kube-router explain` for whichever node it explains, so explain compiles exactly the plan the agent
// of that node programs.
import type { IPFamily, NodeModel } from '../../model/types.js';
import type { CompileOptions } from './compile/compiler.js';
import { nodePodCidrs, type NodePodCidrs } from './compile/pod-cidrs.js';
import type { FirewallOptions } from './controller.js';

export function firewallFamilies(opts: Pick<FirewallOptions, 'enableIPv4' | 'enableIPv6'>): IPFamily[] {
  return [...(opts.enableIPv4 ? [4 as const] : []), ...(opts.enableIPv6 ? [6 as const] : [])];
}

export interface DerivedCompileOptions {
  readonly options: CompileOptions;
  /** Where the pod CIDRs came from (the controller logs it when it changes). */
  readonly podCidrs: NodePodCidrs | { readonly cidrs: readonly string[]; readonly source: 'option'; readonly invalid: readonly string[] };
}

/** The compile options of `opts.nodeName`, given its Node object (undefined while it is unknown). */
export function deriveCompileOptions(opts: FirewallOptions, node: NodeModel | undefined): DerivedCompileOptions {
  const families = firewallFamilies(opts);
  const found = opts.podCIDRs ? { cidrs: opts.podCIDRs, source: 'option' as const, invalid: [] } : nodePodCidrs(node, families);
  return {
    podCidrs: found,
    options: {
      nodeName: opts.nodeName,
      families,
      podCIDRs: [...found.cidrs],
      ranges: {
        clusterIPRanges: opts.serviceClusterIPRanges,
        externalIPRanges: opts.serviceExternalIPRanges,
        loadBalancerIPRanges: opts.loadBalancerIPRanges,
        nodePortRange: opts.nodePortRange,
      },
    },
  };
}
