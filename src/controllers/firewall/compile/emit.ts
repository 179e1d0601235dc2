// Emission: the chains and tables of the plan, rendered from what the selection index (compiler.ts)
// knows. Pure functions of their arguments; the compiler decides *when* to call them (only for what
// changed) and keeps the results, so successive plans share unchanged chain arrays by identity.
import type { IPFamily } from '../../../model/types.js';
import { isolatedSetName, policyChainName, policySetName } from './names.js';
import type { TablePlan, TopLevelJump } from './plan.js';
import type { CompiledPolicy } from './policy.js';
import { inputHead, matchSet, rule, topLevelHead, topLevelTail, type PodJumps, type ServiceRanges } from './rules.js';

/** A namespace's two dispatch chains: jump to each policy's chain for traffic to/from the pods it selects. */
export function namespaceChains(f: IPFamily, policies: readonly CompiledPolicy[]): { ingress: string[]; egress: string[] } {
  const ingress: string[] = [];
  const egress: string[] = [];
  for (const c of policies) {
    const np = c.policy;
    const target = policySetName(f, 'DST', c.targetKey);
    const who = `policy name: ${np.name} namespace ${np.namespace}`;
    if (c.ingress) {
      ingress.push(rule({ comment: `rule to jump to ingress chain of ${who}`, matches: [matchSet(target, 'dst')], target: policyChainName(np.namespace, np.name, 'ingress') }));
    }
    if (c.egress) {
      egress.push(rule({ comment: `rule to jump to egress chain of ${who}`, matches: [matchSet(target, 'src')], target: policyChainName(np.namespace, np.name, 'egress') }));
    }
  }
  return { ingress, egress };
}


/** KUBE-ROUTER-INPUT/FORWARD/OUTPUT of one family: head, every local pod's jumps (in the given order), tail. */
export function topLevelChains(
  f: IPFamily,
  failClosed: boolean,
  ranges: ServiceRanges,
  podJumps: Iterable<PodJumps>,
): { input: string[]; forward: string[]; output: string[] } {
  const head = topLevelHead(failClosed);
  const input = [...head, ...inputHead(f, ranges)];
  const forward: string[] = [];
  const output: string[] = [];
  for (const j of podJumps) {
    input.push(...j.input);
    forward.push(...j.forward);
    output.push(...j.output);
  }
  const tail = topLevelTail();
  return { input: [...input, ...tail], forward: [...head, ...forward, ...tail], output: [...head, ...output, ...tail] };
}

/** One TablePlan per family: a copy of the compiler's chains and the jumps from the built-in chains. */
export function tablePlans(families: readonly IPFamily[], chains: ReadonlyMap<IPFamily, ReadonlyMap<string, readonly string[]>>): Map<IPFamily, TablePlan> {
  const tables = new Map<IPFamily, TablePlan>();
  for (const f of families) {
    const jumps: TopLevelJump[] = (['INPUT', 'FORWARD', 'OUTPUT'] as const).map((from) => ({
      from,
      rule: rule({ comment: `kube-router netpol - jump to KUBE-ROUTER-${from}`, target: `KUBE-ROUTER-${from}` }),
    }));
    tables.set(f, { family: f, chains: new Map(chains.get(f)!), jumps });
  }
  return tables;
}

/** The sets whose members get less access (see FirewallPlan.denySets). */
export function denySets(families: readonly IPFamily[]): Set<string> {
  return new Set(families.flatMap((f) => [isolatedSetName(f, 'ingress'), isolatedSetName(f, 'egress')]));
}
