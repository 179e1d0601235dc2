// Plan -> native nftables (--use-nftables-for-netpol): one `nft -f` transaction per sync, in our own
// table only (inet kube-router-ts-netpol). The first sync after start or after a failure replaces the
// whole table in one transaction (`add table; delete table; add table ...`, atomic, so packets see the
// old rules or the new, never none); later syncs carry only what changed against the state remembered
// from the last successful transaction (chains whose rules differ, set elements added or removed), as
// kube-proxy's nftables mode does. A new pod is set elements only: no rule and no jump changes, so the
// kernel does not re-validate the jump graph (it does for any rule or jump-verdict element). No narrowing/widening order is needed: the kernel
// commits the whole transaction or nothing.
import type { Exec } from '../../../dataplane/exec.js';
import type { IPFamily } from '../../../model/types.js';
import type { FirewallPlan, SetSpec } from '../compile/plan.js';
import { BASE_CHAINS, NFT_TABLE, nftChain, nftChainRules, nftElements, nftElementsOf, nftRule, nftSet, nftSetType, setFamily, T } from './nft-render.js';
import type { NftContext, NftElementOp } from '../../../dataplane/netfilter/native/addon.js';

export interface NftApplierOptions {
  readonly exec: Exec;
  readonly families: readonly IPFamily[];
  /** The nft binary (tests may point it elsewhere). */
  readonly nftBinary?: string;
  readonly timeoutMs?: number;
  /**
   * A resident libnftables context (dataplane/netfilter/native) for the sync transactions: the same text, no
   * process spawned. Without one, `nft -f -` runs them.
   */
  readonly context?: NftContext;
}

export interface NftApplyReport {
  readonly changed: boolean;
  readonly full: boolean;
  readonly chainsReplaced: string[];
  readonly chainsDeleted: string[];
  readonly setsChanged: string[];
  readonly setsDeleted: string[];
  readonly elementsAdded: number;
  readonly elementsDeleted: number;
  /** Lines of the transaction (0 when nothing changed). */
  readonly commands: number;
  /** A cold load sent as two transactions side by side (sets and elements; chains and rules). */
  readonly split: boolean;
  /** Address elements alone, written as our own netlink batch instead of through libnftables. */
  readonly direct: boolean;
  readonly timings: { nftMs: number };
  readonly text: string;
}

interface AppliedSet {
  readonly spec: SetSpec;
  readonly decl: string;
  /** Edited in place by deltas; a failed transaction discards all of this state (full load next). */
  readonly elements: Set<string>;
}

const CHUNK = 2000;
/** Above this many addresses a change goes through libnftables (our direct batch is built synchronously). */
const DIRECT_MAX = 512;
const BASE_PRIORITY = 'filter';

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

function sameLines(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === b) return true;
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NftFirewallApplier {
  private chains = new Map<string, readonly string[]>();
  private sets = new Map<string, AppliedSet>();
  private known = false;

  constructor(private readonly o: NftApplierOptions) {}

  private get nft(): string {
    return this.o.nftBinary ?? 'nft';
  }

  /** Forget what we believe the kernel holds: the next apply replaces the whole table. */
  invalidate(): void {
    this.known = false;
  }

  /** What the applier believes the kernel holds. */
  state(): { chains: number; sets: number; elements: number } {
    let elements = 0;
    for (const s of this.sets.values()) elements += s.elements.size;
    return { chains: this.chains.size, sets: this.sets.size, elements };
  }

  async apply(plan: FirewallPlan): Promise<NftApplyReport> {
    try {
      return await this.applyPlan(plan);
    } catch (err) {
      this.known = false;
      throw err;
    }
  }

  /** Removes our table (both families), whatever it holds. Nothing else is touched. */
  async cleanup(): Promise<void> {
    // `add` first makes the delete succeed when the table does not exist; both in one transaction, through
    // the resident context when there is one (no process start).
    const text = `add table ${T}\ndelete table ${T}\n`;
    if (this.o.context) await this.o.context.run(text);
    else await this.o.exec(this.nft, ['-f', '-'], { input: text, timeoutMs: this.o.timeoutMs });
    this.known = false;
    this.chains = new Map();
    this.sets = new Map();
  }

  /** Whether our table exists (read-only). */
  async exists(): Promise<boolean> {
    // Through the resident context when there is one: a process start costs more than the listing.
    const stdout = this.o.context ? await this.o.context.run('list tables') : (await this.o.exec(this.nft, ['list', 'tables'], { timeoutMs: this.o.timeoutMs })).stdout;
    return stdout.split('\n').some((l) => l.trim() === `table ${T}`);
  }

  /** Our chains as nft statements (the base chains' jumps included): the render, memoised per rule and chain. */
  private desiredChains(plan: FirewallPlan): Map<string, readonly string[]> {
    const chains = new Map<string, readonly string[]>();
    const base: Record<string, string[]> = { input: [], forward: [], output: [] };
    for (const f of this.o.families) {
      const table = plan.tables.get(f);
      if (!table) continue;
      for (const [name, rules] of table.chains) chains.set(nftChain(name, f), nftChainRules(rules, f));
      for (const j of table.jumps) base[BASE_CHAINS[j.from]]!.push(`meta nfproto ipv${f} ${nftRule(j.rule, f)}`);
    }
    for (const [name, rules] of Object.entries(base)) chains.set(name, rules);
    return chains;
  }

  private desiredSets(plan: FirewallPlan): Map<string, { spec: SetSpec; decl: string }> {
    const sets = new Map<string, { spec: SetSpec; decl: string }>();
    for (const [name, spec] of plan.sets) sets.set(nftSet(name), { spec, decl: nftSetType(spec) });
    return sets;
  }

  private chainDecl(name: string): string {
    const hook = Object.values(BASE_CHAINS).find((b) => b === name);
    return hook ? `add chain ${T} ${name} { type filter hook ${hook} priority ${BASE_PRIORITY}; policy accept; }` : `add chain ${T} ${name}`;
  }

  private async applyPlan(plan: FirewallPlan): Promise<NftApplyReport> {
    const want = { sets: this.desiredSets(plan) } as { sets: Map<string, { spec: SetSpec; decl: string }>; chains: Map<string, readonly string[]> };
    const full = !this.known;
    const head: string[] = [];
    const elems: string[] = [];
    const rules: string[] = [];
    const tail: string[] = [];
    const chainsReplaced: string[] = [];
    const chainsDeleted: string[] = [];
    const setsChanged: string[] = [];
    const setsDeleted: string[] = [];
    let elementsAdded = 0;
    let elementsDeleted = 0;
    const cur: { chains: ReadonlyMap<string, readonly string[]>; sets: ReadonlyMap<string, AppliedSet> } = full
      ? { chains: new Map(), sets: new Map() }
      : { chains: this.chains, sets: this.sets };
    if (full) head.push(`add table ${T}`, `delete table ${T}`, `add table ${T}`);
    /** `add set` lines (after head's deletions): a cold load sends them with the elements and with the rules. */
    const setDecls: string[] = [];
    const chainDecls: string[] = [];
    /** The same element changes as address ops, while every change is one (`direct` stays true). */
    const ops: NftElementOp[] = [];
    let direct = !full;
    let directCount = 0;
    const addressOps = (set: string, spec: SetSpec, del: readonly string[], add: readonly string[]): void => {
      const family = setFamily(spec);
      if (del.length > 0) ops.push({ delete: true, family, set, addresses: del });
      if (add.length > 0) ops.push({ delete: false, family, set, addresses: add });
      directCount += del.length + add.length;
    };

    const nextSets = new Map<string, AppliedSet>();
    for (const [name, { spec, decl }] of want.sets) {
      const old = cur.sets.get(name);
      if (old && old.spec === spec && old.decl === decl) {
        nextSets.set(name, old);
        continue;
      }
      const delta = plan.setDeltas.get(spec.name);
      if (old && delta && old.spec === delta.base && old.decl === decl && spec.type !== 'hash:net') {
        // We committed the delta's base: its elements alone, no whole-set diff.
        const del = nftElementsOf(spec.type, delta.removed);
        const add = nftElementsOf(spec.type, delta.added);
        if (spec.type === 'hash:ip') addressOps(name, spec, del, add);
        else direct = false;
        for (const e of del) old.elements.delete(e);
        for (const e of add) old.elements.add(e);
        for (const c of chunks(del)) elems.push(`delete element ${T} ${name} { ${c.join(', ')} }`);
        for (const c of chunks(add)) elems.push(`add element ${T} ${name} { ${c.join(', ')} }`);
        elementsAdded += add.length;
        elementsDeleted += del.length;
        if (add.length + del.length > 0) setsChanged.push(name);
        nextSets.set(name, { spec, decl, elements: old.elements });
        continue;
      }
      const elements = new Set(nftElements(spec));
      nextSets.set(name, { spec, decl, elements });
      let add: string[];
      if (!old || old.decl !== decl || spec.type !== 'hash:ip') direct = false;
      if (!old || old.decl !== decl) {
        if (old) head.push(`delete set ${T} ${name}`);
        setDecls.push(`add set ${T} ${name} { ${decl} }`);
        add = [...elements];
      } else if (spec.type === 'hash:net') {
        // Interval elements are ranges cut from each other: rewrite the set rather than edit ranges.
        elems.push(`flush set ${T} ${name}`);
        elementsDeleted += old.elements.size;
        add = [...elements];
      } else {
        const del = [...old.elements].filter((e) => !elements.has(e));
        add = [...elements].filter((e) => !old.elements.has(e));
        if (spec.type === 'hash:ip') addressOps(name, spec, del, add);
        else direct = false;
        for (const c of chunks(del)) elems.push(`delete element ${T} ${name} { ${c.join(', ')} }`);
        elementsDeleted += del.length;
      }
      for (const c of chunks(add)) elems.push(`add element ${T} ${name} { ${c.join(', ')} }`);
      elementsAdded += add.length;
      if (old?.elements.size !== elements.size || add.length > 0) setsChanged.push(name);
    }
    const staleSets = [...cur.sets.keys()].filter((n) => !want.sets.has(n));

    // Cold load (our table absent: first start, after a cleanup): nothing of ours filters, so there is
    // nothing to replace atomically. The sets with their elements go first, as a transaction of their own
    // that libnftables parses on a worker thread while the chains are rendered here; the chains with their
    // rules (and the set declarations they name) follow as a second one beside it. Either order of commit
    // is no wider than no table (rules first: empty sets, the fail-closed TAIL rejects every local pod
    // until the elements land). A failure leaves the next sync a full, atomic replace.
    const t0 = performance.now();
    let setsFirst: Promise<unknown> | undefined;
    const beside = full && this.o.context && elems.length > 0 ? this.o.context.beside?.() : undefined;
    if (beside && !(await this.exists())) {
      setsFirst = beside.run(`${[`add table ${T}`, ...setDecls, ...elems].join('\n')}\n`);
      setsFirst.catch(() => undefined);
    }
    want.chains = this.desiredChains(plan);

    // Chains first declared (empty), so rules may jump to them in any order below.
    for (const name of want.chains.keys()) if (!cur.chains.has(name)) chainDecls.push(this.chainDecl(name));

    for (const [name, lines] of want.chains) {
      const old = cur.chains.get(name);
      if (sameLines(old, lines)) continue;
      if (old) rules.push(`flush chain ${T} ${name}`);
      for (const l of lines) rules.push(`add rule ${T} ${name} ${l}`);
      chainsReplaced.push(name);
    }
    const staleChains = [...cur.chains.keys()].filter((n) => !want.chains.has(n));
    // Rules may jump between stale chains: empty them all before deleting any.
    for (const n of staleChains) tail.push(`flush chain ${T} ${n}`);
    for (const n of staleChains) tail.push(`delete chain ${T} ${n}`);
    for (const n of staleSets) tail.push(`delete set ${T} ${n}`);
    chainsDeleted.push(...staleChains);
    setsDeleted.push(...staleSets);

    const lines = [...head, ...setDecls, ...chainDecls, ...elems, ...rules, ...tail];
    // Address elements and nothing else (a new pod, a label change): our own batch, all or nothing as the
    // nft transaction would be, without its parse and cache refresh.
    const useDirect = direct && ops.length > 0 && directCount <= DIRECT_MAX && lines.length === elems.length;
    let nftMs = 0;
    const split = setsFirst !== undefined;
    const text = lines.length > 0 ? `${lines.join('\n')}\n` : '';
    if (setsFirst && this.o.context) {
      const chains = this.o.context.run(`${[`add table ${T}`, ...setDecls, ...chainDecls, ...rules, ...tail].join('\n')}\n`);
      const results = await Promise.allSettled([setsFirst, chains]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      nftMs = performance.now() - t0;
    } else if (text && useDirect && this.o.context?.elements) {
      const t1 = performance.now();
      await this.o.context.elements(NFT_TABLE, ops);
      nftMs = performance.now() - t1;
    } else if (text) {
      const t1 = performance.now();
      if (this.o.context) await this.o.context.run(text);
      else await this.o.exec(this.nft, ['-f', '-'], { input: text, timeoutMs: this.o.timeoutMs });
      nftMs = performance.now() - t1;
    }
    this.chains = new Map(want.chains);
    this.sets = nextSets;
    this.known = true;
    return {
      changed: lines.length > 0,
      full,
      chainsReplaced,
      chainsDeleted,
      setsChanged,
      setsDeleted,
      elementsAdded,
      elementsDeleted,
      commands: lines.length,
      split,
      direct: useDirect && this.o.context?.elements !== undefined,
      timings: { nftMs },
      text,
    };
  }
}
