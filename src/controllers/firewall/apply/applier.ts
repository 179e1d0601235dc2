// Plan -> kernel, incrementally: one `ipset restore` (sets must exist before rules name them), one
// `iptables-restore --noflush` per family touching only the chains that differ from what the kernel
// holds, then one more `ipset restore` for "programmed" set additions and stale-set destruction (sets
// can only go once no rule references them). State is read from the kernel at start and after any
// failure, so a restarted agent reconciles in place and a failed apply is retried from the truth.
import { binaries, type BackendName, type IptablesBinaries } from '../../../dataplane/iptables/backend.js';
import { chainEdit, fullCacheWorthIt, isEmptyScript, renderRestore, type ChainEdit, type RestoreScript } from '../../../dataplane/iptables/restore.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import { createSet, maxelemFor, parseIpsetSave, setTransition, type SavedSet, type SetDiffStats, type SetSpec as DataplaneSetSpec } from '../../../dataplane/ipset/ipset.js';
import type { SetSpec } from '../compile/plan.js';
import type { Exec } from '../../../dataplane/exec.js';
import type { IPFamily } from '../../../model/types.js';
import { isOurChain, isOurSet, localPodsSetName, tmpSetName } from '../compile/names.js';
import type { FirewallPlan } from '../compile/plan.js';
import { renderChain, renderRule } from './render.js';
import type { IpsetContext } from '../../../dataplane/netfilter/native/addon.js';

const BUILTINS = ['INPUT', 'FORWARD', 'OUTPUT'] as const;
type Builtin = (typeof BUILTINS)[number];

export interface ApplierOptions {
  readonly exec: Exec;
  readonly backend: BackendName;
  readonly families: readonly IPFamily[];
  /** Override the iptables binaries (fault injection in tests). */
  readonly binaries?: (family: IPFamily) => IptablesBinaries;
  readonly ipsetBinary?: string;
  readonly timeoutMs?: number;
  /** iptables-nft's one-fetch cache for big restores (restore.ts listFirst): by size (default), or forced. */
  readonly fullCache?: 'auto' | 'always' | 'never';
  /** A resident libipset session (dataplane/netfilter/native) for small ipset batches; without it, `ipset restore`. */
  readonly ipsetContext?: IpsetContext;
}

/** Above this many lines an ipset batch goes to `ipset restore` (one netlink batch) rather than the session. */
const RESIDENT_MAX_LINES = 2000;

export interface ApplyReport {
  readonly changed: boolean;
  readonly chainsReplaced: string[];
  readonly chainsEdited: string[];
  readonly chainsDeleted: string[];
  readonly jumpsFixed: number;
  readonly setsChanged: string[];
  readonly setsDestroyed: string[];
  readonly setStats: SetDiffStats;
  readonly timings: {
    ipsetMs: number;
    iptablesMs: Partial<Record<IPFamily, number>>;
    postMs: number;
    readMs: number;
    fillMs?: number;
    /** How the cold fill went in, and why the netlink writer was not enough if it was not. */
    fillVia?: 'netlink' | 'ipset restore';
    fillFallback?: string;
  };
  /** The restore inputs, for -v 2 logging. */
  readonly texts: { ipset: string; iptables: Partial<Record<IPFamily, string>>; post: string };
}

interface KernelTable {
  chains: Map<string, readonly string[]>;
  builtins: Map<Builtin, string[]>;
  /** Rules of the table outside our chains, as last read (sizes iptables-nft's full-table fetch). */
  foreignRules: number;
}

export class FirewallApplier {
  private tables = new Map<IPFamily, KernelTable>();
  private sets = new Map<string, SavedSet>();
  /** The spec objects last applied in full: an identical object in the next plan needs no diff. */
  private appliedSpecs = new Map<string, SetSpec>();
  private known = false;
  /** A kernel read started ahead of the apply that needs it (prefetch). */
  private reading: Promise<void> | undefined;
  /** Whether each family's restore binary accepts a leading `-S` (probed once; a failed probe is asked again). */
  private readonly listProbe = new Map<IPFamily, Promise<boolean>>();

  constructor(private readonly o: ApplierOptions) {}

  private bin(f: IPFamily): IptablesBinaries {
    return this.o.binaries?.(f) ?? binaries(this.o.backend, f);
  }

  private get ipset(): string {
    return this.o.ipsetBinary ?? 'ipset';
  }

  /** Forget what the kernel holds: the next apply reads it again (a periodic full sync). */
  invalidate(): void {
    this.known = false;
    this.reading = undefined;
  }

  /**
   * When the next apply must read the kernel (the first sync, after a failure or invalidate), starts the
   * reads (and on iptables-nft the `-S` probe) now, so they run in their own processes while the caller
   * compiles the plan. The apply waits for them; their errors surface there. Otherwise nothing.
   */
  prefetch(): void {
    if (this.known || this.reading) return;
    this.reading = this.readKernel();
    this.reading.catch(() => undefined);
    // A restore after a kernel read is often big (the first load): it will want the probe's answer.
    if (this.o.backend === 'nft' && (this.o.fullCache ?? 'auto') !== 'never') for (const f of this.o.families) void this.canListFirst(f);
  }

  /** Reads our chains, the built-in chains and our sets from the kernel (the saves run side by side). */
  async readKernel(): Promise<void> {
    const tables = new Map<IPFamily, KernelTable>();
    const ipsetSave = this.o.exec(this.ipset, ['save'], { timeoutMs: this.o.timeoutMs });
    ipsetSave.catch(() => undefined);
    const saves = this.o.families.map((f) => this.o.exec(this.bin(f).save, ['-t', 'filter'], { timeoutMs: this.o.timeoutMs }));
    for (const p of saves) p.catch(() => undefined);
    for (const [i, f] of this.o.families.entries()) {
      const { stdout } = await saves[i]!;
      const filter = parseSave(stdout).get('filter');
      const t: KernelTable = { chains: new Map(), builtins: new Map(), foreignRules: 0 };
      for (const b of BUILTINS) t.builtins.set(b, filter?.chains.get(b)?.rules ?? []);
      for (const [name, c] of filter?.chains ?? []) {
        if (isOurChain(name)) t.chains.set(name, c.rules);
        else t.foreignRules += c.rules.length;
      }
      tables.set(f, t);
    }
    const { stdout } = await ipsetSave;
    this.sets = parseIpsetSave(stdout, isOurSet);
    this.appliedSpecs = new Map();
    this.tables = tables;
    this.known = true;
  }

  /** What the applier believes the kernel holds (tests, metrics). */
  state(): { chains: number; sets: number } {
    let chains = 0;
    for (const t of this.tables.values()) chains += t.chains.size;
    return { chains, sets: this.sets.size };
  }

  async apply(plan: FirewallPlan): Promise<ApplyReport> {
    const timings: ApplyReport['timings'] = { ipsetMs: 0, iptablesMs: {}, postMs: 0, readMs: 0 };
    try {
      if (!this.known) {
        const t0 = performance.now();
        const reading = this.reading ?? this.readKernel();
        this.reading = undefined;
        await reading;
        timings.readMs = performance.now() - t0;
      }
      return await this.applyKnown(plan, timings);
    } catch (err) {
      // Whatever happened, the kernel is the truth again next time (ipset restore is not atomic).
      this.known = false;
      this.reading = undefined;
      throw err;
    }
  }

  private async runIpset(lines: string[]): Promise<string> {
    if (lines.length === 0) return '';
    const text = `${lines.join('\n')}\n`;
    // Small batches (a pod, a label) through the resident session: one netlink message per line costs
    // less than the spawn. Big ones (a full load) through `ipset restore`, which batches messages.
    if (this.o.ipsetContext && lines.length <= RESIDENT_MAX_LINES) this.o.ipsetContext.run(lines);
    else await this.o.exec(this.ipset, ['-exist', 'restore'], { input: text, timeoutMs: this.o.timeoutMs });
    return text;
  }

  /**
   * The cold fill (adds into sets just created): through the resident session's netlink writer when there
   * is one (no spawn, no per-entry name lookups: ~45 ms for 40,000 entries against ~350 for `ipset
   * restore`), else `ipset restore`. Should the kernel refuse the writer's messages, `ipset restore` runs
   * the same lines (all adds, -exist: what went in stays, the rest follows) and says why if it fails too.
   */
  private async runFillLines(lines: string[], timings: ApplyReport['timings']): Promise<string> {
    if (this.o.ipsetContext) {
      try {
        await this.o.ipsetContext.fill(lines);
        timings.fillVia = 'netlink';
        return `${lines.join('\n')}\n`;
      } catch (e) {
        timings.fillFallback = (e as Error).message;
      }
    }
    timings.fillVia = 'ipset restore';
    const text = `${lines.join('\n')}\n`;
    await this.o.exec(this.ipset, ['-exist', 'restore'], { input: text, timeoutMs: this.o.timeoutMs });
    return text;
  }

  /** Records a set as the kernel now holds it. */
  private noteSet(spec: SetSpec, entries: ReadonlySet<string>, how: string): void {
    const cur = this.sets.get(spec.name);
    const maxelem = how === 'created' || how === 'swapped' || !cur ? maxelemFor(entries.size) : cur.maxelem;
    this.sets.set(spec.name, { name: spec.name, type: spec.type, family: spec.family, maxelem, entries: new Set(entries) });
  }

  private async applyKnown(plan: FirewallPlan, timings: ApplyReport['timings']): Promise<ApplyReport> {
    const setStats: SetDiffStats = { created: 0, swapped: 0, added: 0, deleted: 0 };
    // Narrowing (and new, still unreferenced sets) before the rules change; widening after.
    const pre: string[] = [];
    const post: string[] = [];
    const preState: Array<[SetSpec, Set<string>, string]> = [];
    const postState: Array<[SetSpec, Set<string>, string]> = [];
    /** Element edits of sets changed by delta, recorded once their batch ran. */
    const preEdits: Array<() => void> = [];
    const postEdits: Array<() => void> = [];
    const setsChanged: string[] = [];
    // Cold load (none of our chains in the kernel: first start, after a cleanup): nothing of ours filters
    // yet, so no partial state can be wider than the present one. New sets are then created first and
    // filled by an `ipset restore` that runs beside the rule restore (two processes, two cores) instead of
    // before it. Within that batch the deny sets fill first and kube-router-local-pods last, so a pod
    // becomes exempt from the fail-closed TAIL only after its dispatch and isolation are in place.
    const cold = this.o.families.every((f) => (this.tables.get(f)?.chains.size ?? 0) === 0);
    const fillDeny: string[] = [];
    const fillAllow: string[] = [];
    const fillLocal: string[] = [];
    const fillState: Array<[SetSpec, Set<string>, string]> = [];
    const localSets = new Set(this.o.families.map(localPodsSetName));
    for (const [name, spec] of plan.sets) {
      // Plans share unchanged set specs by identity: skipping them keeps a small change O(change).
      if (this.appliedSpecs.get(name) === spec) continue;
      const cur = this.sets.get(name);
      const delta = plan.setDeltas.get(name);
      // The kernel holds exactly the delta's base (we applied it last): send the difference alone.
      if (cur && delta && this.appliedSpecs.get(name) === delta.base && cur.entries.size + delta.added.length <= cur.maxelem) {
        const adds = delta.added.map((e) => `add ${name} ${e}`);
        const dels = delta.removed.map((e) => `del ${name} ${e}`);
        const add = (): void => void delta.added.forEach((e) => cur.entries.add(e));
        const del = (): void => void delta.removed.forEach((e) => cur.entries.delete(e));
        if (plan.denySets.has(name)) {
          pre.push(...adds);
          post.push(...dels);
          preEdits.push(add);
          postEdits.push(del);
        } else {
          pre.push(...dels);
          post.push(...adds);
          preEdits.push(del);
          postEdits.push(add);
        }
        setStats.added += adds.length;
        setStats.deleted += dels.length;
        if (adds.length + dels.length > 0) setsChanged.push(name);
        continue;
      }
      const want = new Set(spec.entries);
      const tmp = tmpSetName(name);
      if (!cur) {
        if (cold) {
          const fill = plan.denySets.has(name) ? fillDeny : localSets.has(name) ? fillLocal : fillAllow;
          fillState.push([spec, want, createSet(pre, fill, spec, want, setStats)]);
        } else preState.push([spec, want, setTransition(pre, spec, undefined, 0, want, tmp, setStats)]);
        setsChanged.push(name);
        continue;
      }
      const deny = plan.denySets.has(name);
      const mid = new Set<string>();
      if (deny) {
        for (const e of cur.entries) mid.add(e);
        for (const e of want) mid.add(e);
      } else {
        for (const e of cur.entries) if (want.has(e)) mid.add(e);
      }
      const h1 = setTransition(pre, spec, cur.entries, cur.maxelem, mid, tmp, setStats);
      if (h1 !== 'none') preState.push([spec, mid, h1]);
      const h2 = setTransition(post, spec, mid, h1 === 'none' ? cur.maxelem : maxelemFor(mid.size), want, tmp, setStats);
      if (h2 !== 'none') postState.push([spec, want, h2]);
      if (h1 !== 'none' || h2 !== 'none') setsChanged.push(name);
    }
    const staleSets = [...this.sets.keys()].filter((n) => !plan.sets.has(n));
    let ipsetText = '';
    let postText = '';
    const fill = [...fillDeny, ...fillAllow, ...fillLocal];
    const runPre = async (): Promise<void> => {
      const t0 = performance.now();
      ipsetText = await this.runIpset(pre);
      timings.ipsetMs = performance.now() - t0;
      for (const [spec, entries, how] of preState) this.noteSet(spec, entries, how);
      for (const edit of preEdits) edit();
    };
    const runFill = async (): Promise<void> => {
      if (fill.length === 0) return;
      const t0 = performance.now();
      const text = await this.runFillLines(fill, timings);
      timings.fillMs = performance.now() - t0;
      ipsetText += text;
      for (const [spec, entries, how] of fillState) this.noteSet(spec, entries, how);
    };
    // Cold: the creates run now, the fill (its own process) right after the rule restore has started.
    let filling: Promise<void> | undefined;
    if (cold) await runPre();
    try {
      const rules = await this.ruleScripts(plan);
      for (const n of staleSets) post.push(`destroy ${n}`);
      const iptTexts: Partial<Record<IPFamily, string>> = {};
      if (!cold && rules.scripts.length === 0) {
        // No rule changes: one ipset batch, narrowing lines first.
        const t0 = performance.now();
        ipsetText = await this.runIpset([...pre, ...post]);
        timings.ipsetMs = performance.now() - t0;
        for (const [spec, entries, how] of [...preState, ...postState]) this.noteSet(spec, entries, how);
        for (const edit of [...preEdits, ...postEdits]) edit();
      } else {
        if (!cold) await runPre();
        const restores = (async (): Promise<void> => {
          for (const s of rules.scripts) {
            const t1 = performance.now();
            for (const text of s.texts) await this.o.exec(this.bin(s.f).restore, ['--noflush', '--wait=5'], { input: text, timeoutMs: this.o.timeoutMs });
            timings.iptablesMs[s.f] = performance.now() - t1;
            iptTexts[s.f] = s.texts.join('');
            s.apply();
          }
        })();
        if (cold) {
          filling = runFill();
          filling.catch(() => undefined);
        }
        // Both are awaited (whatever fails) before anything widens.
        const results = await Promise.allSettled([restores, filling ?? Promise.resolve()]);
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        const t0 = performance.now();
        postText = await this.runIpset(post);
        timings.postMs = performance.now() - t0;
        for (const [spec, entries, how] of postState) this.noteSet(spec, entries, how);
        for (const edit of postEdits) edit();
      }
      for (const n of staleSets) {
        this.sets.delete(n);
        this.appliedSpecs.delete(n);
      }
      for (const [name, spec] of plan.sets) this.appliedSpecs.set(name, spec);
      const changed = Boolean(ipsetText || postText || rules.scripts.length);
      return {
        changed,
        ...rules.report,
        setsChanged,
        setsDestroyed: staleSets,
        setStats,
        timings,
        texts: { ipset: ipsetText, iptables: iptTexts, post: postText },
      };
    } finally {
      // Never leave the fill running behind a failure: the next apply reads the state it writes.
      await filling?.catch(() => undefined);
    }
  }

  /** Per family, the restore inputs that take our chains and jumps from what the kernel holds to the plan. */
  private async ruleScripts(plan: FirewallPlan): Promise<{
    scripts: Array<{ f: IPFamily; texts: string[]; apply: () => void }>;
    report: Pick<ApplyReport, 'chainsReplaced' | 'chainsEdited' | 'chainsDeleted' | 'jumpsFixed'>;
  }> {
    const chainsReplaced: string[] = [];
    const chainsEdited: string[] = [];
    const chainsDeleted: string[] = [];
    let jumpsFixed = 0;
    const scripts: Array<{ f: IPFamily; texts: string[]; apply: () => void }> = [];
    for (const [f, table] of plan.tables) {
      const k: KernelTable = this.tables.get(f) ?? { chains: new Map(), builtins: new Map(), foreignRules: 0 };
      const edits: ChainEdit[] = [];
      const desired = new Map<string, readonly string[]>();
      for (const [name, rules] of table.chains) desired.set(name, renderChain(rules));
      const jumps = table.jumps.map((j) => ({ from: j.from, rule: renderRule(j.rule) }));
      for (const [name, rules] of desired) {
        const e = chainEdit(name, k.chains.get(name), rules);
        if (!e) continue;
        edits.push(e);
        (e.kind === 'replace' ? chainsReplaced : chainsEdited).push(name);
      }
      const stale = [...k.chains.keys()].filter((n) => !table.chains.has(n));
      chainsDeleted.push(...stale);
      const extra: string[] = [];
      for (const j of jumps) {
        const rules = k.builtins.get(j.from) ?? [];
        if (rules[0] === j.rule && rules.indexOf(j.rule, 1) < 0) continue;
        // Missing, duplicated or pushed down by another tool: put exactly one back at the top.
        for (const r of rules) if (r === j.rule) extra.push(`-D ${j.from} ${r}`);
        extra.push(`-I ${j.from} 1 ${j.rule}`);
        jumpsFixed++;
      }
      let script: RestoreScript = { edits, extra, deleteChains: stale };
      if (isEmptyScript(script)) continue;
      const fc = this.o.fullCache ?? 'auto';
      if (this.o.backend === 'nft' && fc !== 'never') {
        let rules = k.foreignRules;
        for (const r of k.chains.values()) rules += r.length;
        if ((fc === 'always' || fullCacheWorthIt(script, rules)) && (await this.canListFirst(f))) script = { ...script, listFirst: true };
      }
      // With `-S` iptables-nft takes the built-in chains it lists for granted, even when the kernel has
      // no filter table yet, so edits to INPUT/FORWARD/OUTPUT go in a second, small restore without it.
      const texts =
        script.listFirst && extra.length > 0
          ? [renderRestore('filter', { ...script, extra: [] }), renderRestore('filter', { edits: [], extra })]
          : [renderRestore('filter', script)];
      scripts.push({
        f,
        texts,
        apply: () => {
          for (const e of edits) k.chains.set(e.chain, desired.get(e.chain)!);
          for (const n of stale) k.chains.delete(n);
          for (const j of jumps) {
            const rules = (k.builtins.get(j.from) ?? []).filter((r: string) => r !== j.rule);
            k.builtins.set(j.from, [j.rule, ...rules]);
          }
          this.tables.set(f, k);
        },
      });
    }
    return { scripts, report: { chainsReplaced, chainsEdited, chainsDeleted, jumpsFixed } };
  }

  /** Whether this family's restore takes a leading `-S` (iptables-nft 1.8.x does); a dry run says. */
  private canListFirst(f: IPFamily): Promise<boolean> {
    let probe = this.listProbe.get(f);
    if (!probe) {
      probe = this.o.exec(this.bin(f).restore, ['--noflush', '--test'], { input: '*filter\n-S\nCOMMIT\n', timeoutMs: this.o.timeoutMs }).then(
        () => true,
        () => {
          this.listProbe.delete(f);
          return false;
        },
      );
      this.listProbe.set(f, probe);
    }
    return probe;
  }

  /**
   * --cleanup-config: remove our jumps, chains and sets, in every family and in both backends (a host
   * may have switched backends since we last ran). Rules and chains of others are not touched.
   */
  async cleanup(): Promise<void> {
    const backends: BackendName[] = this.o.binaries ? [this.o.backend] : [this.o.backend, this.o.backend === 'nft' ? 'legacy' : 'nft'];
    const errors: Error[] = [];
    for (const backend of backends) {
      for (const f of [4, 6] as const) {
        const bin = this.o.binaries?.(f) ?? binaries(backend, f);
        let text: string;
        try {
          text = (await this.o.exec(bin.save, [], { timeoutMs: this.o.timeoutMs })).stdout;
        } catch {
          continue;
        }
        const filter = parseSave(text).get('filter');
        if (!filter) continue;
        const ours = [...filter.chains.keys()].filter(isOurChain);
        if (ours.length === 0) continue;
        const extra: string[] = [];
        for (const b of BUILTINS) {
          for (const r of filter.chains.get(b)?.rules ?? []) {
            const target = /-j (\S+)/.exec(r)?.[1];
            if (target && isOurChain(target)) extra.push(`-D ${b} ${r}`);
          }
        }
        const script = renderRestore('filter', { edits: [], extra, deleteChains: ours });
        try {
          await this.o.exec(bin.restore, ['--noflush', '--wait=5'], { input: script, timeoutMs: this.o.timeoutMs });
        } catch (e) {
          errors.push(e as Error);
        }
      }
    }
    const { stdout } = await this.o.exec(this.ipset, ['list', '-n'], { timeoutMs: this.o.timeoutMs });
    const sets = stdout.split('\n').filter((n) => n && isOurSet(n));
    if (sets.length) {
      try {
        await this.o.exec(this.ipset, ['-exist', 'restore'], { input: sets.map((n) => `destroy ${n}\n`).join(''), timeoutMs: this.o.timeoutMs });
      } catch (e) {
        errors.push(e as Error);
      }
    }
    this.known = false;
    if (errors.length) throw errors[0];
  }
}

// The plan's SetSpec (compile/plan.ts) and dataplane/ipset's must stay the same shape: tsc fails otherwise.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type PlanSetSpecMatchesDataplane = Assert<Same<SetSpec, DataplaneSetSpec>>;
