// The same IPVS operations as `ipvsadm -R` input lines, and `ipvsadm -S -n` output read back into values:
// the writer used when the netlink addon cannot load, and the reference the netlink path is checked against.
import type { ForwardMethod, IpvsDest, IpvsOp, IpvsProtocol, IpvsService, IpvsServiceEntry, IpvsServiceId, IpvsServiceStats } from './types.js';

const PROTO_FLAG: Record<IpvsProtocol, string> = { tcp: '-t', udp: '-u', sctp: '--sctp-service' };
const FLAG_PROTO: Record<string, IpvsProtocol> = { '-t': 'tcp', '--tcp-service': 'tcp', '-u': 'udp', '--udp-service': 'udp', '--sctp-service': 'sctp' };

export const hostPort = (address: string, port: number) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

function splitHostPort(s: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s) ?? /^\[([^\]]+)\]$/.exec(s) ?? /^([^:]+)$/.exec(s);
  return m ? { address: m[1] as string, port: Number(m[2] ?? 0) } : undefined;
}

function prefixToMask(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.');
}

function maskToPrefix(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return undefined;
  const v = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  let n = 0;
  while (n < 32 && (v & (0x80000000 >>> n)) !== 0) n++;
  return n;
}

const familyOf = (s: IpvsServiceId): 4 | 6 => (s.fwmark !== undefined ? s.family : s.address.includes(':') ? 6 : 4);

function serviceSpec(s: IpvsServiceId): string {
  if (s.fwmark !== undefined) return `-f ${s.fwmark}${s.family === 6 ? ' -6' : ''}`;
  return `${PROTO_FLAG[s.protocol]} ${hostPort(s.address, s.port)}`;
}

function serviceArgs(s: IpvsService): string {
  const parts = [serviceSpec(s), `-s ${s.scheduler}`];
  if (s.flags.length) parts.push(`-b ${s.flags.join(',')}`);
  if (s.persistenceSeconds !== undefined) parts.push(`-p ${s.persistenceSeconds}`);
  if (s.persistenceNetmask !== undefined) parts.push(`-M ${familyOf(s) === 4 ? prefixToMask(s.persistenceNetmask) : s.persistenceNetmask}`);
  if (s.onePacket) parts.push('-o');
  return parts.join(' ');
}

function destArgs(s: IpvsServiceId, d: IpvsDest): string {
  const parts = [serviceSpec(s), `-r ${hostPort(d.address, d.port)}`, `-${d.method}`, `-w ${d.weight}`];
  if (d.upperThreshold) parts.push(`-x ${d.upperThreshold}`);
  if (d.lowerThreshold) parts.push(`-y ${d.lowerThreshold}`);
  return parts.join(' ');
}

/** One `ipvsadm -R` line per operation. */
export function ipvsadmLine(o: IpvsOp): string {
  switch (o.op) {
    case 'add-service':
      return `-A ${serviceArgs(o.service)}`;
    case 'edit-service':
      return `-E ${serviceArgs(o.service)}`;
    case 'del-service':
      return `-D ${serviceSpec(o.service)}`;
    case 'add-dest':
      return `-a ${destArgs(o.service, o.dest)}`;
    case 'edit-dest':
      return `-e ${destArgs(o.service, o.dest)}`;
    case 'del-dest':
      return `-d ${serviceSpec(o.service)} -r ${hostPort(o.dest.address, o.dest.port)}`;
  }
}

/** Reads `ipvsadm -S -n`: every service (address and fwmark ones) with its destinations, in the order listed. */
export function parseIpvsadmSave(text: string): IpvsServiceEntry[] {
  const out: { s: IpvsService; dests: IpvsDest[] }[] = [];
  const byKey = new Map<string, { s: IpvsService; dests: IpvsDest[] }>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] !== '-A' && t[0] !== '-a') continue;
    const opt = (name: string): string | undefined => {
      const i = t.indexOf(name, 2);
      return i > 0 ? t[i + 1] : undefined;
    };
    let id: IpvsServiceId;
    if (t[1] === '-f' || t[1] === '--fwmark-service') {
      const mark = Number(t[2]);
      if (!Number.isInteger(mark)) continue;
      id = { fwmark: mark, family: t.includes('-6') ? 6 : 4 };
    } else {
      const proto = FLAG_PROTO[t[1] ?? ''];
      const hp = splitHostPort(t[2] ?? '');
      if (!proto || !hp) continue;
      id = { protocol: proto, ...hp };
    }
    const key = serviceSpec(id);
    if (t[0] === '-A') {
      const p = opt('-p');
      const mask = opt('-M');
      const prefix = mask !== undefined ? maskToPrefix(mask) : undefined;
      const s: IpvsService = {
        ...id,
        scheduler: opt('-s') ?? 'wlc',
        flags: (opt('-b') ?? '').split(',').filter(Boolean).sort(),
        ...(p !== undefined ? { persistenceSeconds: Number(p) } : {}),
        ...(prefix !== undefined && prefix !== (familyOf(id) === 4 ? 32 : 128) ? { persistenceNetmask: prefix } : {}),
        ...(t.includes('-o') ? { onePacket: true } : {}),
      };
      const e = { s, dests: [] };
      out.push(e);
      byKey.set(key, e);
    } else {
      const r = splitHostPort(opt('-r') ?? '');
      const e = byKey.get(key);
      if (!r || !e) continue;
      const method: ForwardMethod = t.includes('-g') ? 'g' : t.includes('-i') ? 'i' : 'm';
      const x = Number(opt('-x') ?? 0), y = Number(opt('-y') ?? 0);
      e.dests.push({ ...r, weight: Number(opt('-w') ?? 1), method, ...(x ? { upperThreshold: x } : {}), ...(y ? { lowerThreshold: y } : {}) });
    }
  }
  return out.map(({ s, dests }) => ({ ...s, dests }));
}

const LIST_PROTO: Record<string, IpvsProtocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/**
 * The five numbers of each service line of `ipvsadm -L -n --exact --stats` or `--rate`, by serviceSpec:
 * `TCP  10.96.0.10:80  12 80 ...`, `FWM  4242  3 ...`, `FWM  7 IPv6  ...`; real server lines (`->`) skipped.
 */
function parseListNumbers(text: string): Map<string, { id: IpvsServiceId; nums: number[] }> {
  const out = new Map<string, { id: IpvsServiceId; nums: number[] }>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    let id: IpvsServiceId;
    let rest: string[];
    if (t[0] === 'FWM') {
      const mark = Number(t[1]);
      if (!Number.isInteger(mark) || mark <= 0) continue;
      const v6 = t[2] === 'IPv6';
      id = { fwmark: mark, family: v6 ? 6 : 4 };
      rest = t.slice(v6 ? 3 : 2);
    } else {
      const protocol = LIST_PROTO[t[0] ?? ''];
      const hp = protocol && /:\d+$/.test(t[1] ?? '') ? splitHostPort(t[1]!) : undefined;
      if (!protocol || !hp) continue;
      id = { protocol, ...hp };
      rest = t.slice(2);
    }
    const nums = rest.slice(0, 5).map(Number);
    if (nums.length !== 5 || nums.some((n) => !Number.isFinite(n))) continue;
    out.set(serviceSpec(id), { id, nums });
  }
  return out;
}

/** Joins `ipvsadm -L -n --exact --stats` (totals) and `--rate` (per second) into each service's statistics. */
export function parseIpvsadmStats(stats: string, rate: string): IpvsServiceStats[] {
  const r = parseListNumbers(rate);
  return [...parseListNumbers(stats)].map(([key, { id, nums }]) => {
    const [conns, inPkts, outPkts, inBytes, outBytes] = nums as [number, number, number, number, number];
    const [cps, inPps, outPps, inBps, outBps] = (r.get(key)?.nums ?? [0, 0, 0, 0, 0]) as [number, number, number, number, number];
    return { service: id, stats: { conns, inPkts, outPkts, inBytes, outBytes, cps, inPps, outPps, inBps, outBps } };
  });
}
