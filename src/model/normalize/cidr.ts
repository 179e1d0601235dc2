import type { IPFamily } from '../types.js';
import { bigIntToIP, familyBits, formatIP, ipToBigInt, parseIP, type IPSyntax, type IPTextStyle, type ParsedIP } from './ip.js';

/** A parsed CIDR with host bits cleared; `text` is the canonical spelling. */
export interface ParsedCIDR {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

const PREFIX = /^[0-9]{1,3}$/;
const STRICT_PREFIX = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses "addr/len" (a bare address is not a CIDR). Host bits are cleared, as the API canonicalizes ipBlocks
 * and Go's net.ParseCIDR does for flags.
 */
export function parseCIDR(text: unknown, syntax: IPSyntax = {}): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) return undefined;
  const ip = parseIP(text.slice(0, slash), syntax);
  const lenText = text.slice(slash + 1);
  if (!ip || !(syntax.strict ? STRICT_PREFIX : PREFIX).test(lenText)) return undefined;
  return networkOf(ip, Number(lenText));
}

/** Like parseCIDR, but a bare address is read as its host prefix (/32 or /128), as ipset and ip-route do. */
export function parseCIDROrIP(text: unknown, syntax: IPSyntax = {}): ParsedCIDR | undefined {
  if (typeof text === 'string' && !text.includes('/')) {
    const ip = parseIP(text, syntax);
    return ip ? networkOf(ip, familyBits(ip.family)) : undefined;
  }
  return parseCIDR(text, syntax);
}

/** The network of length `prefix` that holds `ip`; undefined for a bad address or a prefix the family lacks. */
export function networkOf(ip: ParsedIP | string, prefix: number): ParsedCIDR | undefined {
  const addr = typeof ip === 'string' ? parseIP(ip) : ip;
  if (!addr || !Number.isInteger(prefix) || prefix < 0 || prefix > familyBits(addr.family)) return undefined;
  const bytes = maskBytes(addr.bytes, prefix);
  return { family: addr.family, bytes, prefix, text: `${formatIP({ family: addr.family, bytes })}/${prefix}` };
}

function maskBytes(src: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(src);
  for (let i = 0; i < out.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/** CIDR text in a chosen style (the `text` field already holds the default one). */
export function formatCIDR(c: ParsedCIDR, style: IPTextStyle = {}): string {
  return `${formatIP(c, style)}/${c.prefix}`;
}

/** Canonical CIDR text, or undefined if invalid. */
export function canonicalCIDR(text: unknown, opts: IPSyntax & IPTextStyle = {}): string | undefined {
  const c = parseCIDR(text, opts);
  return c ? formatCIDR(c, opts) : undefined;
}

/** True when `inner` lies inside `outer` (same family, longer-or-equal prefix, same network bits). */
export function cidrContains(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const masked = maskBytes(inner.bytes, outer.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== outer.bytes[i]) return false;
  return true;
}

/** True when the address `ip` (any spelling, or parsed) lies inside the CIDR; false when either is not valid. */
export function cidrContainsIP(outer: ParsedCIDR | string, ip: string | ParsedIP): boolean {
  const net = typeof outer === 'string' ? parseCIDR(outer) : outer;
  const parsed = typeof ip === 'string' ? parseIP(ip) : ip;
  if (!net || !parsed || parsed.family !== net.family) return false;
  return cidrContains(net, networkOf(parsed, familyBits(parsed.family))!);
}

/** The host prefix (/32 or /128) of an address, canonical; undefined when the text is not one address. */
export function hostPrefix(ip: unknown, opts: IPSyntax & IPTextStyle = {}): string | undefined {
  const parsed = parseIP(ip, opts);
  return parsed ? formatCIDR(networkOf(parsed, familyBits(parsed.family))!, opts) : undefined;
}

/** How many addresses the CIDR holds (2^(bits - prefix)). */
export function cidrSize(c: ParsedCIDR): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

/**
 * The network address + 1: the gateway the bridge CNI plugin gives pods (isDefaultGateway). Undefined for a
 * bad CIDR and for /32 and /128, which have no address past the network one.
 */
export function firstHost(net: ParsedCIDR | string, opts: IPSyntax & IPTextStyle = {}): string | undefined {
  const c = typeof net === 'string' ? parseCIDR(net, opts) : net;
  if (!c || c.prefix === familyBits(c.family)) return undefined;
  return formatIP(bigIntToIP(ipToBigInt(c) + 1n, c.family)!, opts);
}

/** Same network and length. */
export function sameCIDR(a: ParsedCIDR, b: ParsedCIDR): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.bytes.every((x, i) => x === b.bytes[i]);
}

/**
 * The k-th (from 0) subnet of length `prefix` inside `outer`, as canonical text; undefined when k is past the
 * end. A bad `outer` or a `prefix` that does not fit throws: those are configuration errors of the caller
 * (the lab's --cluster-cidr / node mask size), not data to skip.
 */
export function nthSubnet(outer: string, prefix: number, k: number): string | undefined {
  const net = parseCIDR(outer);
  if (!net) throw new Error(`bad CIDR ${outer}`);
  const bits = familyBits(net.family);
  if (!Number.isInteger(prefix) || prefix < net.prefix || prefix > bits) {
    throw new Error(`mask size ${prefix} does not fit in ${outer}`);
  }
  if (!Number.isInteger(k) || k < 0 || BigInt(k) >= 1n << BigInt(prefix - net.prefix)) return undefined;
  const addr = bigIntToIP(ipToBigInt(net) + (BigInt(k) << BigInt(bits - prefix)), net.family)!;
  return networkOf(addr, prefix)!.text;
}

/** Lowest subnet of length `prefix` inside `outer` whose canonical text is not in `used`; throws as nthSubnet. */
export function firstFreeSubnet(outer: string, prefix: number, used: ReadonlySet<string>): string | undefined {
  for (let k = 0; ; k++) {
    const s = nthSubnet(outer, prefix, k);
    if (s === undefined || !used.has(s)) return s;
  }
}
