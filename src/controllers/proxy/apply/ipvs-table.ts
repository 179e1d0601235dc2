// The IPVS table as the applier sees it: read (from either writer's dump), diffed against the plan into
// typed IPVS operations, which apply/ipvs-writer.ts sends over netlink or renders for one `ipvsadm -R`. Pure.
import { hostPort, parseIpvsadmSave } from '../../../dataplane/ipvs/ipvsadm.js';
import type { ForwardMethod, IpvsOp, IpvsServiceEntry, IpvsServiceId } from '../../../dataplane/ipvs/types.js';
import type { IpvsProtocol, RealServer, Scheduler, VirtualServer } from '../compile/plan.js';
import { virtualServerKey } from '../compile/plan.js';

export interface KernelRealServer extends RealServer {
  /** m = masquerade (NAT), g = direct routing, i = ipip tunnel. */
  readonly method: ForwardMethod;
}

export interface KernelVirtualServer {
  /** A firewall-mark service (`-f MARK`, DSR); protocol, address and port are then placeholders. */
  readonly fwmark?: number;
  readonly protocol: IpvsProtocol;
  readonly address: string;
  readonly port: number;
  readonly scheduler: string;
  readonly flags: readonly string[];
  readonly persistenceSeconds?: number;
  readonly realServers: readonly KernelRealServer[];
}

/**
 * A dump (netlink or `ipvsadm -S -n`) keyed by virtualServerKey. An IPv4 fwmark service is keyed by its mark
 * (`fwmark/MARK`, protocol/address/port placeholders); whether it is ours is the applier's call (its marks).
 * IPv6 fwmark services are left out: DSR marks only IPv4, so none is ours and none may collide with a key.
 */
export function kernelTable(entries: readonly IpvsServiceEntry[]): Map<string, KernelVirtualServer> {
  const out = new Map<string, KernelVirtualServer>();
  for (const e of entries) {
    if (e.fwmark !== undefined && e.family !== 4) continue;
    const id = e.fwmark !== undefined ? { fwmark: e.fwmark, protocol: 'tcp' as const, address: '', port: 0 } : { protocol: e.protocol, address: e.address, port: e.port };
    out.set(virtualServerKey(id), {
      ...id,
      scheduler: e.scheduler,
      flags: e.flags,
      ...(e.persistenceSeconds !== undefined ? { persistenceSeconds: e.persistenceSeconds } : {}),
      realServers: e.dests.map((d) => ({ address: d.address, port: d.port, weight: d.weight, method: d.method })),
    });
  }
  return out;
}

/** Parses `ipvsadm -S -n` into the table (tests read the fallback writer's text with it). */
export function parseIpvsSave(text: string): Map<string, KernelVirtualServer> {
  return kernelTable(parseIpvsadmSave(text));
}

export const realServerKey = (vsKey: string, r: { address: string; port: number }) => `${vsKey} -> ${hostPort(r.address, r.port)}`;
/** The virtual server part of a realServerKey. */
export const virtualServerOf = (rsKey: string) => rsKey.slice(0, rsKey.indexOf(' -> '));

export interface IpvsDiff {
  /** IPVS operations, in an order the kernel accepts (services before their real servers). */
  readonly ops: IpvsOp[];
  readonly servicesAdded: number;
  readonly servicesRemoved: number;
  readonly servicesEdited: number;
  readonly realServersAdded: number;
  readonly realServersRemoved: number;
  /** Real servers set to weight 0 to drain instead of being removed (graceful termination). */
  readonly drained: readonly string[];
  /**
   * What the kernel holds once the commands succeed, for every virtual server they touch or that was
   * compared (undefined: deleted). The applier folds it into its copy of the table.
   */
  readonly after: ReadonlyMap<string, KernelVirtualServer | undefined>;
  /** Virtual servers of the plan compared entry by entry (the rest were `unchanged`). */
  readonly compared: number;
}

export interface DiffOptions {
  /** Whether an existing virtual server not in the plan is ours to remove. */
  readonly owned: (v: KernelVirtualServer) => boolean;
  /** Remove a real server by draining it first (weight 0) instead of deleting it. */
  readonly graceful: boolean;
  /** Draining real servers (realServerKey) to leave as they are for now. */
  readonly keepDraining: ReadonlySet<string>;
  /**
   * A virtual server of the plan known to be in the kernel exactly as planned (the applier's cache: the
   * same plan object was applied before): skipped without comparing its real servers.
   */
  readonly unchanged?: (key: string, v: VirtualServer) => boolean;
}

/** The kernel's name of a virtual server: a firewall mark (DSR, always IPv4 here) or protocol, address, port. */
const idOf = (v: { protocol: IpvsProtocol; address: string; port: number; fwmark?: number | undefined }): IpvsServiceId =>
  v.fwmark !== undefined ? { fwmark: v.fwmark, family: 4 } : { protocol: v.protocol, address: v.address, port: v.port };

const serviceOp = (op: 'add-service' | 'edit-service', v: VirtualServer): IpvsOp => ({
  op,
  service: { ...idOf(v), scheduler: v.scheduler, flags: v.flags, ...(v.persistenceSeconds !== undefined ? { persistenceSeconds: v.persistenceSeconds } : {}) },
});

/** The forwarding method of a planned real server: i = IP-in-IP tunnel (DSR), else m = masquerade. */
const methodOf = (r: RealServer): ForwardMethod => (r.forward === 'tunnel' ? 'i' : 'm');
/** A real server of the plan takes its method from the plan; one read from the kernel keeps its own. */
const destOp = (op: 'add-dest' | 'edit-dest', v: VirtualServer | KernelVirtualServer, r: RealServer | KernelRealServer, weight = r.weight): IpvsOp => ({
  op,
  service: idOf(v),
  dest: { address: r.address, port: r.port, weight, method: 'method' in r ? r.method : methodOf(r) },
});

function sameService(v: VirtualServer, k: KernelVirtualServer): boolean {
  return v.scheduler === (k.scheduler as Scheduler) && v.flags.join(',') === [...k.flags].sort().join(',') && v.persistenceSeconds === k.persistenceSeconds;
}

const asKernel = (v: VirtualServer, extra: readonly KernelRealServer[]): KernelVirtualServer => ({
  ...(v.fwmark !== undefined ? { fwmark: v.fwmark } : {}),
  protocol: v.protocol,
  address: v.address,
  port: v.port,
  scheduler: v.scheduler,
  flags: v.flags,
  ...(v.persistenceSeconds !== undefined ? { persistenceSeconds: v.persistenceSeconds } : {}),
  realServers: [...v.realServers.map((r): KernelRealServer => ({ address: r.address, port: r.port, weight: r.weight, method: methodOf(r) })), ...extra],
});

export function diffIpvs(desired: ReadonlyMap<string, VirtualServer>, current: ReadonlyMap<string, KernelVirtualServer>, o: DiffOptions): IpvsDiff {
  const cmds: IpvsOp[] = [];
  const drained: string[] = [];
  const after = new Map<string, KernelVirtualServer | undefined>();
  let servicesAdded = 0, servicesRemoved = 0, servicesEdited = 0, realServersAdded = 0, realServersRemoved = 0, compared = 0;
  for (const [key, v] of desired) {
    const k = current.get(key);
    if (!k) {
      cmds.push(serviceOp('add-service', v));
      servicesAdded++;
      for (const r of v.realServers) cmds.push(destOp('add-dest', v, r)), realServersAdded++;
      after.set(key, asKernel(v, []));
      continue;
    }
    if (o.unchanged?.(key, v)) continue;
    compared++;
    if (!sameService(v, k)) cmds.push(serviceOp('edit-service', v)), servicesEdited++;
    const want = new Map(v.realServers.map((r) => [realServerKey(key, r), r]));
    const have = new Map(k.realServers.map((r) => [realServerKey(key, r), r]));
    for (const [rk, r] of want) {
      const h = have.get(rk);
      if (!h) cmds.push(destOp('add-dest', v, r)), realServersAdded++;
      else if (h.weight !== r.weight || h.method !== methodOf(r)) cmds.push(destOp('edit-dest', v, r));
    }
    const stay: KernelRealServer[] = [];
    for (const [rk, h] of have) {
      if (want.has(rk)) continue;
      if (o.graceful && o.keepDraining.has(rk)) {
        if (h.weight !== 0) cmds.push(destOp('edit-dest', k, h, 0));
        drained.push(rk);
        stay.push({ ...h, weight: 0 });
      } else if (o.graceful && h.weight !== 0 && !o.keepDraining.has(rk)) {
        // Newly removed: drain first; the applier deletes it once idle or after the grace period.
        cmds.push(destOp('edit-dest', k, h, 0));
        drained.push(rk);
        stay.push({ ...h, weight: 0 });
      } else {
        cmds.push({ op: 'del-dest', service: idOf(k), dest: { address: h.address, port: h.port } });
        realServersRemoved++;
      }
    }
    after.set(key, asKernel(v, stay));
  }
  for (const [key, k] of current) {
    if (desired.has(key) || !o.owned(k)) continue;
    cmds.push({ op: 'del-service', service: idOf(k) });
    servicesRemoved++;
    after.set(key, undefined);
  }
  return { ops: cmds, servicesAdded, servicesRemoved, servicesEdited, realServersAdded, realServersRemoved, drained, after, compared };
}
