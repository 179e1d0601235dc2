// Emission: the chains and tables of the plan, rendered from what the selection index (compiler.ts)
// knows. Pure functions of their arguments; the compiler decides *when* to call them (only for what
// changed) and keeps the results, so successive plans share unchanged chain arrays by identity.
import type { IPFamily } from '../../../model/types.js';
import { isolatedSetName, policyChainName, policySetName } from './names.js';
import type { Rule, TablePlan, TopLevelJump } from './plan.js';
import type { CompiledPolicy } from './policy.js';
import { builtinJump, inputHead, jump, matchSet, rule, topLevelHead, topLevelTail, type NamespaceJumps, type ServiceRanges } from './rules.js';

/** A namespace's two dispatch chains: jump to each policy's chain for traffic to/from the pods it selects. */
export function namespaceChains(f: IPFamily, policies: readonly CompiledPolicy[]): { ingress: Rule[]; egress: Rule[] } {
  const ingress: Rule[] = [];
  const egress: Rule[] = [];
  for (const c of policies) {
    const np = c.policy;
    const targetSet = policySetName(f, 'DST', c.targetKey);
    const who = `policy name: ${np.name} namespace ${np.namespace}`;
    for (const direction of ['ingress', 'egress'] as const) {
      if (!c[direction]) continue;
      (direction === 'ingress' ? ingress : egress).push(
        rule({
          comment: `rule to jump to ${direction} chain of ${who}`,
          matches: [matchSet(targetSet, direction === 'ingress' ? 'dst' : 'src')],
          target: jump(policyChainName(np.namespace, np.name, direction)),
          origin: { kind: 'dispatch', namespace: np.namespace, policy: np.name, direction, targetSet },
        }),
      );
    }
  }
  return { ingress, egress };
}


/** KUBE-ROUTER-INPUT/FORWARD/OUTPUT of one family: head, each namespace's jumps (in the given order), tail. */
export function topLevelChains(
  f: IPFamily,
  failClosed: boolean,
  ranges: ServiceRanges,
  podJumps: Iterable<NamespaceJumps>,
): { input: Rule[]; forward: Rule[]; output: Rule[] } {
  const head = topLevelHead(failClosed);
  const input = [...head, ...inputHead(f, ranges)];
  const forward: Rule[] = [];
  const output: Rule[] = [];
  for (const j of podJumps) {
    input.push(...j.input);
    forward.push(...j.forward);
    output.push(...j.output);
  }
  const tail = topLevelTail();
  return { input: [...input, ...tail], forward: [...head, ...forward, ...tail], output: [...head, ...output, ...tail] };
}

/** One TablePlan per family: a copy of the compiler's chains and the jumps from the built-in chains. */
const JUMPS: readonly TopLevelJump[] = (['INPUT', 'FORWARD', 'OUTPUT'] as const).map((from) => ({ from, rule: builtinJump(from) }));

export function tablePlans(
  families: readonly IPFamily[],
  chains: ReadonlyMap<IPFamily, ReadonlyMap<string, readonly Rule[]>>,
): Map<IPFamily, TablePlan> {
  const tables = new Map<IPFamily, TablePlan>();
  for (const f of families) {
    tables.set(f, { family: f, chains: new Map(chains.get(f)!), jumps: JUMPS });
  }
  return tables;
}

/** The sets whose members get less access (see FirewallPlan.denySets): isolated and namespace pod sets. */
export function denySets(families: readonly IPFamily[], namespacePodSets: Iterable<string>): Set<string> {
  return new Set([...families.flatMap((f) => [isolatedSetName(f, 'ingress'), isolatedSetName(f, 'egress')]), ...namespacePodSets]);
}
