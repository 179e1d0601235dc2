// Reads of the kernel's addresses, policy rules and one routing table over rtnetlink, in this process's own
// network namespace, without an `ip` process (native/rtnl_read.c moves the bytes; requests and replies are
// built and parsed here, pure). For callers that run their commands here (`runsHere(exec)`): inside
// user-mode Linux an `ip` start costs ~0.5 s of wall time and the kernel answers in a millisecond. Every
// reader returns undefined when the addon cannot load (callers then run `ip` as before).
import { nativeAddon } from '../../native/addon-loader.js';
import { formatIP } from '../../model/normalize/ip.js';

interface RtnlAddon {
  dump(request: Buffer): Buffer;
}

export const rtnlAddon = nativeAddon<RtnlAddon>({ name: 'rtnl_read', dir: 'dataplane/native', env: 'KRT_RTNL_ADDON', label: 'rtnetlink read addon' });

let loaded: RtnlAddon | null | undefined;
function addon(): RtnlAddon | undefined {
  if (process.env['KRT_EXEC_NATIVE'] === '0') return undefined;
  if (loaded === undefined) {
    const a = rtnlAddon.load();
    loaded = a instanceof Error ? null : a;
  }
  return loaded ?? undefined;
}

const NLM_F_REQUEST = 0x1, NLM_F_DUMP = 0x300;
const NLMSG_ERROR = 2, NLMSG_DONE = 3;
export const RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWROUTE = 24, RTM_GETROUTE = 26, RTM_NEWADDR = 20, RTM_GETADDR = 22, RTM_NEWRULE = 32, RTM_GETRULE = 34;
const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
const IFA_ADDRESS = 1, IFA_LOCAL = 2;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PREFSRC = 7, RTA_MULTIPATH = 9, RTA_TABLE = 15, RTA_VIA = 18;
const RTM_F_CLONED = 0x200;
const FRA_SRC = 2, FRA_PRIORITY = 6, FRA_FWMARK = 10, FRA_TABLE = 15;
const IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_LINKINFO = 18, IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, IFLA_IPTUN_LOCAL = 2, IFLA_IPTUN_REMOTE = 3;
/** The kernel's "FIB table does not exist" for a dump filtered by a table nobody ever used. */
const ENOENT = 2;

let seq = Math.floor(Math.random() * 0x7fffffff);

/** One dump request: header, the family message (`body`), then attributes. Pure. */
export function dumpRequest(type: number, body: Buffer, attrs: readonly [number, Buffer][] = []): Buffer {
  const parts = [body, ...attrs.map(([t, v]) => {
    const a = Buffer.alloc((4 + v.length + 3) & ~3);
    a.writeUInt16LE(4 + v.length, 0);
    a.writeUInt16LE(t, 2);
    v.copy(a, 4);
    return a;
  })];
  const len = 16 + parts.reduce((n, p) => n + p.length, 0);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(len, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  h.writeUInt32LE((seq = (seq + 1) >>> 0), 8);
  return Buffer.concat([h, ...parts], len);
}

export interface RtnlMessage {
  readonly type: number;
  /** The family message (ifaddrmsg, rtmsg, fib_rule_hdr): the bytes after the header up to `headerLen`. */
  readonly body: Buffer;
  readonly attrs: ReadonlyMap<number, Buffer>;
}

/**
 * The replies of one dump, split into messages (`headerLen`: size of the family message before the
 * attributes). A dump that ended in an error throws it with its errno, except the ones in `okErrnos`,
 * which read as an empty dump. Pure.
 */
export function parseDump(buf: Buffer, headerLen: number, okErrnos: readonly number[] = []): RtnlMessage[] {
  const out: RtnlMessage[] = [];
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    const type = buf.readUInt16LE(off + 4);
    if (len < 16 || off + len > buf.length) throw new Error('rtnetlink: malformed reply');
    if (type === NLMSG_ERROR) {
      const errno = len >= 20 ? -buf.readInt32LE(off + 16) : 0;
      if (errno === 0 || okErrnos.includes(errno)) return out;
      throw Object.assign(new Error(`rtnetlink dump failed: errno ${errno}`), { errno });
    }
    if (type === NLMSG_DONE) return out;
    const body = buf.subarray(off + 16, off + 16 + headerLen);
    const attrs = new Map<number, Buffer>();
    for (let a = off + 16 + headerLen; a + 4 <= off + len; ) {
      const alen = buf.readUInt16LE(a);
      if (alen < 4 || a + alen > off + len) break;
      attrs.set(buf.readUInt16LE(a + 2) & 0x3fff, buf.subarray(a + 4, a + alen));
      a += (alen + 3) & ~3;
    }
    out.push({ type, body, attrs });
    off += (len + 3) & ~3;
  }
  throw new Error('rtnetlink: dump ended without NLMSG_DONE');
}

export interface KernelAddress {
  readonly ifindex: number;
  /** As `ip addr` prints it first: the local address (IFA_LOCAL), else IFA_ADDRESS. */
  readonly address: string;
  readonly prefixLen: number;
  /** 0 universe, 200 site, 253 link, 254 host. */
  readonly scope: number;
}

/** RTM_NEWADDR messages as addresses (IPv4 and IPv6). Pure. */
export function parseAddresses(msgs: readonly RtnlMessage[]): KernelAddress[] {
  const out: KernelAddress[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWADDR) continue;
    const family = m.body[0];
    const raw = m.attrs.get(IFA_LOCAL) ?? m.attrs.get(IFA_ADDRESS);
    if (!raw || (family === AF_INET ? raw.length !== 4 : family === AF_INET6 ? raw.length !== 16 : true)) continue;
    out.push({
      ifindex: m.body.readUInt32LE(4),
      address: formatIP({ family: family === AF_INET ? 4 : 6, bytes: new Uint8Array(raw) }),
      prefixLen: m.body[1]!,
      scope: m.body[3]!,
    });
  }
  return out;
}

export interface KernelRule {
  readonly priority: number;
  readonly table: number;
  readonly fwmark?: number;
  /** FRA_SRC (absent: from all, or a bare prefix length in `srcLen`). */
  readonly src?: string;
  readonly srcLen: number;
}

/** RTM_NEWRULE messages as rules (priority, table, fwmark). Pure. */
export function parseRules(msgs: readonly RtnlMessage[]): KernelRule[] {
  return msgs
    .filter((m) => m.type === RTM_NEWRULE)
    .map((m) => {
      const fwmark = m.attrs.get(FRA_FWMARK)?.readUInt32LE(0);
      const src = address(m.body[0]!, m.attrs.get(FRA_SRC));
      return {
        priority: m.attrs.get(FRA_PRIORITY)?.readUInt32LE(0) ?? 0,
        table: m.attrs.get(FRA_TABLE)?.readUInt32LE(0) ?? m.body[4]!,
        ...(fwmark !== undefined ? { fwmark } : {}),
        ...(src !== undefined ? { src } : {}),
        srcLen: m.body[2]!,
      };
    });
}

/** An address attribute as text (family AF_INET/AF_INET6 of the message); undefined when absent or not one. */
function address(family: number, raw: Buffer | undefined): string | undefined {
  if (!raw) return undefined;
  if (family === AF_INET && raw.length === 4) return formatIP({ family: 4, bytes: new Uint8Array(raw) });
  if (family === AF_INET6 && raw.length === 16) return formatIP({ family: 6, bytes: new Uint8Array(raw) });
  return undefined;
}

/** A NUL-terminated string attribute. */
const text = (raw: Buffer | undefined): string | undefined => (raw ? raw.toString('latin1').replace(/\0.*$/s, '') : undefined);

/** Nested attributes (IFLA_LINKINFO and the like). */
function nested(raw: Buffer | undefined): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  if (!raw) return out;
  for (let a = 0; a + 4 <= raw.length; ) {
    const alen = raw.readUInt16LE(a);
    if (alen < 4 || a + alen > raw.length) break;
    out.set(raw.readUInt16LE(a + 2) & 0x3fff, raw.subarray(a + 4, a + alen));
    a += (alen + 3) & ~3;
  }
  return out;
}

export interface KernelLink {
  readonly index: number;
  readonly name: string;
  readonly mtu?: number;
  /** ifi_flags (IFF_UP 0x1, IFF_RUNNING 0x40, IFF_LOWER_UP 0x10000, ...). */
  readonly flags: number;
  /** IFLA_INFO_KIND (dummy, bridge, ipip, ip6tnl, ...). */
  readonly kind?: string;
  /** A tunnel's ends (IFLA_IPTUN_LOCAL / _REMOTE) when set. */
  readonly local?: string;
  readonly remote?: string;
}

/** RTM_NEWLINK messages as links. Pure. */
export function parseLinks(msgs: readonly RtnlMessage[]): KernelLink[] {
  const out: KernelLink[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK) continue;
    const info = nested(m.attrs.get(IFLA_LINKINFO));
    const kind = text(info.get(IFLA_INFO_KIND));
    const data = nested(info.get(IFLA_INFO_DATA));
    const end = (raw: Buffer | undefined) => (kind === 'ipip' || kind === 'sit' ? address(AF_INET, raw) : kind === 'ip6tnl' ? address(AF_INET6, raw) : undefined);
    const local = end(data.get(IFLA_IPTUN_LOCAL));
    const remote = end(data.get(IFLA_IPTUN_REMOTE));
    const mtu = m.attrs.get(IFLA_MTU)?.readUInt32LE(0);
    out.push({
      index: m.body.readInt32LE(4),
      name: text(m.attrs.get(IFLA_IFNAME)) ?? '',
      ...(mtu !== undefined ? { mtu } : {}),
      flags: m.body.readUInt32LE(8),
      ...(kind ? { kind } : {}),
      ...(local ? { local } : {}),
      ...(remote ? { remote } : {}),
    });
  }
  return out;
}

export interface KernelRoute {
  readonly family: 4 | 6;
  readonly table: number;
  readonly protocol: number;
  /** rtm_type: 1 unicast, 2 local, 6 blackhole, ... */
  readonly type: number;
  readonly dst?: string;
  readonly dstLen: number;
  readonly gateway?: string;
  readonly oif?: number;
  readonly prefsrc?: string;
  /** RTA_MULTIPATH or RTA_VIA: next hops this reader does not spell out. */
  readonly complexNexthop: boolean;
}

/** RTM_NEWROUTE messages as routes; cloned (cache) entries left out, as `ip route show` does. Pure. */
export function parseRoutes(msgs: readonly RtnlMessage[]): KernelRoute[] {
  const out: KernelRoute[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWROUTE || m.body.readUInt32LE(8) & RTM_F_CLONED) continue;
    const fam = m.body[0]!;
    if (fam !== AF_INET && fam !== AF_INET6) continue;
    const dst = address(fam, m.attrs.get(RTA_DST));
    const gateway = address(fam, m.attrs.get(RTA_GATEWAY));
    const prefsrc = address(fam, m.attrs.get(RTA_PREFSRC));
    const oif = m.attrs.get(RTA_OIF)?.readUInt32LE(0);
    out.push({
      family: fam === AF_INET ? 4 : 6,
      table: m.attrs.get(RTA_TABLE)?.readUInt32LE(0) ?? m.body[4]!,
      protocol: m.body[5]!,
      type: m.body[7]!,
      ...(dst !== undefined ? { dst } : {}),
      dstLen: m.body[1]!,
      ...(gateway !== undefined ? { gateway } : {}),
      ...(oif !== undefined ? { oif } : {}),
      ...(prefsrc !== undefined ? { prefsrc } : {}),
      complexNexthop: m.attrs.has(RTA_MULTIPATH) || m.attrs.has(RTA_VIA),
    });
  }
  return out;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};

/** Every address of every link, both families; undefined without the addon. */
export function readAddresses(): KernelAddress[] | undefined {
  const a = addon();
  if (!a) return undefined;
  const ifaddrmsg = Buffer.alloc(8); // family AF_UNSPEC: both
  ifaddrmsg[0] = AF_UNSPEC;
  return parseAddresses(parseDump(a.dump(dumpRequest(RTM_GETADDR, ifaddrmsg)), 8));
}

/** Every link (name, MTU, flags, kind and tunnel ends); undefined without the addon. */
export function readLinks(): KernelLink[] | undefined {
  const a = addon();
  if (!a) return undefined;
  return parseLinks(parseDump(a.dump(dumpRequest(RTM_GETLINK, Buffer.alloc(16))), 16));
}

/**
 * The routes of one family, of protocol `protocol` (0: any) in table `table` (0: every table); a table
 * that was never created reads as empty. The kernel filters where it checks dumps strictly; the same
 * filters are applied here for kernels that do not. Undefined without the addon.
 */
export function readRoutes(family: 4 | 6, o: { protocol?: number; table?: number } = {}): KernelRoute[] | undefined {
  const a = addon();
  if (!a) return undefined;
  const rtmsg = Buffer.alloc(12);
  rtmsg[0] = family === 4 ? AF_INET : AF_INET6;
  rtmsg[5] = o.protocol ?? 0;
  const table = o.table ?? 0;
  rtmsg[4] = table < 256 ? table : 252;
  const attrs: [number, Buffer][] = table ? [[RTA_TABLE, u32(table)]] : [];
  const routes = parseRoutes(parseDump(a.dump(dumpRequest(RTM_GETROUTE, rtmsg, attrs)), 12, [ENOENT]));
  return routes.filter((r) => r.family === family && (!o.protocol || r.protocol === o.protocol) && (!table || r.table === table));
}

/** The policy rules of one family (4 or 6); undefined without the addon. */
export function readRules(family: 4 | 6): KernelRule[] | undefined {
  const a = addon();
  if (!a) return undefined;
  const hdr = Buffer.alloc(12);
  hdr[0] = family === 4 ? AF_INET : AF_INET6;
  return parseRules(parseDump(a.dump(dumpRequest(RTM_GETRULE, hdr)), 12));
}

/** How many IPv4 routes routing table `table` holds (0 when the table does not exist); undefined without the addon. */
export function countTableRoutes(table: number): number | undefined {
  return readRoutes(4, { table })?.length;
}
