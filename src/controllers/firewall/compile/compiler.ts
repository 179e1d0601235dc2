// Incremental firewall compiler: ClusterSnapshot -> FirewallPlan. It keeps the previous snapshot and
// diffs object identities (maps are replaced, objects shared), so a pod event costs one pass over the
// selections, a policy event one pass over the pods, and chains are re-rendered only for what changed.
// `compileFirewall` is the pure one-shot form (a fresh compiler, one update). What the chains of a namespace
// and the top-level chains contain is emit.ts; this file decides what changed and when to re-render it.
import type { ClusterSnapshot, IPFamily, Labels, NetworkPolicyModel, PodModel } from '../../../model/types.js';
import { ipFamily } from '../../../model/normalize/ip.js';
import {
  CHAIN_COMMON,
  CHAIN_DEFAULT,
  CHAIN_FORWARD,
  CHAIN_INPUT,
  CHAIN_OUTPUT,
  CHAIN_TAIL,
  type Direction,
  isolatedSetName,
  localPodsSetName,
  namedPortSetName,
  namespaceChainName,
  podChainName,
  policySetName,
} from './names.js';
import type { CompileStats, FirewallPlan, Rule, SetSpec } from './plan.js';
import { denySets, namespaceChains, tablePlans, topLevelChains } from './emit.js';
import { compilePolicy, type CompiledPolicy, type SelectionDef } from './policy.js';
import {
  commonChain,
  defaultChain,
  podChain,
  podJumps,
  tailChain,
  type PodJumps,
  type ServiceRanges,
} from './rules.js';
import { matches as selectorMatches, sameLabels } from '../../../model/normalize/selector.js';

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

interface PodEntry {
  readonly key: string;
  readonly pod: PodModel;
  readonly local: boolean;
  readonly ips: ReadonlyMap<IPFamily, string>;
  readonly chain: string;
  render?: Map<IPFamily, { chain: Rule[]; jumps: PodJumps }>;
}

/** A pod set shared by every policy whose rules select exactly the same pods. */
interface Selection {
  readonly def: SelectionDef;
  readonly owners: Set<PolicyEntry>;
  readonly members: Set<string>;
  /** For target selections: how many owners isolate their members for ingress / egress. */
  isoIn: number;
  isoEg: number;
  dirty: boolean;
}

interface PolicyEntry {
  readonly key: string;
  readonly compiled: CompiledPolicy;
  readonly selections: Selection[];
}

interface NamedPortEntry {
  readonly protocol: string;
  readonly name: string;
  refs: number;
  readonly members: Map<string, number>;
  dirty: boolean;
}

/** A pod takes part in policy (as target or peer) only with an IP, outside the host network, not finished. */
export function policyPod(p: PodModel): boolean {
  return !p.hostNetwork && p.podIPs.length > 0 && p.phase !== 'Succeeded' && p.phase !== 'Failed';
}

const memo = new WeakMap<NetworkPolicyModel, Map<string, CompiledPolicy>>();

function compiledFor(np: NetworkPolicyModel, families: readonly IPFamily[]): CompiledPolicy {
  const fk = families.join(',');
  let byFam = memo.get(np);
  if (!byFam) memo.set(np, (byFam = new Map()));
  let c = byFam.get(fk);
  if (!c) byFam.set(fk, (c = compilePolicy(np, families, families)));
  return c;
}

export class FirewallCompiler {
  private prev: ClusterSnapshot | undefined;
  private readonly pods = new Map<string, PodEntry>();
  /** Every pod object seen, eligible or not, so unchanged ineligible pods are not re-examined. */
  private readonly podObjs = new Map<string, PodModel>();
  private readonly podsByNs = new Map<string, Set<string>>();
  private readonly localCountByNs = new Map<string, number>();
  private readonly nsLabels = new Map<string, Labels>();
  private readonly policies = new Map<string, PolicyEntry>();
  private readonly policiesByNs = new Map<string, Set<string>>();
  private readonly selections = new Map<string, Selection>();
  private readonly blockRefs = new Map<string, number>();
  private readonly podSelections = new Map<string, Set<Selection>>();
  private readonly iso = { ingress: new Map<string, number>(), egress: new Map<string, number>() };
  private readonly isoDirty = { ingress: true, egress: true };
  private readonly namedPorts = new Map<string, NamedPortEntry>();
  private readonly sets = new Map<string, SetSpec>();
  private readonly chains = new Map<IPFamily, Map<string, readonly Rule[]>>();
  private readonly dirtyNs = new Set<string>();
  private localDirty = true;
  /** Families that fail closed (a pod CIDR of theirs is known). */
  private readonly failClosed = new Set<IPFamily>();
  private stats = { policiesCompiled: 0, podsCompiled: 0, setsRecomputed: 0 };

  constructor(private readonly opts: CompileOptions) {
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
    }
  }

  /** Brings the compiled state to `s` and returns the full plan (sharing unchanged parts with the last). */
  update(s: ClusterSnapshot): { plan: FirewallPlan; stats: CompileStats } {
    const full = this.prev === undefined;
    this.stats = { policiesCompiled: 0, podsCompiled: 0, setsRecomputed: 0 };
    const prev = this.prev;
    const changedNs: string[] = [];
    if (!prev || prev.namespaces !== s.namespaces) {
      for (const [k, ns] of s.namespaces) {
        const old = this.nsLabels.get(k);
        if (!old || !sameLabels(old, ns.labels)) changedNs.push(k);
        this.nsLabels.set(k, ns.labels);
      }
      for (const k of [...this.nsLabels.keys()]) {
        if (!s.namespaces.has(k)) {
          this.nsLabels.delete(k);
          changedNs.push(k);
        }
      }
    }
    const removedPolicies: string[] = [];
    const addedPolicies: string[] = [];
    if (!prev || prev.policies !== s.policies) {
      for (const [k, np] of s.policies) {
        const old = this.policies.get(k);
        if (old && old.compiled.policy === np) continue;
        if (old) removedPolicies.push(k);
        addedPolicies.push(k);
      }
      for (const k of this.policies.keys()) if (!s.policies.has(k)) removedPolicies.push(k);
    }
    const changedPods: string[] = [];
    if (!prev || prev.pods !== s.pods) {
      for (const [k, p] of s.pods) {
        if (this.podObjs.get(k) === p) continue;
        this.podObjs.set(k, p);
        changedPods.push(k);
      }
      for (const k of this.podObjs.keys()) {
        if (s.pods.has(k)) continue;
        this.podObjs.delete(k);
        changedPods.push(k);
      }
    }

    for (const k of removedPolicies) this.removePolicy(k);
    if (changedNs.length > 0) {
      const nsSels = [...this.selections.values()].filter((sel) => sel.def.terms.some((t) => t.nsSelector));
      for (const ns of changedNs) {
        for (const pk of this.podsByNs.get(ns) ?? []) for (const sel of nsSels) this.evaluate(sel, pk);
      }
    }
    for (const k of changedPods) this.updatePod(k, s.pods.get(k));
    for (const k of addedPolicies) this.addPolicy(k, s.policies.get(k)!);

    this.prev = s;
    const plan = this.emit();
    return { plan, stats: { ...this.stats, full } };
  }

  // ---- pods ----

  private updatePod(key: string, pod: PodModel | undefined): void {
    const old = this.pods.get(key);
    const eligible = pod !== undefined && policyPod(pod);
    if (!eligible) {
      // An ineligible pod object still replaces the old one for identity diffs, but takes no part.
      if (old) this.removePod(old);
      return;
    }
    const ips = new Map<IPFamily, string>();
    for (const ip of pod.podIPs) {
      const f = ipFamily(ip);
      if (f !== undefined && this.opts.families.includes(f) && !ips.has(f)) ips.set(f, ip);
    }
    const entry: PodEntry = {
      key,
      pod,
      local: pod.nodeName === this.opts.nodeName,
      ips,
      chain: podChainName(pod.namespace, pod.name),
    };
    this.stats.podsCompiled++;
    const ipsChanged = !old || old.ips.size !== ips.size || [...ips].some(([f, ip]) => old.ips.get(f) !== ip);
    // Labels-only changes keep the pod chain and top-level jumps as they are: sets carry selection.
    const sameChain = old !== undefined && !ipsChanged && old.local === entry.local;
    if (old) {
      if (sameChain) entry.render = old.render;
      else if (old.local) this.dropLocal(old);
    } else {
      let set = this.podsByNs.get(pod.namespace);
      if (!set) this.podsByNs.set(pod.namespace, (set = new Set()));
      set.add(key);
    }
    this.pods.set(key, entry);
    if (entry.local && !sameChain) this.addLocal(entry);
    if (ipsChanged) {
      for (const sel of this.podSelections.get(key) ?? []) sel.dirty = true;
      if (entry.local) {
        if (this.iso.ingress.has(key)) this.isoDirty.ingress = true;
        if (this.iso.egress.has(key)) this.isoDirty.egress = true;
      }
    }
    for (const sel of this.selections.values()) this.evaluate(sel, key);
    for (const npe of this.namedPorts.values()) this.evaluateNamedPort(npe, entry, ipsChanged);
  }

  private removePod(old: PodEntry): void {
    for (const sel of [...(this.podSelections.get(old.key) ?? [])]) this.removeMember(sel, old.key);
    for (const npe of this.namedPorts.values()) {
      if (npe.members.delete(old.key)) npe.dirty = true;
    }
    if (old.local) this.dropLocal(old);
    this.podsByNs.get(old.pod.namespace)?.delete(old.key);
    this.pods.delete(old.key);
  }

  private addLocal(e: PodEntry): void {
    this.localDirty = true;
    const ns = e.pod.namespace;
    const n = this.localCountByNs.get(ns) ?? 0;
    this.localCountByNs.set(ns, n + 1);
    if (n === 0) this.dirtyNs.add(ns);
    if (!e.render) {
      e.render = new Map();
      for (const [f, ip] of e.ips) {
        e.render.set(f, {
          chain: podChain({
            namespace: ns,
            name: e.pod.name,
            ip,
            family: f,
            nsIngressChain: namespaceChainName(ns, 'ingress'),
            nsEgressChain: namespaceChainName(ns, 'egress'),
            ingressIsolatedSet: isolatedSetName(f, 'ingress'),
            egressIsolatedSet: isolatedSetName(f, 'egress'),
          }),
          jumps: podJumps(ns, e.pod.name, ip, e.chain),
        });
      }
    }
    for (const [f, r] of e.render) this.chains.get(f)!.set(e.chain, r.chain);
  }

  private dropLocal(e: PodEntry): void {
    this.localDirty = true;
    const ns = e.pod.namespace;
    const n = (this.localCountByNs.get(ns) ?? 1) - 1;
    if (n <= 0) {
      this.localCountByNs.delete(ns);
      this.dirtyNs.add(ns);
    } else this.localCountByNs.set(ns, n);
    for (const f of this.opts.families) this.chains.get(f)!.delete(e.chain);
  }

  // ---- selections ----

  private matches(sel: Selection, e: PodEntry): boolean {
    if (sel.def.localOnly && !e.local) return false;
    const ns = e.pod.namespace;
    return sel.def.terms.some((t) => {
      if (t.namespace !== undefined) {
        if (t.namespace !== ns) return false;
      } else if (t.nsSelector && !selectorMatches(t.nsSelector, this.nsLabels.get(ns) ?? {})) return false;
      return selectorMatches(t.podSelector, e.pod.labels);
    });
  }

  private evaluate(sel: Selection, podKey: string): void {
    const e = this.pods.get(podKey);
    const want = e !== undefined && this.matches(sel, e);
    const has = sel.members.has(podKey);
    if (want && !has) this.addMember(sel, podKey);
    else if (!want && has) this.removeMember(sel, podKey);
  }

  private bumpIso(d: Direction, podKey: string, by: number): void {
    if (by === 0) return;
    const n = (this.iso[d].get(podKey) ?? 0) + by;
    if (n <= 0) this.iso[d].delete(podKey);
    else this.iso[d].set(podKey, n);
    if (n <= 0 || n === by) this.isoDirty[d] = true;
  }

  private addMember(sel: Selection, podKey: string): void {
    sel.members.add(podKey);
    sel.dirty = true;
    let r = this.podSelections.get(podKey);
    if (!r) this.podSelections.set(podKey, (r = new Set()));
    r.add(sel);
    this.bumpIso('ingress', podKey, sel.isoIn);
    this.bumpIso('egress', podKey, sel.isoEg);
  }

  private removeMember(sel: Selection, podKey: string): void {
    sel.members.delete(podKey);
    sel.dirty = true;
    const r = this.podSelections.get(podKey);
    r?.delete(sel);
    if (r && r.size === 0) this.podSelections.delete(podKey);
    this.bumpIso('ingress', podKey, -sel.isoIn);
    this.bumpIso('egress', podKey, -sel.isoEg);
  }

  private evaluateNamedPort(npe: NamedPortEntry, e: PodEntry, ipsChanged: boolean): void {
    const cp = e.pod.ports.find((p) => p.name === npe.name && p.protocol === npe.protocol);
    const old = npe.members.get(e.key);
    if (cp) {
      if (old !== cp.containerPort || ipsChanged) npe.dirty = true;
      npe.members.set(e.key, cp.containerPort);
    } else if (old !== undefined) {
      npe.members.delete(e.key);
      npe.dirty = true;
    }
  }

  // ---- policies ----

  private addPolicy(key: string, np: NetworkPolicyModel): void {
    const compiled = compiledFor(np, this.opts.families);
    this.stats.policiesCompiled++;
    const entry: PolicyEntry = { key, compiled, selections: [] };
    this.policies.set(key, entry);
    let byNs = this.policiesByNs.get(np.namespace);
    if (!byNs) this.policiesByNs.set(np.namespace, (byNs = new Set()));
    byNs.add(key);
    this.dirtyNs.add(np.namespace);
    for (const def of compiled.selections) {
      let sel = this.selections.get(def.key);
      if (!sel) {
        sel = { def, owners: new Set(), members: new Set(), isoIn: 0, isoEg: 0, dirty: true };
        this.selections.set(def.key, sel);
        const nsOnly = def.terms.every((t) => t.namespace !== undefined);
        const candidates = nsOnly ? def.terms.flatMap((t) => [...(this.podsByNs.get(t.namespace!) ?? [])]) : [...this.pods.keys()];
        for (const pk of candidates) this.evaluate(sel, pk);
      }
      sel.owners.add(entry);
      entry.selections.push(sel);
      if (def.target) {
        const inc = { ingress: compiled.ingress ? 1 : 0, egress: compiled.egress ? 1 : 0 };
        sel.isoIn += inc.ingress;
        sel.isoEg += inc.egress;
        for (const pk of sel.members) {
          this.bumpIso('ingress', pk, inc.ingress);
          this.bumpIso('egress', pk, inc.egress);
        }
      }
    }
    for (const spec of compiled.blockSets) {
      this.blockRefs.set(spec.name, (this.blockRefs.get(spec.name) ?? 0) + 1);
      this.sets.set(spec.name, spec);
    }
    for (const np2 of compiled.namedPorts) {
      let npe = this.namedPorts.get(np2);
      if (!npe) {
        const [protocol = 'TCP', ...rest] = np2.split('/');
        npe = { protocol, name: rest.join('/'), refs: 0, members: new Map(), dirty: true };
        this.namedPorts.set(np2, npe);
        for (const e of this.pods.values()) this.evaluateNamedPort(npe, e, false);
      }
      npe.refs++;
    }
    for (const [f, chains] of compiled.chains) for (const [name, rules] of chains) this.chains.get(f)!.set(name, rules);
  }

  private removePolicy(key: string): void {
    const entry = this.policies.get(key);
    if (!entry) return;
    const np = entry.compiled.policy;
    for (const sel of entry.selections) {
      sel.owners.delete(entry);
      if (sel.def.target) {
        const dec = { ingress: entry.compiled.ingress ? 1 : 0, egress: entry.compiled.egress ? 1 : 0 };
        sel.isoIn -= dec.ingress;
        sel.isoEg -= dec.egress;
        for (const pk of sel.members) {
          this.bumpIso('ingress', pk, -dec.ingress);
          this.bumpIso('egress', pk, -dec.egress);
        }
      }
      if (sel.owners.size > 0) continue;
      for (const pk of [...sel.members]) this.removeMember(sel, pk);
      this.selections.delete(sel.def.key);
      for (const f of this.opts.families) this.sets.delete(policySetName(f, sel.def.side, sel.def.key));
    }
    for (const spec of entry.compiled.blockSets) {
      const n = (this.blockRefs.get(spec.name) ?? 1) - 1;
      if (n > 0) this.blockRefs.set(spec.name, n);
      else {
        this.blockRefs.delete(spec.name);
        this.sets.delete(spec.name);
      }
    }
    for (const np2 of entry.compiled.namedPorts) {
      const npe = this.namedPorts.get(np2);
      if (npe && --npe.refs <= 0) {
        this.namedPorts.delete(np2);
        for (const f of this.opts.families) this.sets.delete(namedPortSetName(f, npe.protocol, npe.name));
      }
    }
    for (const [f, chains] of entry.compiled.chains) for (const name of chains.keys()) this.chains.get(f)!.delete(name);
    this.policiesByNs.get(np.namespace)?.delete(key);
    this.dirtyNs.add(np.namespace);
    this.policies.delete(key);
  }

  // ---- output ----

  private ipsOf(keys: Iterable<string>, f: IPFamily): string[] {
    const out: string[] = [];
    for (const k of keys) {
      const ip = this.pods.get(k)?.ips.get(f);
      if (ip) out.push(ip);
    }
    return out;
  }

  private putSet(name: string, type: SetSpec['type'], f: IPFamily, entries: string[]): void {
    this.stats.setsRecomputed++;
    this.sets.set(name, { name, type, family: f === 4 ? 'inet' : 'inet6', entries });
  }

  private emit(): FirewallPlan {
    const fams = this.opts.families;
    for (const sel of this.selections.values()) {
      if (!sel.dirty) continue;
      sel.dirty = false;
      for (const f of fams) this.putSet(policySetName(f, sel.def.side, sel.def.key), 'hash:ip', f, this.ipsOf(sel.members, f));
    }
    for (const npe of this.namedPorts.values()) {
      if (!npe.dirty) continue;
      npe.dirty = false;
      const proto = npe.protocol.toLowerCase();
      for (const f of fams) {
        const entries: string[] = [];
        for (const [k, port] of npe.members) {
          const ip = this.pods.get(k)?.ips.get(f);
          if (ip) entries.push(`${ip},${proto}:${port}`);
        }
        this.putSet(namedPortSetName(f, npe.protocol, npe.name), 'hash:ip,port', f, entries);
      }
    }
    for (const d of ['ingress', 'egress'] as const) {
      if (!this.isoDirty[d]) continue;
      this.isoDirty[d] = false;
      for (const f of fams) this.putSet(isolatedSetName(f, d), 'hash:ip', f, this.ipsOf(this.iso[d].keys(), f));
    }
    const localKeys = this.localDirty ? [...this.pods.values()].filter((e) => e.local).map((e) => e.key).sort() : [];
    if (this.localDirty) {
      for (const f of this.failClosed) this.putSet(localPodsSetName(f), 'hash:ip', f, this.ipsOf(localKeys, f));
    }
    for (const ns of this.dirtyNs) this.renderNamespace(ns);
    this.dirtyNs.clear();
    if (this.localDirty) {
      this.localDirty = false;
      for (const f of fams) {
        const jumps: PodJumps[] = [];
        for (const k of localKeys) {
          const j = this.pods.get(k)!.render?.get(f)?.jumps;
          if (j) jumps.push(j);
        }
        const top = topLevelChains(f, this.failClosed.has(f), this.opts.ranges, jumps);
        const m = this.chains.get(f)!;
        m.set(CHAIN_INPUT, top.input);
        m.set(CHAIN_FORWARD, top.forward);
        m.set(CHAIN_OUTPUT, top.output);
      }
    }
    const warnings: string[] = [];
    for (const p of this.policies.values()) warnings.push(...p.compiled.warnings);
    return { tables: tablePlans(fams, this.chains), sets: new Map(this.sets), denySets: denySets(fams), warnings };
  }

  private renderNamespace(ns: string): void {
    const needed = (this.localCountByNs.get(ns) ?? 0) > 0 || (this.policiesByNs.get(ns)?.size ?? 0) > 0;
    for (const f of this.opts.families) {
      const m = this.chains.get(f)!;
      const inName = namespaceChainName(ns, 'ingress');
      const egName = namespaceChainName(ns, 'egress');
      if (!needed) {
        m.delete(inName);
        m.delete(egName);
        continue;
      }
      const keys = [...(this.policiesByNs.get(ns) ?? [])].sort();
      const chains = namespaceChains(f, keys.map((k) => this.policies.get(k)!.compiled));
      m.set(inName, chains.ingress);
      m.set(egName, chains.egress);
    }
  }
}

/** The pure one-shot form: everything compiled from scratch. */
export function compileFirewall(snapshot: ClusterSnapshot, opts: CompileOptions): FirewallPlan {
  return new FirewallCompiler(opts).update(snapshot).plan;
}
