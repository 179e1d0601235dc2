// The proxy plan, recompiled only for the services that changed. compileProxyPlan (services.ts) stays the
// definition: a service's part of the plan is compileProxyPlan of the cluster narrowed to that service and
// its EndpointSlices (plus the nodes). Services are independent of each other except when two claim the
// same IPVS address, which is settled here exactly as the full compile settles it: the service first by
// namespace/name keeps it. Parts are kept between calls, so an unchanged service's VirtualServer objects
// are the same objects in the next plan and the applier skips them by identity.
//
// What a part may depend on: the Service, its slices, the nodes and the inputs. Pods, namespaces and
// policies are not given to it (a change to them would not recompile anything); the nodes or the inputs
// changing recompiles every service.
import type { ClusterSnapshot, EndpointSliceModel, ObjectKey, ServiceModel } from '../../../model/types.js';
import { compileDsr, DEFAULT_DSR_TCP_MSS, dsrAddressKey, placeDsrServers } from './dsr.js';
import { virtualServerKey, type NatRule, type ProxyPlan, type VirtualServer } from './plan.js';
import { alreadyServed, compileProxyPlan, type ProxyInputs } from './services.js';

const EMPTY = new Map<never, never>();

/** Every field of ProxyPlan, so a new one fails the typecheck here until assemble() merges it. */
const ASSEMBLED: Record<keyof ProxyPlan, true> = { virtualServers: true, vips: true, nat: true, skipped: true, dsr: true };
void ASSEMBLED;

interface Part {
  readonly plan: ProxyPlan;
  /** The part's NAT rules without the plan-wide ones (those are in `global`). */
  readonly nat: readonly NatRule[];
}

const sliceOwner = (s: EndpointSliceModel) => `${s.namespace}/${s.serviceName}`;
const sameJSON = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export interface CompileStats {
  /** Services compiled by this call (all of them after a reset). */
  readonly recompiled: number;
  /** The cache was dropped (first call, changed inputs or nodes). */
  readonly reset: boolean;
}

export class ProxyCompiler {
  private inputsKey: string | undefined;
  private nodes: ClusterSnapshot['nodes'] | undefined;
  private services: ReadonlyMap<ObjectKey, ServiceModel> = EMPTY;
  private slices: ReadonlyMap<ObjectKey, EndpointSliceModel> = EMPTY;
  /** Slices by owning service (namespace/serviceName), keyed as in the snapshot, in snapshot order. */
  private readonly slicesOf = new Map<string, Map<ObjectKey, EndpointSliceModel>>();
  private readonly parts = new Map<string, Part>();
  /** Keys of `parts`, sorted as the full compile orders services. */
  private order: string[] = [];
  private global: ProxyPlan | undefined;
  private last: ProxyPlan | undefined;
  private lastStats: CompileStats = { recompiled: 0, reset: false };
  private tcpMss = DEFAULT_DSR_TCP_MSS;

  /** What the last compile() did. */
  stats(): CompileStats {
    return this.lastStats;
  }

  compile(snapshot: ClusterSnapshot, inp: ProxyInputs): ProxyPlan {
    const inputsKey = JSON.stringify(inp);
    this.tcpMss = inp.dsrTcpMss ?? DEFAULT_DSR_TCP_MSS;
    const reset = inputsKey !== this.inputsKey || snapshot.nodes !== this.nodes || !this.global;
    if (reset) {
      this.inputsKey = inputsKey;
      this.nodes = snapshot.nodes;
      this.services = EMPTY;
      this.slices = EMPTY;
      this.slicesOf.clear();
      this.parts.clear();
      this.order = [];
      this.last = undefined;
      this.global = compileProxyPlan({ ...this.narrowed(snapshot), services: EMPTY, endpointSlices: EMPTY }, inp);
    }
    const dirty = new Set<string>();
    if (snapshot.endpointSlices !== this.slices) {
      const prev = this.slices;
      for (const [k, s] of snapshot.endpointSlices) {
        const o = prev.get(k);
        if (o === s) continue;
        if (o && sliceOwner(o) !== sliceOwner(s)) this.unindex(k, o, dirty);
        let m = this.slicesOf.get(sliceOwner(s));
        if (!m) this.slicesOf.set(sliceOwner(s), (m = new Map()));
        m.set(k, s);
        dirty.add(sliceOwner(s));
      }
      for (const [k, o] of prev) if (!snapshot.endpointSlices.has(k)) this.unindex(k, o, dirty);
      this.slices = snapshot.endpointSlices;
    }
    if (snapshot.services !== this.services) {
      const prev = this.services;
      for (const [k, s] of snapshot.services) if (prev.get(k) !== s) dirty.add(k);
      for (const k of prev.keys()) if (!snapshot.services.has(k)) dirty.add(k);
      this.services = snapshot.services;
    }
    this.lastStats = { recompiled: 0, reset };
    if (this.last && dirty.size === 0) return this.last;

    let orderChanged = false;
    let vipsChanged = reset;
    let natChanged = reset;
    let recompiled = 0;
    const base = this.narrowed(snapshot);
    for (const key of dirty) {
      const svc = snapshot.services.get(key);
      const old = this.parts.get(key);
      if (!svc) {
        if (old) {
          this.parts.delete(key);
          orderChanged = true;
        }
        continue;
      }
      const plan = compileProxyPlan({ ...base, services: new Map([[key, svc]]), endpointSlices: this.slicesOf.get(key) ?? EMPTY }, inp);
      recompiled++;
      const part: Part = { plan, nat: this.ownNat(plan) };
      if (!old) orderChanged = true;
      else {
        vipsChanged ||= !sameJSON(old.plan.vips, plan.vips);
        natChanged ||= !sameJSON(old.nat, part.nat);
      }
      this.parts.set(key, part);
    }
    if (orderChanged) {
      this.order = [...this.parts.keys()].sort((a, b) => (a < b ? -1 : 1));
      vipsChanged = natChanged = true;
    }
    this.lastStats = { recompiled, reset };
    this.last = this.assemble(vipsChanged || !this.last ? undefined : this.last.vips, natChanged || !this.last ? undefined : this.last.nat);
    return this.last;
  }

  /** The snapshot a part sees: no pods, namespaces or policies (see the file comment). */
  private narrowed(snapshot: ClusterSnapshot): ClusterSnapshot {
    return { nodes: snapshot.nodes, namespaces: EMPTY, pods: EMPTY, policies: EMPTY, services: EMPTY, endpointSlices: EMPTY };
  }

  private unindex(k: ObjectKey, o: EndpointSliceModel, dirty: Set<string>): void {
    const m = this.slicesOf.get(sliceOwner(o));
    m?.delete(k);
    if (m && m.size === 0) this.slicesOf.delete(sliceOwner(o));
    dirty.add(sliceOwner(o));
  }

  /** A part's NAT rules minus the plan-wide ones compileProxyPlan puts in every plan (the masquerade rule). */
  private ownNat(plan: ProxyPlan): NatRule[] {
    const global = this.global!.nat.map((r) => JSON.stringify(r));
    return plan.nat.filter((r) => !global.includes(JSON.stringify(r)));
  }

  /** The plan from the parts, in service order; unchanged vips and NAT arrays are reused (same object). */
  private assemble(vipsBefore: readonly string[] | undefined, natBefore: readonly NatRule[] | undefined): ProxyPlan {
    const global = this.global!;
    const servers = new Map<string, VirtualServer>(global.virtualServers);
    const skipped = [...global.skipped];
    const vips = vipsBefore ? undefined : new Set<string>(global.vips);
    const nat = natBefore ? undefined : [...global.nat];
    // DSR addresses by dsrAddressKey: their marks are settled over all services at the end, as the full compile does.
    const dsr = new Map<string, VirtualServer>();
    for (const key of this.order) {
      const { plan, nat: own } = this.parts.get(key)!;
      skipped.push(...plan.skipped);
      for (const [k, v] of plan.virtualServers) {
        const [map, mk] = v.fwmark !== undefined ? [dsr, dsrAddressKey(v.address, v.protocol, v.port)] : [servers, k];
        const owner = map.get(mk);
        if (!owner) {
          map.set(mk, v);
          continue;
        }
        const sp = this.services.get(key)?.ports.find((p) => p.name === v.service.port);
        if (sp) skipped.push(alreadyServed(key, sp, virtualServerKey(owner), owner.service));
      }
      if (vips) for (const ip of plan.vips) vips.add(ip);
      if (nat) nat.push(...own);
    }
    placeDsrServers(servers, [...dsr.values()], skipped);
    return {
      virtualServers: servers,
      vips: vipsBefore ?? [...vips!].sort(),
      nat: natBefore ?? nat!,
      skipped,
      dsr: compileDsr(servers, this.tcpMss),
    };
  }
}
