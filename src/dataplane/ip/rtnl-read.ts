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
export const RTM_NEWROUTE = 24, RTM_GETROUTE = 26, RTM_NEWADDR = 20, RTM_GETADDR = 22, RTM_NEWRULE = 32, RTM_GETRULE = 34;
const AF_UNSPEC = 0, AF_INET = 2, AF_INET6 = 10;
const IFA_ADDRESS = 1, IFA_LOCAL = 2;
const RTA_TABLE = 15;
const FRA_PRIORITY = 6, FRA_FWMARK = 10, FRA_TABLE = 15;
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
}

/** RTM_NEWRULE messages as rules (priority, table, fwmark). Pure. */
export function parseRules(msgs: readonly RtnlMessage[]): KernelRule[] {
  return msgs
    .filter((m) => m.type === RTM_NEWRULE)
    .map((m) => {
      const fwmark = m.attrs.get(FRA_FWMARK)?.readUInt32LE(0);
      return {
        priority: m.attrs.get(FRA_PRIORITY)?.readUInt32LE(0) ?? 0,
        table: m.attrs.get(FRA_TABLE)?.readUInt32LE(0) ?? m.body[4]!,
        ...(fwmark !== undefined ? { fwmark } : {}),
      };
    });
}

/** The table of RTM_NEWROUTE messages (RTA_TABLE, else the message's 8-bit table). Pure. */
export function routeTables(msgs: readonly RtnlMessage[]): number[] {
  return msgs.filter((m) => m.type === RTM_NEWROUTE).map((m) => m.attrs.get(RTA_TABLE)?.readUInt32LE(0) ?? m.body[4]!);
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

/** The policy rules of one family (4 or 6); undefined without the addon. */
export function readRules(family: 4 | 6): KernelRule[] | undefined {
  const a = addon();
  if (!a) return undefined;
  const hdr = Buffer.alloc(12);
  hdr[0] = family === 4 ? AF_INET : AF_INET6;
  return parseRules(parseDump(a.dump(dumpRequest(RTM_GETRULE, hdr)), 12));
}

/**
 * How many IPv4 routes routing table `table` holds (0 when the table does not exist); undefined without
 * the addon. The kernel filters by table where it checks dumps strictly; elsewhere it sends every table's
 * routes and they are filtered here.
 */
export function countTableRoutes(table: number): number | undefined {
  const a = addon();
  if (!a) return undefined;
  const rtmsg = Buffer.alloc(12);
  rtmsg[0] = AF_INET;
  rtmsg[4] = table < 256 ? table : 252; // RT_TABLE_COMPAT; RTA_TABLE carries the full number
  const msgs = parseDump(a.dump(dumpRequest(RTM_GETROUTE, rtmsg, [[RTA_TABLE, u32(table)]])), 12, [ENOENT]);
  return routeTables(msgs).filter((t) => t === table).length;
}
