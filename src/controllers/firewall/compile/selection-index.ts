// Incremental selection indexing: which pods each selection (a pod set some policy names) holds, which
// local pods are isolated per direction, which pods carry each named port. It keeps the previous snapshot
// and diffs object identities (maps are replaced, objects shared), so a pod event costs one pass over the
// selections and a policy event one pass over the pods. It renders nothing: it marks what changed
// (`dirty` flags, dirty namespaces) and tells the emitter (compiler.ts), in order, about the objects
// whose chains or sets come and go, through `IndexEvents`.
import type { ClusterSnapshot, IPFamily, Labels, NetworkPolicyModel, PodModel } from '../../../model/types.js';
import { matches as selectorMatches, sameLabels } from '../../../model/normalize/selector.js';
import type { Direction } from './names.js';
import type { SetSpec } from './plan.js';
import { compilePolicy, type CompiledPolicy, type SelectionDef } from './policy.js';

export interface PodEntry {
  readonly key: string;
  readonly pod: PodModel;
  readonly local: boolean;
  readonly ips: ReadonlyMap<IPFamily, string>;
}

/** A pod set shared by every policy whose rules select exactly the same pods. */
export interface Selection {
  readonly def: SelectionDef;
  readonly owners: Set<PolicyEntry>;
  readonly members: Set<string>;
  /** For target selections: how many owners isolate their members for ingress / egress. */
  isoIn: number;
  isoEg: number;
  /** Members changed since the emitter last wrote its set. */
  dirty: boolean;
}

export interface PolicyEntry {
  readonly key: string;
  readonly compiled: CompiledPolicy;
  readonly selections: Selection[];
}

export interface NamedPortEntry {
  readonly protocol: string;
  readonly name: string;
  refs: number;
  /** Pod key -> container port of that name. */
  readonly members: Map<string, number>;
  dirty: boolean;
}

/** What the emitter must add or drop as the index changes, called in the order the changes happen. */
export interface IndexEvents {
  /** A local pod's addresses join its namespace's dispatch (new local pod, or its IPs changed). */
  localPodAdded(e: PodEntry): void;
  /** A local pod's addresses leave it (gone, moved off the node, or its IPs changed). */
  localPodDropped(e: PodEntry): void;
  /** A pod became isolated in that direction (some policy selects it) or stopped being so. */
  isolationChanged(d: Direction, key: string, on: boolean): void;
  policyAdded(c: CompiledPolicy): void;
  policyRemoved(c: CompiledPolicy): void;
  /** An ipBlock set is used by one policy more. */
  blockSetUsed(spec: SetSpec): void;
  /** An ipBlock set no policy uses any more. */
  blockSetUnused(name: string): void;
  /** No policy refers to this selection or named port any more: its sets go. */
  selectionGone(def: SelectionDef): void;
  namedPortGone(npe: NamedPortEntry): void;
}

/** The family of a pod IP. Pod IPs are normalized (model/normalize/pod.ts): valid, canonical text. */
function podIPFamily(ip: string): IPFamily {
  return ip.includes(':') ? 6 : 4;
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

export class SelectionIndex {
  private prev: ClusterSnapshot | undefined;
  readonly pods = new Map<string, PodEntry>();
  /** Every pod object seen, eligible or not, so unchanged ineligible pods are not re-examined. */
  private readonly podObjs = new Map<string, PodModel>();
  private readonly podsByNs = new Map<string, Set<string>>();
  private readonly localCountByNs = new Map<string, number>();
  private readonly nsLabels = new Map<string, Labels>();
  readonly policies = new Map<string, PolicyEntry>();
  private readonly policiesByNs = new Map<string, Set<string>>();
  readonly selections = new Map<string, Selection>();
  private readonly blockRefs = new Map<string, number>();
  private readonly podSelections = new Map<string, Set<Selection>>();
  /** Local pods selected by some policy of that direction, with how many selections isolate them. */
  readonly iso = { ingress: new Map<string, number>(), egress: new Map<string, number>() };
  readonly namedPorts = new Map<string, NamedPortEntry>();
  /** Namespaces whose dispatch chains need rendering again. */
  readonly dirtyNs = new Set<string>();
  stats = { policiesCompiled: 0, podsCompiled: 0 };

  constructor(
    private readonly opts: { readonly nodeName: string; readonly families: readonly IPFamily[] },
    private readonly events: IndexEvents,
  ) {}

  get first(): boolean {
    return this.prev === undefined;
  }

  /** Whether a namespace needs dispatch chains: it has local pods or policies. */
  /** Whether the namespace has local pods (so pod chains and top-level jumps). */
  hasLocalPods(ns: string): boolean {
    return (this.localCountByNs.get(ns) ?? 0) > 0;
  }

  namespaceNeeded(ns: string): boolean {
    return (this.localCountByNs.get(ns) ?? 0) > 0 || (this.policiesByNs.get(ns)?.size ?? 0) > 0;
  }

  /** The namespace's policies, in key order (the order of its dispatch chains). */
  policiesOf(ns: string): CompiledPolicy[] {
    return [...(this.policiesByNs.get(ns) ?? [])].sort().map((k) => this.policies.get(k)!.compiled);
  }

  /** Brings the index to `s`. */
  update(s: ClusterSnapshot): void {
    this.stats = { policiesCompiled: 0, podsCompiled: 0 };
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
      const f = podIPFamily(ip);
      if (this.opts.families.includes(f) && !ips.has(f)) ips.set(f, ip);
    }
    const entry: PodEntry = { key, pod, local: pod.nodeName === this.opts.nodeName, ips };
    this.stats.podsCompiled++;
    const ipsChanged = !old || old.ips.size !== ips.size || [...ips].some(([f, ip]) => old.ips.get(f) !== ip);
    // Labels-only changes keep the pod's dispatch as it is: sets carry selection.
    const sameChain = old !== undefined && !ipsChanged && old.local === entry.local;
    if (old) {
      if (!sameChain && old.local) this.dropLocal(old);
    } else {
      let set = this.podsByNs.get(pod.namespace);
      if (!set) this.podsByNs.set(pod.namespace, (set = new Set()));
      set.add(key);
    }
    // An isolated pod's addresses change: out with the old ones, in with the new.
    const isoMoved = old !== undefined && ipsChanged ? (['ingress', 'egress'] as const).filter((d) => this.iso[d].has(key)) : [];
    for (const d of isoMoved) this.events.isolationChanged(d, key, false);
    this.pods.set(key, entry);
    for (const d of isoMoved) this.events.isolationChanged(d, key, true);
    if (entry.local && !sameChain) this.addLocal(entry);
    if (ipsChanged) for (const sel of this.podSelections.get(key) ?? []) sel.dirty = true;
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
    const ns = e.pod.namespace;
    const n = this.localCountByNs.get(ns) ?? 0;
    this.localCountByNs.set(ns, n + 1);
    if (n === 0) this.dirtyNs.add(ns);
    this.events.localPodAdded(e);
  }

  private dropLocal(e: PodEntry): void {
    const ns = e.pod.namespace;
    const n = (this.localCountByNs.get(ns) ?? 1) - 1;
    if (n <= 0) {
      this.localCountByNs.delete(ns);
      this.dirtyNs.add(ns);
    } else this.localCountByNs.set(ns, n);
    this.events.localPodDropped(e);
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

  /**
   * The pods a new selection can hold: those of the namespaces its terms name or whose labels its
   * namespace selectors match (a namespace test per namespace, not per pod). Namespaces without a
   * Namespace object count as unlabelled, as in `matches`.
   */
  private candidates(def: SelectionDef): Iterable<string> {
    const namespaces = new Set<string>();
    for (const t of def.terms) {
      if (t.namespace !== undefined) namespaces.add(t.namespace);
      else {
        for (const ns of this.podsByNs.keys()) {
          if (!t.nsSelector || selectorMatches(t.nsSelector, this.nsLabels.get(ns) ?? {})) namespaces.add(ns);
        }
      }
    }
    const out: string[] = [];
    for (const ns of namespaces) for (const pk of this.podsByNs.get(ns) ?? []) out.push(pk);
    return out;
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
    const was = this.iso[d].get(podKey) ?? 0;
    const n = was + by;
    if (n <= 0) this.iso[d].delete(podKey);
    else this.iso[d].set(podKey, n);
    if (was <= 0 && n > 0) this.events.isolationChanged(d, podKey, true);
    else if (was > 0 && n <= 0) this.events.isolationChanged(d, podKey, false);
  }

  private addMember(sel: Selection, podKey: string): void {
    sel.members.add(podKey);
    sel.dirty = true;
    let r = this.podSelections.get(podKey);
    if (!r) this.podSelections.set(podKey, (r = new Set()));
    r.add(sel);
    if (sel.isoIn) this.bumpIso('ingress', podKey, sel.isoIn);
    if (sel.isoEg) this.bumpIso('egress', podKey, sel.isoEg);
  }

  private removeMember(sel: Selection, podKey: string): void {
    sel.members.delete(podKey);
    sel.dirty = true;
    const r = this.podSelections.get(podKey);
    r?.delete(sel);
    if (r && r.size === 0) this.podSelections.delete(podKey);
    if (sel.isoIn) this.bumpIso('ingress', podKey, -sel.isoIn);
    if (sel.isoEg) this.bumpIso('egress', podKey, -sel.isoEg);
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
        for (const pk of this.candidates(def)) this.evaluate(sel, pk);
      }
      sel.owners.add(entry);
      entry.selections.push(sel);
      if (def.target) {
        // Only the directions the policy isolates (most policies: ingress alone).
        if (compiled.ingress) {
          sel.isoIn++;
          for (const pk of sel.members) this.bumpIso('ingress', pk, 1);
        }
        if (compiled.egress) {
          sel.isoEg++;
          for (const pk of sel.members) this.bumpIso('egress', pk, 1);
        }
      }
    }
    for (const spec of compiled.blockSets) {
      this.blockRefs.set(spec.name, (this.blockRefs.get(spec.name) ?? 0) + 1);
      this.events.blockSetUsed(spec);
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
    this.events.policyAdded(compiled);
  }

  private removePolicy(key: string): void {
    const entry = this.policies.get(key);
    if (!entry) return;
    const np = entry.compiled.policy;
    for (const sel of entry.selections) {
      sel.owners.delete(entry);
      if (sel.def.target) {
        if (entry.compiled.ingress) {
          sel.isoIn--;
          for (const pk of sel.members) this.bumpIso('ingress', pk, -1);
        }
        if (entry.compiled.egress) {
          sel.isoEg--;
          for (const pk of sel.members) this.bumpIso('egress', pk, -1);
        }
      }
      if (sel.owners.size > 0) continue;
      for (const pk of [...sel.members]) this.removeMember(sel, pk);
      this.selections.delete(sel.def.key);
      this.events.selectionGone(sel.def);
    }
    for (const spec of entry.compiled.blockSets) {
      const n = (this.blockRefs.get(spec.name) ?? 1) - 1;
      if (n > 0) this.blockRefs.set(spec.name, n);
      else {
        this.blockRefs.delete(spec.name);
        this.events.blockSetUnused(spec.name);
      }
    }
    for (const np2 of entry.compiled.namedPorts) {
      const npe = this.namedPorts.get(np2);
      if (npe && --npe.refs <= 0) {
        this.namedPorts.delete(np2);
        this.events.namedPortGone(npe);
      }
    }
    this.events.policyRemoved(entry.compiled);
    this.policiesByNs.get(np.namespace)?.delete(key);
    this.dirtyNs.add(np.namespace);
    this.policies.delete(key);
  }
}
