// Prefix keys: the RIB's identity for a prefix, built straight from NLRI bytes without intermediate objects.
// IPv4: a number, address * 64 + length (fits in 2^38, exact in a double). IPv6: "len/hex" of the significant,
// masked bytes. Text forms (CIDR) are produced only at the API edge.
import { BgpError } from './errors.js';
import { ERR_UPDATE, UPD_INVALID_NETWORK } from './constants.js';

export type Family = 'ipv4-unicast' | 'ipv6-unicast';
export type PrefixKey = number | string;

const MASK_BYTE = [0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff];

export function v4Key(addr: number, len: number): number {
  const masked = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
  return masked * 64 + len;
}

export function v4KeyLen(key: number): number {
  return key % 64;
}

export function v4KeyAddr(key: number): number {
  return Math.floor(key / 64);
}

export function formatV4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

export function parseV4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = v * 256 + n;
  }
  return v;
}

/** 16 bytes, or undefined. Accepts "::" compression and a trailing dotted quad. */
export function parseV6(text: string): Buffer | undefined {
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > lastColon) {
    // A trailing dotted quad becomes two hex groups, then the usual parse applies.
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = toGroups(halves[0]!);
  const rest = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  if (halves.length === 2 && head.length + rest.length > 7) return undefined;
  const groups = halves.length === 2 ? [...head, ...new Array(8 - head.length - rest.length).fill(0), ...rest] : head;
  if (groups.length !== 8) return undefined;
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

/** RFC 5952 canonical text. */
export function formatV6(b: Buffer, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + i * 2));
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatV4(b.readUInt32BE(off + 12))}`;
  }
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function v6Key(bytes: Buffer, off: number, len: number): string {
  const n = (len + 7) >> 3;
  if (n === 0) return '0/';
  const rem = len & 7;
  let hex = bytes.toString('hex', off, off + n - (rem ? 1 : 0));
  if (rem) hex += (bytes[off + n - 1]! & MASK_BYTE[rem]!).toString(16).padStart(2, '0');
  return `${len}/${hex}`;
}

export function v6KeyLen(key: string): number {
  return Number(key.slice(0, key.indexOf('/')));
}

function v6KeyBytes(key: string): Buffer {
  return Buffer.from(key.slice(key.indexOf('/') + 1), 'hex');
}

export function keyFamily(key: PrefixKey): Family {
  return typeof key === 'number' ? 'ipv4-unicast' : 'ipv6-unicast';
}

export function formatKey(key: PrefixKey): string {
  if (typeof key === 'number') return `${formatV4(v4KeyAddr(key))}/${v4KeyLen(key)}`;
  const full = Buffer.alloc(16);
  v6KeyBytes(key).copy(full);
  return `${formatV6(full)}/${v6KeyLen(key)}`;
}

/** Hand-rolled "a.b.c.d/len" parse: setAdvertisements with 100k prefixes spends its time here. */
function fastV4Cidr(s: string): number | undefined {
  let addr = 0, octet = 0, digits = 0, dots = 0, i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46 || c === 47) {
      if (digits === 0) return undefined;
      addr = addr * 256 + octet;
      octet = 0; digits = 0;
      if (c === 47) break;
      if (++dots > 3) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || i >= s.length) return undefined;
  let len = 0;
  const rest = s.length - i - 1;
  if (rest < 1 || rest > 2) return undefined;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return undefined;
    len = len * 10 + (c - 48);
  }
  return len > 32 ? undefined : v4Key(addr, len);
}

/** CIDR text -> key (host bits cleared), or undefined when it is not a CIDR. */
export function parsePrefix(cidr: string): PrefixKey | undefined {
  const fast = fastV4Cidr(cidr);
  if (fast !== undefined) return fast;
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const lenText = slash < 0 ? undefined : cidr.slice(slash + 1);
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) return undefined;
  if (addr.includes(':')) {
    const b = parseV6(addr);
    const len = lenText === undefined ? 128 : Number(lenText);
    if (!b || len > 128) return undefined;
    return v6Key(b, 0, len);
  }
  const a = parseV4(addr);
  const len = lenText === undefined ? 32 : Number(lenText);
  if (a === undefined || len > 32) return undefined;
  return v4Key(a, len);
}

/** True when `inner` lies inside `outer` (same family, outer length <= inner length). */
export function keyCovers(outer: PrefixKey, inner: PrefixKey): boolean {
  if (typeof outer === 'number') {
    if (typeof inner !== 'number') return false;
    const ol = v4KeyLen(outer), il = v4KeyLen(inner);
    if (ol > il) return false;
    return v4Key(v4KeyAddr(inner), ol) === outer;
  }
  if (typeof inner !== 'string') return false;
  const ol = v6KeyLen(outer), il = v6KeyLen(inner);
  if (ol > il) return false;
  const full = Buffer.alloc(16);
  v6KeyBytes(inner).copy(full);
  return v6Key(full, 0, ol) === outer;
}

function badNlri(reason: string, code = ERR_UPDATE, subcode = UPD_INVALID_NETWORK): BgpError {
  return new BgpError(code, subcode, reason);
}

/** Decodes IPv4 NLRI in [start, end) into keys; throws a session-reset BgpError on malformed input. */
export function decodeNlriV4(buf: Buffer, start: number, end: number, out: number[], subcode = UPD_INVALID_NETWORK): void {
  let p = start;
  while (p < end) {
    const len = buf[p++]!;
    if (len > 32) throw badNlri(`IPv4 prefix length ${len}`, ERR_UPDATE, subcode);
    const n = (len + 7) >> 3;
    if (p + n > end) throw badNlri('IPv4 prefix overruns its field', ERR_UPDATE, subcode);
    let a = 0;
    for (let i = 0; i < 4; i++) a = a * 256 + (i < n ? buf[p + i]! : 0);
    out.push(v4Key(a, len));
    p += n;
  }
}

export function decodeNlriV6(buf: Buffer, start: number, end: number, out: string[], subcode = UPD_INVALID_NETWORK): void {
  let p = start;
  while (p < end) {
    const len = buf[p++]!;
    if (len > 128) throw badNlri(`IPv6 prefix length ${len}`, ERR_UPDATE, subcode);
    const n = (len + 7) >> 3;
    if (p + n > end) throw badNlri('IPv6 prefix overruns its field', ERR_UPDATE, subcode);
    out.push(v6Key(buf, p, len));
    p += n;
  }
}

/** Bytes a key takes on the wire. */
export function nlriSize(key: PrefixKey): number {
  const len = typeof key === 'number' ? key % 64 : v6KeyLen(key);
  return 1 + ((len + 7) >> 3);
}

/** Writes one NLRI at `off`; returns the new offset. */
export function writeNlri(key: PrefixKey, buf: Buffer, off: number): number {
  if (typeof key === 'number') {
    const len = key % 64;
    const a = Math.floor(key / 64);
    buf[off++] = len;
    const n = (len + 7) >> 3;
    for (let i = 0; i < n; i++) buf[off++] = (a >>> (24 - 8 * i)) & 255;
    return off;
  }
  const slash = key.indexOf('/');
  buf[off++] = Number(key.slice(0, slash));
  return off + buf.write(key.slice(slash + 1), off, 'hex');
}

export function ipFamilyOf(addr: string): 4 | 6 | undefined {
  if (addr.includes(':')) return parseV6(addr) ? 6 : undefined;
  return parseV4(addr) !== undefined ? 4 : undefined;
}
