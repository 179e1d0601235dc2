// Incremental firewall compiler: ClusterSnapshot -> FirewallPlan. The selection index
// (selection-index.ts) follows the cluster and marks what changed; this file is emission: it keeps the
// plan's chains and sets, re-renders only what the index marked (sets of dirty selections, dispatch
// chains of dirty namespaces, namespace pod sets when local pods changed, top-level chains when a
// namespace gained its first or lost its last local pod; kube-router-local-pods and the isolated sets
// follow events and are never rebuilt) and returns a plan that shares everything unchanged with the last
// one by identity, plus each big changed set's element delta (plan.setDeltas). What the chains contain is rules.ts, emit.ts
// and policy.ts. `compileFirewall` is the pure one-shot form (a fresh compiler, one update).
import type { ClusterSnapshot, IPFamily } from '../../../model/types.js';
import { ipFamily } from '../../../model/normalize/ip.js';
import {
  CHAIN_COMMON,
  CHAIN_DEFAULT,
  CHAIN_FORWARD,
  CHAIN_INPUT,
  CHAIN_OUTPUT,
  CHAIN_TAIL,
  isolatedSetName,
  localPodsSetName,
  namespacePodsChainName,
  namespacePodsSetName,
  namedPortSetName,
  namespaceChainName,
  policySetName,
} from './names.js';
import type { CompileStats, FirewallPlan, Rule, SetDelta, SetSpec } from './plan.js';
import { denySets, namespaceChains, tablePlans, topLevelChains } from './emit.js';
import type { CompiledPolicy, SelectionDef } from './policy.js';
import { commonChain, defaultChain, namespaceJumps, namespacePodsChain, tailChain, type NamespaceJumps, type ServiceRanges } from './rules.js';
import { SelectionIndex, type IndexEvents, type NamedPortEntry, type PodEntry } from './selection-index.js';
import type { Direction } from './names.js';

export { policyPod } from './selection-index.js';

export interface CompileOptions {
  readonly nodeName: string;
  /** Enabled IP families; tables and sets exist only for these. */
  readonly families: readonly IPFamily[];
  /**
   * This node's pod CIDRs. A family with one fails closed: its addresses that are not programmed local
   * pods are rejected (KUBE-NWPLCY-TAIL, first in each KUBE-ROUTER-* chain). Without one it cannot.
   */
  readonly podCIDRs: readonly string[];
  readonly ranges: ServiceRanges;
}

/** Sets with at least this many entries carry a delta (SetDelta); below, a whole-set diff is as cheap. */
const DELTA_MIN = 256;

/**
 * The addresses of a set that follows events (kube-router-local-pods, the isolated sets), counted so two
 * members sharing an address (a reused IP, briefly) keep it until both are gone, with which addresses
 * appeared or went since the last emit: those sets are never rebuilt, and their delta is exact.
 */
class CountedAddresses {
  private readonly count = new Map<string, number>();
  /** Address -> whether the last emit had it, for every address touched since. */
  private readonly touched = new Map<string, boolean>();
  /** Until the first take there is no last emit to differ from: nothing to track (the first compile's thousands). */
  private tracking = false;
  private changedUntracked = false;

  add(ip: string): void {
    const n = this.count.get(ip) ?? 0;
    if (!this.tracking) this.changedUntracked = true;
    else if (n === 0 && !this.touched.has(ip)) this.touched.set(ip, false);
    this.count.set(ip, n + 1);
  }

  remove(ip: string): void {
    const n = this.count.get(ip) ?? 0;
    if (n === 0) return;
    if (n > 1) return void this.count.set(ip, n - 1);
    if (!this.tracking) this.changedUntracked = true;
    else if (!this.touched.has(ip)) this.touched.set(ip, true);
    this.count.delete(ip);
  }

  get dirty(): boolean {
    return this.touched.size > 0 || this.changedUntracked;
  }

  /** The entries, and what was added and removed since the last take (all of them: added, the first time). */
  take(): { entries: string[]; added: string[]; removed: string[] } {
    const entries = [...this.count.keys()];
    if (!this.tracking) {
      this.tracking = true;
      this.changedUntracked = false;
      return { entries, added: entries, removed: [] };
    }
    const added: string[] = [];
    const removed: string[] = [];
    for (const [ip, had] of this.touched) {
      const has = this.count.has(ip);
      if (has && !had) added.push(ip);
      else if (!has && had) removed.push(ip);
    }
    this.touched.clear();
    return { entries, added, removed };
  }
}

export class FirewallCompiler implements IndexEvents {
  private readonly index: SelectionIndex;
  private readonly sets = new Map<string, SetSpec>();
  private readonly chains = new Map<IPFamily, Map<string, readonly Rule[]>>();
  /** Families that fail closed (a pod CIDR of theirs is known). */
  private readonly failClosed = new Set<IPFamily>();
  /** Local pod keys per namespace, kept per event; the namespaces' pod sets are rendered from it. */
  private readonly localByNs = new Map<string, Set<string>>();
  /** Namespaces whose local pods changed since the last emit. */
  private readonly localDirtyNs = new Set<string>();
  /** A namespace gained its first or lost its last local pod: the top-level chains change. */
  private topDirty = true;
  /** Each namespace's top-level jumps per family, kept so unchanged ones keep their identity. */
  private readonly nsJumps = new Map<string, Map<IPFamily, NamespaceJumps>>();
  private readonly nsPodSets = new Set<string>();
  /** The entries of each big set as last emitted, to tell the next emit's delta (an array until a delta needs a Set). */
  private readonly mirrors = new Map<string, ReadonlySet<string> | readonly string[]>();
  private deltas = new Map<string, SetDelta>();
  /** kube-router-local-pods per family, and each direction's isolated set, kept by events. */
  private readonly localAddrs = new Map<IPFamily, CountedAddresses>();
  private readonly isoAddrs = { ingress: new Map<IPFamily, CountedAddresses>(), egress: new Map<IPFamily, CountedAddresses>() };
  /** The addresses each isolated pod was counted with (its IPs may change before it leaves). */
  private readonly isoMembers = { ingress: new Map<string, ReadonlyMap<IPFamily, string>>(), egress: new Map<string, ReadonlyMap<IPFamily, string>>() };
  /** The first emit creates the event-kept sets even while empty. */
  private firstEmit = true;
  private setsRecomputed = 0;

  constructor(private readonly opts: CompileOptions) {
    this.index = new SelectionIndex(opts, this);
    for (const f of opts.families) {
      const m = new Map<string, readonly Rule[]>();
      m.set(CHAIN_COMMON, commonChain(f));
      m.set(CHAIN_DEFAULT, defaultChain());
      const cidrs = opts.podCIDRs.filter((c) => ipFamily(c.split('/')[0]!) === f);
      if (cidrs.length > 0) {
        this.failClosed.add(f);
        m.set(CHAIN_TAIL, tailChain(f, cidrs, localPodsSetName(f)));
      }
      this.chains.set(f, m);
      this.localAddrs.set(f, new CountedAddresses());
      this.isoAddrs.ingress.set(f, new CountedAddresses());
      this.isoAddrs.egress.set(f, new CountedAddresses());
    }
  }

  /** Brings the compiled state to `s` and returns the full plan (sharing unchanged parts with the last). */
  update(s: ClusterSnapshot): { plan: FirewallPlan; stats: CompileStats } {
    const full = this.index.first;
    this.setsRecomputed = 0;
    this.index.update(s);
    const plan = this.emit();
    return { plan, stats: { ...this.index.stats, setsRecomputed: this.setsRecomputed, full } };
  }

  // ---- IndexEvents (called by the index only, in the order things change): what comes and goes with
  // pods and policies ----

  localPodAdded(e: PodEntry): void {
    const ns = e.pod.namespace;
    let keys = this.localByNs.get(ns);
    if (!keys) {
      this.localByNs.set(ns, (keys = new Set()));
      this.topDirty = true;
    }
    keys.add(e.key);
    this.localDirtyNs.add(ns);
    for (const [f, ip] of e.ips) this.localAddrs.get(f)?.add(ip);
  }

  localPodDropped(e: PodEntry): void {
    const ns = e.pod.namespace;
    const keys = this.localByNs.get(ns);
    if (!keys) return;
    keys.delete(e.key);
    if (keys.size === 0) {
      this.localByNs.delete(ns);
      this.topDirty = true;
    }
    this.localDirtyNs.add(ns);
    for (const [f, ip] of e.ips) this.localAddrs.get(f)?.remove(ip);
  }

  isolationChanged(d: Direction, key: string, on: boolean): void {
    const members = this.isoMembers[d];
    const ips = on ? this.index.pods.get(key)?.ips : members.get(key);
    if (!ips) return;
    if (on) members.set(key, ips);
    else members.delete(key);
    for (const [f, ip] of ips) {
      const c = this.isoAddrs[d].get(f);
      if (on) c?.add(ip);
      else c?.remove(ip);
    }
  }

  policyAdded(c: CompiledPolicy): void {
    for (const [f, chains] of c.chains) for (const [name, rules] of chains) this.chains.get(f)!.set(name, rules);
  }

  policyRemoved(c: CompiledPolicy): void {
    for (const [f, chains] of c.chains) for (const name of chains.keys()) this.chains.get(f)!.delete(name);
  }

  blockSetUsed(spec: SetSpec): void {
    this.sets.set(spec.name, spec);
  }

  blockSetUnused(name: string): void {
    this.sets.delete(name);
  }

  selectionGone(def: SelectionDef): void {
    for (const f of this.opts.families) this.sets.delete(policySetName(f, def.side, def.key));
  }

  namedPortGone(npe: NamedPortEntry): void {
    for (const f of this.opts.families) this.sets.delete(namedPortSetName(f, npe.protocol, npe.name));
  }

  // ---- output ----

  private ipsOf(keys: Iterable<string>, f: IPFamily): string[] {
    const out: string[] = [];
    for (const k of keys) {
      const ip = this.index.pods.get(k)?.ips.get(f);
      if (ip) out.push(ip);
    }
    return out;
  }

  private putSet(name: string, type: SetSpec['type'], f: IPFamily, entries: string[]): void {
    this.setsRecomputed++;
    const spec: SetSpec = { name, type, family: f === 4 ? 'inet' : 'inet6', entries };
    const prev = this.sets.get(name);
    this.sets.set(name, spec);
    // Small sets are cheap to diff whole; big ones (local pods, isolation, wide selections) get a delta.
    if (entries.length < DELTA_MIN) {
      this.mirrors.delete(name);
      return;
    }
    const before = this.mirrors.get(name);
    if (!prev || !before || prev.type !== type) {
      // No delta to tell (a new set, the first compile's hundreds): the lookup set is built when the next emit needs it.
      this.mirrors.set(name, entries);
      return;
    }
    const now = new Set(entries);
    this.mirrors.set(name, now);
    const was = before instanceof Set ? before : new Set(before);
    const added: string[] = [];
    const removed: string[] = [];
    for (const e of now) if (!was.has(e)) added.push(e);
    for (const e of was) if (!now.has(e)) removed.push(e);
    this.deltas.set(name, { base: prev, added, removed });
  }

  /** An event-kept set: its entries and exact delta, no rebuild. */
  private putCounted(name: string, f: IPFamily, c: CountedAddresses): void {
    if (!c.dirty && !this.firstEmit) return;
    this.setsRecomputed++;
    const { entries, added, removed } = c.take();
    const prev = this.sets.get(name);
    const spec: SetSpec = { name, type: 'hash:ip', family: f === 4 ? 'inet' : 'inet6', entries };
    this.sets.set(name, spec);
    if (prev) this.deltas.set(name, { base: prev, added, removed });
  }

  private emit(): FirewallPlan {
    const fams = this.opts.families;
    const ix = this.index;
    this.deltas = new Map();
    for (const sel of ix.selections.values()) {
      if (!sel.dirty) continue;
      sel.dirty = false;
      for (const f of fams) this.putSet(policySetName(f, sel.def.side, sel.def.key), 'hash:ip', f, this.ipsOf(sel.members, f));
    }
    for (const npe of ix.namedPorts.values()) {
      if (!npe.dirty) continue;
      npe.dirty = false;
      const proto = npe.protocol.toLowerCase();
      for (const f of fams) {
        const entries: string[] = [];
        for (const [k, port] of npe.members) {
          const ip = ix.pods.get(k)?.ips.get(f);
          if (ip) entries.push(`${ip},${proto}:${port}`);
        }
        this.putSet(namedPortSetName(f, npe.protocol, npe.name), 'hash:ip,port', f, entries);
      }
    }
    for (const d of ['ingress', 'egress'] as const) {
      for (const f of fams) this.putCounted(isolatedSetName(f, d), f, this.isoAddrs[d].get(f)!);
    }
    for (const f of this.failClosed) this.putCounted(localPodsSetName(f), f, this.localAddrs.get(f)!);
    this.firstEmit = false;
    // Each namespace's pod set: only the namespaces whose local pods changed.
    for (const ns of this.localDirtyNs) {
      const keys = this.localByNs.get(ns);
      for (const f of fams) {
        const name = namespacePodsSetName(f, ns);
        if (keys) {
          this.putSet(name, 'hash:ip', f, this.ipsOf(keys, f));
          this.nsPodSets.add(name);
        } else {
          this.sets.delete(name);
          this.mirrors.delete(name);
          this.nsPodSets.delete(name);
        }
      }
    }
    this.localDirtyNs.clear();
    for (const ns of ix.dirtyNs) this.renderNamespace(ns);
    ix.dirtyNs.clear();
    if (this.topDirty) {
      this.topDirty = false;
      const namespaces = [...this.localByNs.keys()].sort();
      for (const ns of this.nsJumps.keys()) if (!this.localByNs.has(ns)) this.nsJumps.delete(ns);
      for (const f of fams) {
        const top = topLevelChains(f, this.failClosed.has(f), this.opts.ranges, namespaces.map((ns) => this.jumpsOf(ns, f)));
        const m = this.chains.get(f)!;
        m.set(CHAIN_INPUT, top.input);
        m.set(CHAIN_FORWARD, top.forward);
        m.set(CHAIN_OUTPUT, top.output);
      }
    }
    const warnings: string[] = [];
    for (const p of ix.policies.values()) warnings.push(...p.compiled.warnings);
    for (const name of this.mirrors.keys()) if (!this.sets.has(name)) this.mirrors.delete(name);
    return { tables: tablePlans(fams, this.chains), sets: new Map(this.sets), denySets: denySets(fams, this.nsPodSets), setDeltas: this.deltas, warnings };
  }

  private jumpsOf(ns: string, f: IPFamily): NamespaceJumps {
    let byFamily = this.nsJumps.get(ns);
    if (!byFamily) this.nsJumps.set(ns, (byFamily = new Map()));
    let j = byFamily.get(f);
    if (!j) {
      j = namespaceJumps(ns, namespacePodsSetName(f, ns), namespacePodsChainName(ns, 'ingress'), namespacePodsChainName(ns, 'egress'));
      byFamily.set(f, j);
    }
    return j;
  }

  /** A namespace's policy dispatch chains (while it has policies or local pods) and pod chains (while it has local pods). */
  private renderNamespace(ns: string): void {
    const needed = this.index.namespaceNeeded(ns);
    const local = this.index.hasLocalPods(ns);
    const policies = needed ? this.index.policiesOf(ns) : [];
    const inName = namespaceChainName(ns, 'ingress');
    const egName = namespaceChainName(ns, 'egress');
    const podsIn = namespacePodsChainName(ns, 'ingress');
    const podsEg = namespacePodsChainName(ns, 'egress');
    for (const f of this.opts.families) {
      const m = this.chains.get(f)!;
      if (!needed) {
        m.delete(inName);
        m.delete(egName);
      } else {
        const chains = namespaceChains(f, policies);
        m.set(inName, chains.ingress);
        m.set(egName, chains.egress);
      }
      if (!local) {
        m.delete(podsIn);
        m.delete(podsEg);
      } else if (!m.has(podsIn)) {
        m.set(podsIn, namespacePodsChain(ns, f, 'ingress', inName, isolatedSetName(f, 'ingress')));
        m.set(podsEg, namespacePodsChain(ns, f, 'egress', egName, isolatedSetName(f, 'egress')));
      }
    }
  }
}

/** The pure one-shot form: everything compiled from scratch. */
export function compileFirewall(snapshot: ClusterSnapshot, opts: CompileOptions): FirewallPlan {
  return new FirewallCompiler(opts).update(snapshot).plan;
}
