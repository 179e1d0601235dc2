// Which pod CIDR(s) this node owns: kube-router.io/pod-cidr(s) annotation first, else node.spec.podCIDRs.
// A node without one is the seed's minikube failure (pods end up on docker0 or no bridge), so instead of
// writing a half-usable CNI config we return a problem that says exactly what to fix.
import type { NodeModel } from '../../../model/types.js';
import type { IPFamily } from '../../../model/types.js';
import { canonicalCIDR, parseCIDR } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../../model/normalize/ip.js';

export const POD_CIDR_ANNOTATION = 'kube-router.io/pod-cidr';
export const POD_CIDRS_ANNOTATION = 'kube-router.io/pod-cidrs';

export type PodCidrResult =
  | { readonly ok: true; readonly cidrs: readonly string[]; readonly source: 'annotation' | 'spec'; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly warnings: readonly string[] };

export interface FamilyFlags {
  readonly enableIpv4: boolean;
  readonly enableIpv6: boolean;
}

function parseList(text: string): { cidrs: string[]; bad: string[] } {
  const cidrs: string[] = [], bad: string[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const c = canonicalCIDR(part, GO_ADDRESSES);
    if (c) cidrs.push(c); else bad.push(part);
  }
  return { cidrs, bad };
}

export function resolvePodCidrs(node: NodeModel | undefined, nodeName: string, flags: FamilyFlags): PodCidrResult {
  if (!node) {
    return { ok: false, reason: `node ${nodeName} is not in the cluster (check NODE_NAME / --hostname-override)`, warnings: [] };
  }
  const warnings: string[] = [];
  let cidrs: string[] = [];
  let source: 'annotation' | 'spec' = 'spec';
  const annText = [node.annotations[POD_CIDRS_ANNOTATION], node.annotations[POD_CIDR_ANNOTATION]].filter((v) => v !== undefined).join(',');
  if (annText.trim() !== '') {
    const { cidrs: parsed, bad } = parseList(annText);
    if (bad.length > 0) warnings.push(`ignoring invalid CIDR(s) ${JSON.stringify(bad)} in annotation ${POD_CIDRS_ANNOTATION}/${POD_CIDR_ANNOTATION} of node ${node.name}`);
    if (parsed.length > 0) { cidrs = parsed; source = 'annotation'; }
  }
  if (cidrs.length === 0) cidrs = [...node.podCIDRs];
  const wanted: IPFamily[] = [...(flags.enableIpv4 ? [4 as const] : []), ...(flags.enableIpv6 ? [6 as const] : [])];
  const familyOf = (c: string) => parseCIDR(c, GO_ADDRESSES)?.family;
  const kept = [...new Set(cidrs.filter((c) => wanted.includes(familyOf(c)!)))];
  const missing = wanted.filter((f) => !kept.some((c) => familyOf(c) === f));
  if (missing.length > 0) {
    const fam = missing.map((f) => `IPv${f}`).join(' and ');
    return {
      ok: false,
      warnings,
      reason:
        `node ${node.name} has no ${fam} pod CIDR: not writing the CNI config or setting up kube-bridge. ` +
        `Fix: run kube-controller-manager with --allocate-node-cidrs=true and --cluster-cidr=<pod range> ` +
        `so it fills node.spec.podCIDR(s), or annotate the node: kubectl annotate node ${node.name} ${POD_CIDR_ANNOTATION}=<cidr>. ` +
        `Picked up automatically once set.`,
    };
  }
  return { ok: true, cidrs: kept, source, warnings };
}
