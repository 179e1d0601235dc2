// Minimal IP/CIDR arithmetic for the routing compile step (kept local so compile/ depends on nothing
// but the model; the shared helpers in model/normalize can replace it once they exist).
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  readonly addr: bigint;
  readonly len: number;
}

export function ipFamily(ip: string): Family | undefined {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  return undefined;
}

export function ipToBigInt(ip: string): bigint | undefined {
  const fam = ipFamily(ip);
  if (fam === 4) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (fam !== 6) return undefined;
  let s = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = ipToBigInt(v4[1]!)!;
    s = s.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function bigIntToIp(n: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const bits = (f: Family): number => (f === 4 ? 32 : 128);
const mask = (f: Family, len: number): bigint => ((1n << BigInt(bits(f))) - 1n) ^ ((1n << BigInt(bits(f) - len)) - 1n);

/** Parses "a.b.c.d/n" (or a bare address as a host prefix); host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const [ip, lenText, extra] = text.trim().split('/');
  if (extra !== undefined || !ip) return undefined;
  const family = ipFamily(ip);
  if (!family) return undefined;
  const len = lenText === undefined ? bits(family) : Number(lenText);
  if (!/^\d+$/.test(lenText ?? '0') || len < 0 || len > bits(family)) return undefined;
  return { family, addr: ipToBigInt(ip)! & mask(family, len), len };
}

export function formatCidr(c: Cidr): string {
  return `${bigIntToIp(c.addr, c.family)}/${c.len}`;
}

export function canonicalCidr(text: string): string | undefined {
  const c = parseCidr(text);
  return c ? formatCidr(c) : undefined;
}

export function cidrContainsIp(cidr: string | Cidr, ip: string): boolean {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const fam = ipFamily(ip);
  if (!c || fam !== c.family) return false;
  return (ipToBigInt(ip)! & mask(fam, c.len)) === c.addr;
}

/** True when `inner` lies inside `outer` (or equals it). */
export function cidrContainsCidr(outer: string, inner: string): boolean {
  const o = parseCidr(outer), i = parseCidr(inner);
  if (!o || !i || o.family !== i.family || i.len < o.len) return false;
  return (i.addr & mask(o.family, o.len)) === o.addr;
}

/** The first usable address (network + 1): the bridge plugin's gateway with isDefaultGateway. */
export function firstHost(cidr: string): string | undefined {
  const c = parseCidr(cidr);
  return c ? bigIntToIp(c.addr + 1n, c.family) : undefined;
}

export function cidrFamily(cidr: string): Family | undefined {
  return parseCidr(cidr)?.family;
}

export function hostPrefix(ip: string): string | undefined {
  const f = ipFamily(ip);
  return f ? `${bigIntToIp(ipToBigInt(ip)!, f)}/${bits(f)}` : undefined;
}
