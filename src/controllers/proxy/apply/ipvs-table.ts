// The IPVS table as ipvsadm reads and writes it: parse `ipvsadm -S -n`, diff against the plan, render
// the commands for one `ipvsadm -R` batch. Pure; apply/applier.ts runs the commands.
import type { IpvsProtocol, RealServer, Scheduler, SchedulerFlag, VirtualServer } from '../compile/plan.js';
import { virtualServerKey } from '../compile/plan.js';

export interface KernelRealServer extends RealServer {
  /** m = masquerade (NAT), g = direct routing, i = ipip tunnel. */
  readonly method: 'm' | 'g' | 'i';
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

const PROTO_FLAG: Record<IpvsProtocol, string> = { tcp: '-t', udp: '-u', sctp: '--sctp-service' };
const FLAG_PROTO: Record<string, IpvsProtocol> = { '-t': 'tcp', '--tcp-service': 'tcp', '-u': 'udp', '--udp-service': 'udp', '--sctp-service': 'sctp' };

function splitHostPort(s: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  return m ? { address: m[1] as string, port: Number(m[2]) } : undefined;
}

const hostPort = (address: string, port: number) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

/** Parses `ipvsadm -S -n`; a fwmark service (-f MARK) is keyed by its mark. */
export function parseIpvsSave(text: string): Map<string, KernelVirtualServer> {
  const out = new Map<string, { v: Omit<KernelVirtualServer, 'realServers'>; rs: KernelRealServer[] }>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] !== '-A' && t[0] !== '-a') continue;
    const mark = t[1] === '-f' || t[1] === '--fwmark-service' ? Number(t[2]) : undefined;
    const proto = mark !== undefined ? 'tcp' : FLAG_PROTO[t[1] ?? ''];
    const hp = mark !== undefined ? { address: '', port: 0 } : splitHostPort(t[2] ?? '');
    if (!proto || !hp || Number.isNaN(mark)) continue;
    const key = virtualServerKey({ protocol: proto, ...hp, fwmark: mark });
    const opt = (name: string): string | undefined => {
      const i = t.indexOf(name, 3);
      return i > 0 ? t[i + 1] : undefined;
    };
    if (t[0] === '-A') {
      const p = opt('-p');
      out.set(key, {
        v: { ...(mark !== undefined ? { fwmark: mark } : {}), protocol: proto, ...hp, scheduler: opt('-s') ?? 'wlc', flags: (opt('-b') ?? '').split(',').filter(Boolean).sort(), ...(p !== undefined ? { persistenceSeconds: Number(p) } : {}) },
        rs: [],
      });
    } else {
      const r = splitHostPort(opt('-r') ?? '');
      const entry = out.get(key);
      if (!r || !entry) continue;
      const method = t.includes('-g') ? 'g' : t.includes('-i') ? 'i' : 'm';
      entry.rs.push({ ...r, weight: Number(opt('-w') ?? 1), method });
    }
  }
  return new Map([...out].map(([k, { v, rs }]) => [k, { ...v, realServers: rs }]));
}

export const realServerKey = (vsKey: string, r: { address: string; port: number }) => `${vsKey} -> ${hostPort(r.address, r.port)}`;
/** The virtual server part of a realServerKey. */
export const virtualServerOf = (rsKey: string) => rsKey.slice(0, rsKey.indexOf(' -> '));

export interface IpvsDiff {
  /** ipvsadm -R input lines, in an order the kernel accepts (services before their real servers). */
  readonly commands: string[];
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

function serviceSpec(v: { protocol: IpvsProtocol; address: string; port: number; fwmark?: number | undefined }): string {
  if (v.fwmark !== undefined) return `-f ${v.fwmark}`;
  return `${PROTO_FLAG[v.protocol]} ${hostPort(v.address, v.port)}`;
}

function serviceArgs(v: VirtualServer): string {
  return [
    serviceSpec(v),
    `-s ${v.scheduler}`,
    ...(v.flags.length ? [`-b ${v.flags.join(',')}`] : []),
    ...(v.persistenceSeconds !== undefined ? [`-p ${v.persistenceSeconds}`] : []),
  ].join(' ');
}

/** ipvsadm's forwarding flag for a planned real server: -i tunnel (DSR), else -m masquerade. */
const methodOf = (r: RealServer): KernelRealServer['method'] => (r.forward === 'tunnel' ? 'i' : 'm');
const realArgs = (v: VirtualServer | KernelVirtualServer, r: RealServer | KernelRealServer, weight = r.weight) =>
  `${serviceSpec(v)} -r ${hostPort(r.address, r.port)} -${'method' in r ? r.method : methodOf(r)} -w ${weight}`;

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
  const cmds: string[] = [];
  const drained: string[] = [];
  const after = new Map<string, KernelVirtualServer | undefined>();
  let servicesAdded = 0, servicesRemoved = 0, servicesEdited = 0, realServersAdded = 0, realServersRemoved = 0, compared = 0;
  for (const [key, v] of desired) {
    const k = current.get(key);
    if (!k) {
      cmds.push(`-A ${serviceArgs(v)}`);
      servicesAdded++;
      for (const r of v.realServers) cmds.push(`-a ${realArgs(v, r)}`), realServersAdded++;
      after.set(key, asKernel(v, []));
      continue;
    }
    if (o.unchanged?.(key, v)) continue;
    compared++;
    if (!sameService(v, k)) cmds.push(`-E ${serviceArgs(v)}`), servicesEdited++;
    const want = new Map(v.realServers.map((r) => [realServerKey(key, r), r]));
    const have = new Map(k.realServers.map((r) => [realServerKey(key, r), r]));
    for (const [rk, r] of want) {
      const h = have.get(rk);
      if (!h) cmds.push(`-a ${realArgs(v, r)}`), realServersAdded++;
      else if (h.weight !== r.weight || h.method !== methodOf(r)) cmds.push(`-e ${realArgs(v, r)}`);
    }
    const stay: KernelRealServer[] = [];
    for (const [rk, h] of have) {
      if (want.has(rk)) continue;
      if (o.graceful && o.keepDraining.has(rk)) {
        if (h.weight !== 0) cmds.push(`-e ${realArgs(k, h, 0)}`);
        drained.push(rk);
        stay.push({ ...h, weight: 0 });
      } else if (o.graceful && h.weight !== 0 && !o.keepDraining.has(rk)) {
        // Newly removed: drain first; the applier deletes it once idle or after the grace period.
        cmds.push(`-e ${realArgs(k, h, 0)}`);
        drained.push(rk);
        stay.push({ ...h, weight: 0 });
      } else {
        cmds.push(`-d ${serviceSpec(k)} -r ${hostPort(h.address, h.port)}`);
        realServersRemoved++;
      }
    }
    after.set(key, asKernel(v, stay));
  }
  for (const [key, k] of current) {
    if (desired.has(key) || !o.owned(k)) continue;
    cmds.push(`-D ${serviceSpec(k)}`);
    servicesRemoved++;
    after.set(key, undefined);
  }
  return { commands: cmds, servicesAdded, servicesRemoved, servicesEdited, realServersAdded, realServersRemoved, drained, after, compared };
}
