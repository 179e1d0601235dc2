// Which addresses are this node's pods: the kube-router.io/pod-cidr(s) annotation when it holds a valid
// CIDR (the routing controller gives it the same precedence, so kube-bridge and the fail-closed check
// agree), else node.spec.podCIDRs. A CIDR of someone else's pods here would reject their traffic, so the
// two sources are never merged.
import type { IPFamily, NodeModel } from '../../../model/types.js';
import { parseCIDR } from '../../../model/normalize/cidr.js';

export const POD_CIDR_ANNOTATIONS = ['kube-router.io/pod-cidrs', 'kube-router.io/pod-cidr'] as const;

export interface NodePodCidrs {
  readonly cidrs: readonly string[];
  readonly source: 'annotation' | 'spec' | 'none';
  /** Annotation parts that are not CIDRs (logged, then ignored). */
  readonly invalid: readonly string[];
}

function parseList(text: string, families: readonly IPFamily[]): { cidrs: string[]; invalid: string[] } {
  const cidrs: string[] = [];
  const invalid: string[] = [];
  for (const part of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    const n = parseCIDR(part);
    if (!n) invalid.push(part);
    else if (families.includes(n.family)) {
      const c = n.text;
      if (!cidrs.includes(c)) cidrs.push(c);
    }
  }
  return { cidrs, invalid };
}

export function nodePodCidrs(node: NodeModel | undefined, families: readonly IPFamily[]): NodePodCidrs {
  if (!node) return { cidrs: [], source: 'none', invalid: [] };
  const annText = POD_CIDR_ANNOTATIONS.map((k) => node.annotations[k]).filter((v) => v !== undefined).join(',');
  const ann = parseList(annText, families);
  if (ann.cidrs.length > 0) return { cidrs: ann.cidrs, source: 'annotation', invalid: ann.invalid };
  const spec = parseList(node.podCIDRs.join(','), families);
  return { cidrs: spec.cidrs, source: spec.cidrs.length > 0 ? 'spec' : 'none', invalid: ann.invalid };
}
