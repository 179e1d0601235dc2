// IPVS generic-netlink messages, built and read in TypeScript (pure; the addon only sends and receives).
// Layout from include/uapi/linux/ip_vs.h (family "IPVS", version 1) and the kernel's ip_vs_ctl.c parser:
// a service is identified by AF + (protocol, address, port) or AF + fwmark; adding or editing it needs all
// of scheduler, flags, timeout and netmask; adding or editing a destination needs forwarding method,
// weight and both thresholds. Ports are big-endian; the netmask is stored as the kernel reads it (be32:
// the mask's bytes for IPv4, a prefix length for IPv6); everything else is host order.
import { formatIP, parseIP } from '../../model/normalize/ip.js';
import { KrtError } from '../../observe/errors.js';
import type { ForwardMethod, IpvsDest, IpvsOp, IpvsProtocol, IpvsService, IpvsServiceEntry, IpvsServiceId, IpvsStats } from './types.js';

// linux/netlink.h, linux/genetlink.h
const NLM_F_REQUEST = 0x1, NLM_F_ACK = 0x4, NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2, NLMSG_DONE = 3;
const NLA_F_NESTED = 0x8000, NLA_TYPE_MASK = 0x3fff;
export const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3, CTRL_ATTR_FAMILY_ID = 1, CTRL_ATTR_FAMILY_NAME = 2;
// linux/ip_vs.h
const IPVS_GENL_VERSION = 1;
export const CMD = { NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4, NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8 } as const;
const CMD_ATTR_SERVICE = 1, CMD_ATTR_DEST = 2;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, STATS64: 12 } as const;
/** IPVS_STATS_ATTR_*: u32 in STATS (bytes u64), all u64 in STATS64 (kernel 4.1+). Rates are per second. */
const STATS_FIELDS = ['conns', 'inPkts', 'outPkts', 'inBytes', 'outBytes', 'cps', 'inPps', 'outPps', 'inBps', 'outBps'] as const;
const DEST = { ADDR: 1, PORT: 2, FWD_METHOD: 3, WEIGHT: 4, U_THRESH: 5, L_THRESH: 6, ADDR_FAMILY: 11 } as const;
const F_PERSISTENT = 0x1, F_ONEPACKET = 0x4, F_SCHED1 = 0x8, F_SCHED2 = 0x10, F_SCHED3 = 0x20;
const FWD: Record<ForwardMethod, number> = { m: 0, i: 2, g: 3 };
const AF_INET = 2, AF_INET6 = 10;
const PROTO: Record<IpvsProtocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTO_NAME = new Map<number, IpvsProtocol>(Object.entries(PROTO).map(([k, v]) => [v, k as IpvsProtocol]));
const SCHEDNAME_MAXLEN = 16;

/** A message being built: attributes appended, nests closed by patching their length. */
class Writer {
  private buf = Buffer.alloc(256);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  header(type: number, flags: number, seq: number, cmd: number, version: number): number {
    const at = this.len;
    this.room(20);
    this.buf.fill(0, at, at + 20);
    this.buf.writeUInt16LE(type, at + 4);
    this.buf.writeUInt16LE(flags, at + 6);
    this.buf.writeUInt32LE(seq >>> 0, at + 8);
    this.buf.writeUInt8(cmd, at + 16);
    this.buf.writeUInt8(version, at + 17);
    this.len += 20;
    return at;
  }
  endMessage(at: number): void {
    this.buf.writeUInt32LE(this.len - at, at);
  }
  attr(type: number, payload: Buffer): void {
    const n = 4 + payload.length;
    const padded = (n + 3) & ~3;
    this.room(padded);
    this.buf.writeUInt16LE(n, this.len);
    this.buf.writeUInt16LE(type, this.len + 2);
    payload.copy(this.buf, this.len + 4);
    this.buf.fill(0, this.len + n, this.len + padded);
    this.len += padded;
  }
  u16(type: number, v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.attr(type, b);
  }
  be16(type: number, v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.attr(type, b);
  }
  u32(type: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.attr(type, b);
  }
  nest(type: number): number {
    const at = this.len;
    this.attr(type | NLA_F_NESTED, Buffer.alloc(0));
    return at;
  }
  endNest(at: number): void {
    this.buf.writeUInt16LE(this.len - at, at);
  }
  take(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A value the kernel would refuse (or misread): the operation is not sent. */
export class IpvsCodecError extends KrtError {
  constructor(message: string) {
    super('KRT_IPVS_NETLINK', message);
  }
}

/** 16 bytes (union nf_inet_addr), the family, or a clear error. */
function addrBytes(text: string, what: string): { bytes: Buffer; family: 4 | 6 } {
  const ip = parseIP(text);
  if (!ip) throw new IpvsCodecError(`${what}: "${text}" is not an IP address`);
  const b = Buffer.alloc(16);
  b.set(ip.bytes);
  return { bytes: b, family: ip.family };
}

function checkPort(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new IpvsCodecError(`${what}: port ${p} is out of range`);
  return p;
}

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new IpvsCodecError(`${what}: ${v} is not an unsigned 32-bit integer`);
  return v;
}

/** Scheduler flag names (ipvsadm -b) to the kernel's bits. */
function flagBits(flags: readonly string[]): number {
  let bits = 0;
  for (const f of flags) {
    if (f === 'flag-1' || f.endsWith('-fallback')) bits |= F_SCHED1;
    else if (f === 'flag-2' || f.endsWith('-port')) bits |= F_SCHED2;
    else if (f === 'flag-3') bits |= F_SCHED3;
    else throw new IpvsCodecError(`unknown scheduler flag "${f}"`);
  }
  return bits;
}

/** The kernel's bits back to ipvsadm's names, which depend on the scheduler. */
function flagNames(scheduler: string, bits: number): string[] {
  const named = scheduler === 'sh' || scheduler === 'mh';
  const out: string[] = [];
  if (bits & F_SCHED1) out.push(named ? `${scheduler}-fallback` : 'flag-1');
  if (bits & F_SCHED2) out.push(named ? `${scheduler}-port` : 'flag-2');
  if (bits & F_SCHED3) out.push('flag-3');
  return out.sort();
}

function putServiceId(w: Writer, s: IpvsServiceId): 4 | 6 {
  if (s.fwmark !== undefined) {
    w.u16(SVC.AF, s.family === 6 ? AF_INET6 : AF_INET);
    w.u32(SVC.FWMARK, checkU32(s.fwmark, 'fwmark'));
    return s.family;
  }
  const a = addrBytes(s.address, 'virtual service');
  w.u16(SVC.AF, a.family === 6 ? AF_INET6 : AF_INET);
  w.u16(SVC.PROTOCOL, PROTO[s.protocol]);
  w.attr(SVC.ADDR, a.bytes);
  w.be16(SVC.PORT, checkPort(s.port, 'virtual service'));
  return a.family;
}

function putServiceAttrs(w: Writer, s: IpvsService, family: 4 | 6): void {
  if (!s.scheduler || s.scheduler.length >= SCHEDNAME_MAXLEN || !/^[a-z0-9_-]+$/.test(s.scheduler)) throw new IpvsCodecError(`scheduler "${s.scheduler}" is not a scheduler name`);
  w.attr(SVC.SCHED_NAME, Buffer.from(`${s.scheduler}\0`));
  const persistent = s.persistenceSeconds !== undefined;
  const flags = Buffer.alloc(8);
  flags.writeUInt32LE((persistent ? F_PERSISTENT : 0) | (s.onePacket ? F_ONEPACKET : 0) | flagBits(s.flags));
  // Mask all ones, as ipvsadm sends it: the kernel keeps its own hashed bit.
  flags.writeUInt32LE(0xffffffff, 4);
  w.attr(SVC.FLAGS, flags);
  w.u32(SVC.TIMEOUT, persistent ? checkU32(s.persistenceSeconds!, 'persistence timeout') : 0);
  const bits = family === 4 ? 32 : 128;
  const prefix = s.persistenceNetmask ?? bits;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > bits) throw new IpvsCodecError(`persistence netmask /${prefix} is out of range`);
  const mask = Buffer.alloc(4);
  if (family === 4) mask.writeUInt32BE(prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0);
  else mask.writeUInt32LE(prefix);
  w.attr(SVC.NETMASK, mask);
}

function putDest(w: Writer, s: IpvsServiceId, d: { address: string; port: number } & Partial<IpvsDest>, full: boolean): void {
  const a = addrBytes(d.address, 'real server');
  w.attr(DEST.ADDR, a.bytes);
  // As ipvsadm does (so both writers leave the same table): tunnelled and direct-routed packets keep their
  // destination port, so the real server of an address service takes the service's port. ipvsadm leaves a
  // fwmark service's real server the port it was given (DSR names its endpoints by it).
  const port = full && d.method !== undefined && d.method !== 'm' && s.fwmark === undefined ? s.port : d.port;
  w.be16(DEST.PORT, checkPort(port, 'real server'));
  if (!full) return;
  w.u32(DEST.FWD_METHOD, FWD[d.method ?? 'm']);
  // The kernel reads the weight as a signed int and refuses a negative one.
  if (!Number.isInteger(d.weight) || d.weight! < 0 || d.weight! > 0x7fffffff) throw new IpvsCodecError(`real server weight ${d.weight} is out of range`);
  w.u32(DEST.WEIGHT, d.weight!);
  w.u32(DEST.U_THRESH, checkU32(d.upperThreshold ?? 0, 'upper threshold'));
  w.u32(DEST.L_THRESH, checkU32(d.lowerThreshold ?? 0, 'lower threshold'));
  w.u16(DEST.ADDR_FAMILY, a.family === 6 ? AF_INET6 : AF_INET);
}

const OP_CMD: Record<IpvsOp['op'], number> = {
  'add-service': CMD.NEW_SERVICE, 'edit-service': CMD.SET_SERVICE, 'del-service': CMD.DEL_SERVICE,
  'add-dest': CMD.NEW_DEST, 'edit-dest': CMD.SET_DEST, 'del-dest': CMD.DEL_DEST,
};

/** Appends one operation as a request with an ack. Throws IpvsCodecError (nothing appended) on a bad value. */
export function encodeOp(w: Writer, familyId: number, seq: number, o: IpvsOp): void {
  const start = w.len;
  try {
    const at = w.header(familyId, NLM_F_REQUEST | NLM_F_ACK, seq, OP_CMD[o.op], IPVS_GENL_VERSION);
    const n = w.nest(CMD_ATTR_SERVICE);
    const family = putServiceId(w, o.service);
    if (o.op === 'add-service' || o.op === 'edit-service') putServiceAttrs(w, o.service, family);
    w.endNest(n);
    if (o.op === 'add-dest' || o.op === 'edit-dest' || o.op === 'del-dest') {
      const d = w.nest(CMD_ATTR_DEST);
      putDest(w, o.service, o.dest, o.op !== 'del-dest');
      w.endNest(d);
    }
    w.endMessage(at);
  } catch (e) {
    w.len = start;
    throw e;
  }
}

/** A batch of operations as consecutive requests from `seq`; an operation with a bad value is left out and reported. */
export function encodeOps(familyId: number, seq: number, ops: readonly IpvsOp[]): { buf: Buffer; seqs: (number | undefined)[]; invalid: Map<number, string> } {
  const w = new Writer();
  const seqs: (number | undefined)[] = [];
  const invalid = new Map<number, string>();
  let next = seq;
  ops.forEach((o, i) => {
    try {
      encodeOp(w, familyId, next, o);
      seqs.push(next++);
    } catch (e) {
      if (!(e instanceof IpvsCodecError)) throw e;
      seqs.push(undefined);
      invalid.set(i, e.message);
    }
  });
  return { buf: w.take(), seqs, invalid };
}

export function encodeGetFamily(seq: number, name = 'IPVS'): Buffer {
  const w = new Writer();
  const at = w.header(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, CTRL_CMD_GETFAMILY, 1);
  w.attr(CTRL_ATTR_FAMILY_NAME, Buffer.from(`${name}\0`));
  w.endMessage(at);
  return w.take();
}

export function encodeDumpServices(familyId: number, seq: number): Buffer {
  const w = new Writer();
  const at = w.header(familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, CMD.GET_SERVICE, IPVS_GENL_VERSION);
  w.endMessage(at);
  return w.take();
}

export function encodeDumpDests(familyId: number, seq: number, s: IpvsServiceId): Buffer {
  const w = new Writer();
  const at = w.header(familyId, NLM_F_REQUEST | NLM_F_DUMP, seq, CMD.GET_DEST, IPVS_GENL_VERSION);
  const n = w.nest(CMD_ATTR_SERVICE);
  putServiceId(w, s);
  w.endNest(n);
  w.endMessage(at);
  return w.take();
}

// --- replies

export interface Reply {
  readonly type: number;
  readonly seq: number;
  /** NLMSG_ERROR / NLMSG_DONE: 0 or a negative errno. */
  readonly error?: number;
  /** Generic netlink command and attributes of a data message. */
  readonly cmd?: number;
  readonly attrs?: Buffer;
}

/** Splits the addon's reply buffer into messages. */
export function parseReplies(buf: Buffer): Reply[] {
  const out: Reply[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    const seq = buf.readUInt32LE(off + 8);
    if (type === NLMSG_ERROR || type === NLMSG_DONE) out.push({ type, seq, error: len >= 20 ? buf.readInt32LE(off + 16) : 0 });
    else if (len >= 20) out.push({ type, seq, cmd: buf.readUInt8(off + 16), attrs: buf.subarray(off + 20, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}

export const isEnd = (r: Reply) => r.type === NLMSG_ERROR || r.type === NLMSG_DONE;

/** Attributes of one level, by type (nested flag stripped). */
function attrs(b: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= b.length; ) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    m.set(b.readUInt16LE(off + 2) & NLA_TYPE_MASK, b.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return m;
}

export function familyIdOf(replies: readonly Reply[]): number | undefined {
  for (const r of replies) {
    const id = r.attrs && attrs(r.attrs).get(CTRL_ATTR_FAMILY_ID);
    if (id && id.length >= 2) return id.readUInt16LE(0);
  }
  return undefined;
}

const addrText = (b: Buffer | undefined, family: 4 | 6) => (b ? formatIP({ family, bytes: Uint8Array.from(b.subarray(0, family === 4 ? 4 : 16)) }) : '');

/** A service of a GET_SERVICE dump reply (undefined: not one, or a protocol we do not name). */
export function decodeService(r: Reply): IpvsService | undefined {
  const top = r.attrs && attrs(r.attrs).get(CMD_ATTR_SERVICE);
  if (!top) return undefined;
  const a = attrs(top);
  const af = a.get(SVC.AF)?.readUInt16LE(0);
  const family: 4 | 6 = af === AF_INET6 ? 6 : 4;
  const fwmark = a.get(SVC.FWMARK)?.readUInt32LE(0) ?? 0;
  const scheduler = (a.get(SVC.SCHED_NAME)?.toString('latin1') ?? '').replace(/\0.*$/s, '');
  const flags = a.get(SVC.FLAGS)?.readUInt32LE(0) ?? 0;
  const timeout = a.get(SVC.TIMEOUT)?.readUInt32LE(0) ?? 0;
  const maskBuf = a.get(SVC.NETMASK);
  let prefix = family === 4 ? 32 : 128;
  if (maskBuf && maskBuf.length >= 4) {
    if (family === 6) prefix = maskBuf.readUInt32LE(0);
    else {
      const m = maskBuf.readUInt32BE(0);
      prefix = 0;
      while (prefix < 32 && (m & (0x80000000 >>> prefix)) !== 0) prefix++;
    }
  }
  let id: IpvsServiceId;
  if (fwmark) id = { fwmark, family };
  else {
    const protocol = PROTO_NAME.get(a.get(SVC.PROTOCOL)?.readUInt16LE(0) ?? 0);
    if (!protocol) return undefined;
    id = { protocol, address: addrText(a.get(SVC.ADDR), family), port: a.get(SVC.PORT)?.readUInt16BE(0) ?? 0 };
  }
  return {
    ...id,
    scheduler,
    flags: flagNames(scheduler, flags),
    ...(flags & F_PERSISTENT ? { persistenceSeconds: timeout } : {}),
    ...(prefix !== (family === 4 ? 32 : 128) ? { persistenceNetmask: prefix } : {}),
    ...(flags & F_ONEPACKET ? { onePacket: true } : {}),
  };
}

/** The counters a GET_SERVICE dump reply carries (64-bit ones where the kernel sends them), or undefined. */
export function decodeServiceStats(r: Reply): IpvsStats | undefined {
  const top = r.attrs && attrs(r.attrs).get(CMD_ATTR_SERVICE);
  if (!top) return undefined;
  const a = attrs(top);
  const nest = a.get(SVC.STATS64) ?? a.get(SVC.STATS);
  if (!nest) return undefined;
  const st = attrs(nest);
  const value = (type: number): number => {
    const b = st.get(type);
    return !b ? 0 : b.length >= 8 ? Number(b.readBigUInt64LE(0)) : b.length >= 4 ? b.readUInt32LE(0) : 0;
  };
  return Object.fromEntries(STATS_FIELDS.map((f, i) => [f, value(i + 1)])) as unknown as IpvsStats;
}

/** A destination of a GET_DEST dump reply. */
export function decodeDest(r: Reply, serviceFamily: 4 | 6): IpvsDest | undefined {
  const top = r.attrs && attrs(r.attrs).get(CMD_ATTR_DEST);
  if (!top) return undefined;
  const a = attrs(top);
  const af = a.get(DEST.ADDR_FAMILY)?.readUInt16LE(0);
  const family: 4 | 6 = af === undefined ? serviceFamily : af === AF_INET6 ? 6 : 4;
  const fwd = (a.get(DEST.FWD_METHOD)?.readUInt32LE(0) ?? 0) & 7;
  const u = a.get(DEST.U_THRESH)?.readUInt32LE(0) ?? 0;
  const l = a.get(DEST.L_THRESH)?.readUInt32LE(0) ?? 0;
  return {
    address: addrText(a.get(DEST.ADDR), family),
    port: a.get(DEST.PORT)?.readUInt16BE(0) ?? 0,
    weight: a.get(DEST.WEIGHT)?.readInt32LE(0) ?? 0,
    // 1 (local node) is what the kernel reports for a masqueraded real server on one of its own addresses.
    method: fwd === 2 ? 'i' : fwd === 3 ? 'g' : 'm',
    ...(u ? { upperThreshold: u } : {}),
    ...(l ? { lowerThreshold: l } : {}),
  };
}

export const serviceFamily = (s: IpvsServiceId): 4 | 6 => (s.fwmark !== undefined ? s.family : s.address.includes(':') ? 6 : 4);

export type { IpvsServiceEntry };
