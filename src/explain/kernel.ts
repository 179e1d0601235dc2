// `explain --kernel`: the live side. For each node on the path it reads the filter table
// (`iptables-save`/`ip6tables-save` of the backend the agent would pick, by the same detectBackend) and
// `ipset save`, and compares, item by item, what the trace walked with what the kernel holds: the jump
// that must be rule 1 of the built-in chain, every chain the trace entered (all of its rules, as text:
// renderChain is what the applier writes), and every set those chains read (entries as sets). When all
// are identical, the kernel evaluates exactly the rules and sets the verdict came from; when not, the
// differences say where the node has not converged (or something else edited our chains). It does not
// inject packets: a live packet trace (nft monitor trace, TRACE target) would need a sender and rules of
// its own in the node's netns, and would show the same chains once these compare equal. A node on the
// native backend is compared in kernel-nft.ts.
import { renderChain, renderRule } from '../controllers/firewall/apply/render.js';
import type { FirewallPlan } from '../controllers/firewall/compile/plan.js';
import { binaries, detectBackend } from '../dataplane/iptables/backend.js';
import { parseSave } from '../dataplane/iptables/save.js';
import { parseIpsetSave } from '../dataplane/ipset/ipset.js';
import type { Exec } from '../dataplane/exec.js';
import type { IPFamily } from '../model/types.js';
import { errorLine, KrtError } from '../observe/errors.js';
import type { Explanation } from './explain.js';
import { compareNftNode, readNftTable } from './kernel-nft.js';

export interface KernelItem {
  readonly kind: 'jump' | 'chain' | 'set';
  readonly name: string;
  readonly same: boolean;
  readonly detail: string;
}

export interface KernelComparison {
  readonly node: string;
  readonly backend?: string;
  readonly items: readonly KernelItem[];
  readonly error?: string;
}

/** Where a node's kernel is: an Exec that runs commands there, or undefined when it cannot be reached. */
export type KernelAccess = (node: string) => Exec | undefined;

function compareChain(name: string, want: readonly string[], have: readonly string[] | undefined): KernelItem {
  if (!have) return { kind: 'chain', name, same: false, detail: 'missing in the kernel' };
  const n = Math.max(want.length, have.length);
  for (let i = 0; i < n; i++) {
    if (want[i] !== have[i]) {
      return {
        kind: 'chain',
        name,
        same: false,
        detail: `${want.length} rules in the plan, ${have.length} in the kernel; rule ${i + 1} differs: plan ${JSON.stringify(want[i] ?? null)}, kernel ${JSON.stringify(have[i] ?? null)}`,
      };
    }
  }
  return { kind: 'chain', name, same: true, detail: `${want.length} rules` };
}

function compareSet(name: string, want: readonly string[] | undefined, have: ReadonlySet<string> | undefined): KernelItem {
  if (!want) return { kind: 'set', name, same: false, detail: 'not in the plan' };
  if (!have) return { kind: 'set', name, same: false, detail: 'missing in the kernel' };
  const missing = want.filter((e) => !have.has(e));
  const extra = [...have].filter((e) => !want.includes(e));
  if (missing.length === 0 && extra.length === 0) return { kind: 'set', name, same: true, detail: `${want.length} entries` };
  const show = (xs: string[]): string => xs.slice(0, 5).join(', ') + (xs.length > 5 ? `, ... (${xs.length})` : '');
  return { kind: 'set', name, same: false, detail: [missing.length ? `missing ${show(missing)}` : '', extra.length ? `extra ${show(extra)}` : ''].filter(Boolean).join('; ') };
}

async function compareNode(exec: Exec, node: string, plan: FirewallPlan, family: IPFamily, chains: ReadonlySet<string>, hooks: ReadonlySet<string>): Promise<KernelComparison> {
  // A node on the native backend holds our nft table (and none of our iptables chains).
  const nft = await readNftTable(exec);
  if (nft) return compareNftNode(nft, node, plan, family, chains, hooks);
  const choice = await detectBackend(exec, 'auto');
  const save = (await exec(binaries(choice.backend, family).save, ['-t', 'filter'])).stdout;
  const filter = parseSave(save).get('filter');
  const table = plan.tables.get(family)!;
  const items: KernelItem[] = [];
  for (const j of table.jumps) {
    if (!hooks.has(j.from)) continue;
    const first = filter?.chains.get(j.from)?.rules[0];
    const want = renderRule(j.rule);
    items.push({ kind: 'jump', name: `${j.from} rule 1`, same: first === want, detail: first === want ? want : `plan ${JSON.stringify(want)}, kernel ${JSON.stringify(first ?? null)}` });
  }
  const setNames = new Set<string>();
  for (const c of chains) {
    const rules = table.chains.get(c) ?? [];
    items.push(compareChain(c, renderChain(rules), filter?.chains.get(c)?.rules));
    for (const r of rules) for (const m of r.matches) if (m.kind === 'set') setNames.add(m.set);
  }
  const sets = parseIpsetSave((await exec('ipset', ['save'])).stdout, (n) => setNames.has(n));
  for (const s of [...setNames].sort()) items.push(compareSet(s, plan.sets.get(s)?.entries, sets.get(s)?.entries));
  return { node, backend: choice.backend, items };
}

/** Compares the plan's part on each traced node with its kernel; a node it cannot read says why. */
export async function compareWithKernel(e: Explanation, plans: (node: string) => FirewallPlan | undefined, access: KernelAccess): Promise<KernelComparison[]> {
  const byNode = new Map<string, { chains: Set<string>; hooks: Set<string> }>();
  for (const p of e.passes) {
    if (!p.trace) continue;
    const n = byNode.get(p.node) ?? { chains: new Set(), hooks: new Set() };
    for (const c of p.trace.chains) n.chains.add(c);
    n.hooks.add(p.hook);
    byNode.set(p.node, n);
  }
  const out: KernelComparison[] = [];
  for (const [node, want] of byNode) {
    const exec = access(node);
    const plan = plans(node);
    if (!exec || !plan) {
      out.push({ node, items: [], error: errorLine(new KrtError('KRT_EXPLAIN_KERNEL', `the kernel of ${node} is not reachable from here (run explain on ${node}, or give --lab)`)) });
      continue;
    }
    try {
      out.push(await compareNode(exec, node, plan, e.family, want.chains, want.hooks));
    } catch (err) {
      out.push({ node, items: [], error: errorLine(new KrtError('KRT_EXPLAIN_KERNEL', `reading the kernel of ${node} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })) });
    }
  }
  return out;
}
