// Incremental firewall compiler: ClusterSnapshot -> FirewallPlan. The selection index
// (selection-index.ts) follows the cluster and marks what changed; this file is emission: it keeps the
// plan's chains and sets, re-renders only what the index marked (sets of dirty selections, dispatch
// chains of dirty namespaces, top-level chains when local pods changed) and returns a plan that shares
// everything unchanged with the last one by identity. What the chains contain is rules.ts, emit.ts
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
  MAP_FROM_PODS,
  MAP_TO_PODS,
  namespacePodsChainName,
  namedPortSetName,
  namespaceChainName,
  policySetName,
} from './names.js';
import type { CompileStats, FirewallPlan, Rule, SetSpec, VerdictMap } from './plan.js';
import { denySets, namespaceChains, tablePlans, topLevelChains } from './emit.js';
import type { CompiledPolicy, SelectionDef } from './policy.js';
import { commonChain, defaultChain, mapDispatch, namespacePodsChain, podChain, podJumps, tailChain, type PodJumps, type ServiceRanges } from './rules.js';
import { SelectionIndex, type IndexEvents, type NamedPortEntry, type PodEntry } from './selection-index.js';

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
  /**
   * How traffic reaches a local pod's rules. `chains` (iptables; the default): a chain per pod and two
   * jumps per pod in the top-level chains. `maps` (native nftables): one chain per namespace and
   * direction, reached through the to-pods / from-pods verdict maps, so a new pod is two map elements
   * and the top-level chains never change.
   */
  readonly podDispatch?: 'chains' | 'maps';
}

/** A local pod's rendered chain and jumps, per family: kept until its chain changes (IPs, node). */
type PodRender = Map<IPFamily, { chain: Rule[]; jumps: PodJumps }>;

export class FirewallCompiler implements IndexEvents {
  private readonly index: SelectionIndex;
  private readonly sets = new Map<string, SetSpec>();
  private readonly chains = new Map<IPFamily, Map<string, readonly Rule[]>>();
  private readonly podRender = new Map<string, PodRender>();
  /** Families that fail closed (a pod CIDR of theirs is known). */
  private readonly failClosed = new Set<IPFamily>();
  private readonly maps = new Map<IPFamily, Map<string, VerdictMap>>();
  /** Map dispatch: local pod address -> (pod key, namespace), kept per event; published when dirty. */
  private readonly dispatch = new Map<IPFamily, Map<string, { key: string; namespace: string }>>();
  private readonly nsPodsChains = new Map<string, { ingress: string; egress: string }>();
  private readonly byMaps: boolean;
  private setsRecomputed = 0;

  constructor(private readonly opts: CompileOptions) {
    this.index = new SelectionIndex(opts, this);
    this.byMaps = opts.podDispatch === 'maps';
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
      this.maps.set(f, new Map());
      this.dispatch.set(f, new Map());
      if (this.byMaps) {
        // The top-level chains never change under map dispatch: pods come and go as map elements.
        const top = topLevelChains(f, this.failClosed.has(f), opts.ranges, [mapDispatch(MAP_TO_PODS, MAP_FROM_PODS)]);
        m.set(CHAIN_INPUT, top.input);
        m.set(CHAIN_FORWARD, top.forward);
        m.set(CHAIN_OUTPUT, top.output);
      }
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

  // ---- IndexEvents (called by the index only, in the order things change): chains and sets that come
  // and go with pods and policies ----

  localPodAdded(e: PodEntry): void {
    if (this.byMaps) {
      for (const [f, ip] of e.ips) this.dispatch.get(f)?.set(ip, { key: e.key, namespace: e.pod.namespace });
      return;
    }
    let render = this.podRender.get(e.key);
    if (!render) {
      const ns = e.pod.namespace;
      render = new Map();
      for (const [f, ip] of e.ips) {
        render.set(f, {
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
      this.podRender.set(e.key, render);
    }
    for (const [f, r] of render) this.chains.get(f)!.set(e.chain, r.chain);
  }

  localPodDropped(e: PodEntry): void {
    if (this.byMaps) {
      // Only if the address is still this pod's: a new pod may have taken it in the same update.
      for (const [f, ip] of e.ips) {
        const d = this.dispatch.get(f);
        if (d?.get(ip)?.key === e.key) d.delete(ip);
      }
      return;
    }
    this.podRender.delete(e.key);
    for (const f of this.opts.families) this.chains.get(f)!.delete(e.chain);
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
    this.sets.set(name, { name, type, family: f === 4 ? 'inet' : 'inet6', entries });
  }

  private emit(): FirewallPlan {
    const fams = this.opts.families;
    const ix = this.index;
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
      if (!ix.isoDirty[d]) continue;
      ix.isoDirty[d] = false;
      for (const f of fams) this.putSet(isolatedSetName(f, d), 'hash:ip', f, this.ipsOf(ix.iso[d].keys(), f));
    }
    const localKeys = ix.localDirty && !this.byMaps ? [...ix.pods.values()].filter((e) => e.local).map((e) => e.key).sort() : [];
    if (ix.localDirty && !this.byMaps) {
      for (const f of this.failClosed) this.putSet(localPodsSetName(f), 'hash:ip', f, this.ipsOf(localKeys, f));
    }
    for (const ns of ix.dirtyNs) this.renderNamespace(ns);
    ix.dirtyNs.clear();
    if (ix.localDirty && this.byMaps) {
      // Map dispatch: the maps and the local-pods set follow the dispatch index, no sort, no chains.
      ix.localDirty = false;
      for (const f of fams) {
        const to = new Map<string, string>();
        const from = new Map<string, string>();
        for (const [ip, d] of this.dispatch.get(f)!) {
          const names = this.podsChainsOf(d.namespace);
          to.set(ip, names.ingress);
          from.set(ip, names.egress);
        }
        const maps = this.maps.get(f)!;
        maps.set(MAP_TO_PODS, { name: MAP_TO_PODS, family: f, entries: to });
        maps.set(MAP_FROM_PODS, { name: MAP_FROM_PODS, family: f, entries: from });
        if (this.failClosed.has(f)) this.putSet(localPodsSetName(f), 'hash:ip', f, [...to.keys()]);
      }
    }
    if (ix.localDirty) {
      ix.localDirty = false;
      for (const f of fams) {
        const jumps: PodJumps[] = [];
        for (const k of localKeys) {
          const j = this.podRender.get(k)?.get(f)?.jumps;
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
    for (const p of ix.policies.values()) warnings.push(...p.compiled.warnings);
    return { tables: tablePlans(fams, this.chains, this.maps), sets: new Map(this.sets), denySets: denySets(fams), warnings };
  }

  private podsChainsOf(ns: string): { ingress: string; egress: string } {
    let n = this.nsPodsChains.get(ns);
    if (!n) this.nsPodsChains.set(ns, (n = { ingress: namespacePodsChainName(ns, 'ingress'), egress: namespacePodsChainName(ns, 'egress') }));
    return n;
  }

  private renderNamespace(ns: string): void {
    const needed = this.index.namespaceNeeded(ns);
    const policies = needed ? this.index.policiesOf(ns) : [];
    for (const f of this.opts.families) {
      const m = this.chains.get(f)!;
      const inName = namespaceChainName(ns, 'ingress');
      const egName = namespaceChainName(ns, 'egress');
      const { ingress: podsIn, egress: podsEg } = this.podsChainsOf(ns);
      if (!needed) {
        m.delete(inName);
        m.delete(egName);
        m.delete(podsIn);
        m.delete(podsEg);
        continue;
      }
      const chains = namespaceChains(f, policies);
      m.set(inName, chains.ingress);
      m.set(egName, chains.egress);
      if (this.byMaps && !m.has(podsIn)) {
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
