// `explain --kernel` on a node whose agent runs the native backend (--use-nftables-for-netpol): our table
// (`nft list table inet kube-router-ts-netpol`) against the plan. nft prints rules in its own normal form
// (hex widths, merged prefixes, reordered flags), so a rule is compared by what identifies it in both:
// its comment (the renderer writes each rule's, and nft keeps it verbatim) and the chain it jumps to;
// sets are compared element by element (address ranges as numbers, so `10.0.0.0/8` equals
// `10.0.0.0-10.255.255.255`).
import { BASE_CHAINS, nftChain, nftChainRules, nftElements, nftSet, NFT_TABLE, quote, T } from '../controllers/firewall/apply/nft-render.js';
import type { FirewallPlan, Rule } from '../controllers/firewall/compile/plan.js';
import type { Exec } from '../dataplane/exec.js';
import { ipToBigInt } from '../model/normalize/ip.js';
import { parseCIDROrIP } from '../model/normalize/cidr.js';
import type { IPFamily } from '../model/types.js';
import type { KernelComparison, KernelItem } from './kernel.js';

interface NftTable {
  readonly chains: Map<string, string[]>;
  readonly sets: Map<string, string[]>;
}

/** Our table as `nft list table` prints it, or undefined when the node has none (an iptables node). */
export async function readNftTable(exec: Exec): Promise<NftTable | undefined> {
  let text: string;
  try {
    text = (await exec('nft', ['list', 'table', ...T.split(' ')])).stdout;
  } catch {
    return undefined;
  }
  return text.includes(`table ${T.split(' ')[0]} ${NFT_TABLE}`) ? parseNftTable(text) : undefined;
}

export function parseNftTable(text: string): NftTable {
  const chains = new Map<string, string[]>();
  const sets = new Map<string, string[]>();
  let chain: string[] | undefined;
  let set: string[] | undefined;
  let elements: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (elements !== undefined) {
      elements += ` ${line}`;
      if (line.includes('}')) {
        set!.push(...splitElements(elements));
        elements = undefined;
      }
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^chain (\S+) \{$/.exec(line))) chains.set(m[1]!, (chain = []));
    else if ((m = /^set (\S+) \{$/.exec(line))) sets.set(m[1]!, (set = []));
    else if (line === '}') chain = set = undefined;
    else if (set && line.startsWith('elements = {')) {
      elements = line.slice('elements = {'.length);
      if (line.includes('}')) {
        set.push(...splitElements(elements));
        elements = undefined;
      }
    } else if (chain && line && !/^(type|policy) /.test(line)) chain.push(line);
  }
  return { chains, sets };
}

function splitElements(text: string): string[] {
  return text
    .replace(/}.*$/, '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
}

/** What identifies a rule in both forms: its comment, and the chain it jumps to if it jumps. */
function ruleKey(comment: string, jump: string | undefined): string {
  return jump ? `${comment} -> ${jump}` : comment;
}

function kernelRuleKey(line: string): string {
  const comment = /comment (".*")$/.exec(line)?.[1] ?? '(no comment)';
  return ruleKey(comment, /(?:^| )jump (\S+)/.exec(line)?.[1]);
}

function planRuleKey(r: Rule, f: IPFamily): string {
  return ruleKey(quote(r.comment), r.target.kind === 'jump' ? nftChain(r.target.chain, f) : undefined);
}

/** An element as the numbers it covers ("a", "a-b", "a/len"; concatenations as they are). */
function elementKey(e: string): string {
  if (e.includes(' . ')) return e.replace(/\s+/g, ' ');
  const [lo, hi] = e.split('-');
  const a = parseCIDROrIP(lo!);
  if (!a) return e;
  const start = ipToBigInt(a);
  if (hi !== undefined) {
    const b = parseCIDROrIP(hi);
    return b ? `${start}-${ipToBigInt(b)}` : e;
  }
  const bits = BigInt(a.family === 4 ? 32 : 128);
  return `${start}-${start + (1n << (bits - BigInt(a.prefix))) - 1n}`;
}

export function compareNftNode(t: NftTable, node: string, plan: FirewallPlan, family: IPFamily, chains: ReadonlySet<string>, hooks: ReadonlySet<string>): KernelComparison {
  const table = plan.tables.get(family)!;
  const items: KernelItem[] = [];
  for (const j of table.jumps) {
    if (!hooks.has(j.from)) continue;
    const base = BASE_CHAINS[j.from];
    const mine = (t.chains.get(base) ?? []).find((l) => l.startsWith(`meta nfproto ipv${family} `));
    const want = planRuleKey(j.rule, family);
    const have = mine ? kernelRuleKey(mine) : undefined;
    items.push({ kind: 'jump', name: `${base} (ipv${family})`, same: have === want, detail: have === want ? want : `plan ${JSON.stringify(want)}, kernel ${JSON.stringify(have ?? null)}` });
  }
  const setNames = new Set<string>();
  for (const c of chains) {
    const rules = table.chains.get(c) ?? [];
    const name = nftChain(c, family);
    const have = t.chains.get(name)?.map(kernelRuleKey);
    // As rendered (a policy rule's mark-then-return pair is one nft rule), keyed like the kernel's lines.
    const want = nftChainRules(rules, family).map(kernelRuleKey);
    items.push(compareKeys('chain', name, want, have, 'rules (by comment and jump)'));
    for (const r of rules) for (const m of r.matches) if (m.kind === 'set') setNames.add(m.set);
  }
  for (const s of [...setNames].sort()) {
    const spec = plan.sets.get(s);
    const name = nftSet(s);
    const have = t.sets.get(name);
    if (!spec) items.push({ kind: 'set', name, same: false, detail: 'not in the plan' });
    else if (!have) items.push({ kind: 'set', name, same: false, detail: 'missing in the kernel' });
    else items.push(compareElements(name, nftElements(spec).map(elementKey), have.map(elementKey)));
  }
  return { node, backend: 'nftables', items };
}

function compareKeys(kind: 'chain', name: string, want: readonly string[], have: readonly string[] | undefined, what: string): KernelItem {
  if (!have) return { kind, name, same: false, detail: 'missing in the kernel' };
  const n = Math.max(want.length, have.length);
  for (let i = 0; i < n; i++) {
    if (want[i] !== have[i]) {
      return { kind, name, same: false, detail: `${want.length} ${what} in the plan, ${have.length} in the kernel; rule ${i + 1} differs: plan ${JSON.stringify(want[i] ?? null)}, kernel ${JSON.stringify(have[i] ?? null)}` };
    }
  }
  return { kind, name, same: true, detail: `${want.length} ${what}` };
}

function compareElements(name: string, want: readonly string[], have: readonly string[]): KernelItem {
  const w = new Set(want);
  const h = new Set(have);
  const missing = [...w].filter((e) => !h.has(e));
  const extra = [...h].filter((e) => !w.has(e));
  if (missing.length === 0 && extra.length === 0) return { kind: 'set', name, same: true, detail: `${w.size} elements` };
  return { kind: 'set', name, same: false, detail: `${missing.length} missing, ${extra.length} extra in the kernel` };
}
