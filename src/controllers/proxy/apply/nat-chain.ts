// The proxy's source NAT as iptables rule specs in one nat chain of its own, jumped from POSTROUTING for
// IPVS-forwarded traffic only; the same chain, jump and order in ip6tables for IPv6 services. Pure: rendering and the "is our jump there" check; the applier restores.
import { quoteComment } from '../../../dataplane/iptables/restore.js';
import { natRuleFamily, type NatRule } from '../compile/plan.js';
import type { IPFamily } from '../../../model/types.js';

export const NAT_CHAIN = 'KUBE-ROUTER-IPVS-NAT';
/** The POSTROUTING rule that sends IPVS traffic (original direction) through our chain. */
export const NAT_JUMP = `-m ipvs --ipvs --vdir ORIGINAL -m comment --comment ${quoteComment('kube-router-ts service NAT')} -j ${NAT_CHAIN}`;

const host = (ip: string) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`);

/**
 * Hairpin rules first (their source is a pod), then: traffic from or to this node's pods is left alone
 * (pod-to-service keeps the client's IP, and a local endpoint's replies pass this node anyway), and the
 * rest of what IPVS forwarded in NAT mode leaves with the node's IP so replies come back through it.
 * With `family`, only the rules of that family (the chain of iptables or of ip6tables).
 */
export function natChainRules(all: readonly NatRule[], family?: IPFamily): string[] {
  const rules = family === undefined ? all : all.filter((r) => natRuleFamily(r) === family);
  const out: string[] = [];
  for (const r of rules) {
    if (r.kind !== 'hairpin') continue;
    out.push(`-s ${host(r.endpoint)} -d ${host(r.endpoint)} -p ${r.protocol} -m ipvs --vaddr ${host(r.vip)} --vport ${r.port} -m comment --comment ${quoteComment(`hairpin ${r.vip}:${r.port}`)} -j SNAT --to-source ${r.vip}`);
  }
  for (const r of rules) {
    if (r.kind !== 'masquerade') continue;
    for (const c of r.exceptCIDRs) out.push(`-s ${c} -j RETURN`, `-d ${c} -j RETURN`);
    out.push(`-m ipvs --vmethod MASQ -m comment --comment ${quoteComment('masquerade IPVS traffic')} -j SNAT --to-source ${r.toSource}`);
  }
  return out;
}
