import type { IPFamily } from '../types.js';

/**
 * The project's one IP parser (model, controllers, CLI and lab all use it): text to 16 bytes (IPv4 as 4), and
 * canonical text: dotted decimal for IPv4, RFC 5952 for IPv6 (lowercase, longest zero run compressed). We parse
 * ourselves instead of using node:net because we need the bytes (CIDR masking, containment) and one canonical
 * spelling for equality in sets and change detection.
 */
export interface ParsedIP {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
}

export interface IPSyntax {
  /**
   * Go's net.ParseIP/ParseCIDR (Go >= 1.17), for command-line flags: IPv4 octets and CIDR prefix lengths
   * with leading zeros are rejected. Default: Kubernetes' ParseIPSloppy, which reads "010" as decimal 10.
   */
  readonly strict?: boolean;
}

export interface IPTextStyle {
  /**
   * IPv4-mapped IPv6 keeps its dotted tail (::ffff:10.1.2.3), the default. false prints plain hextets
   * (::ffff:a01:203), the spelling the CLI has always handed the controllers for flag values.
   */
  readonly dottedMapped?: boolean;
}

/**
 * Go's net package syntax and plain-hextet text: what the CLI hands the controllers for flag values, and
 * the spelling the routing controller compares with ip(8) output and BGP prefixes.
 */
export const GO_ADDRESSES = { strict: true, dottedMapped: false } as const;

const DECIMAL = /^[0-9]{1,3}$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

const STRICT_DECIMAL = /^(0|[1-9][0-9]{0,2})$/;

function parseIPv4Bytes(text: string, strict: boolean): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Leading zeros are read as decimal, as Kubernetes' ParseIPSloppy does for legacy objects.
    if (!(strict ? STRICT_DECIMAL : DECIMAL).test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIPv6Bytes(text: string, strict: boolean): Uint8Array | undefined {
  if (text.length === 0 || text.includes('%')) return undefined;
  let head = text;
  let v4tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    v4tail = parseIPv4Bytes(text.slice(lastColon + 1), strict);
    if (!v4tail) return undefined;
    // Keep a trailing "::" so "::1.2.3.4" still has its compression marker; drop a single separator colon.
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const maxGroups = v4tail ? 6 : 8;
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::') && dbl >= 0) return undefined;
  const groups: number[] = [];
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!HEXTET.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    if (left.length + right.length > maxGroups - 1) return undefined;
    groups.push(...left, ...new Array<number>(maxGroups - left.length - right.length).fill(0), ...right);
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== maxGroups) return undefined;
    groups.push(...all);
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (v4tail) out.set(v4tail, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; undefined when the text is not exactly one address. */
export function parseIP(text: unknown, syntax: IPSyntax = {}): ParsedIP | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  const strict = syntax.strict === true;
  if (text.includes(':')) {
    const bytes = parseIPv6Bytes(text, strict);
    return bytes ? { family: 6, bytes } : undefined;
  }
  const bytes = parseIPv4Bytes(text, strict);
  return bytes ? { family: 4, bytes } : undefined;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Canonical text of parsed bytes (RFC 5952 for IPv6; IPv4-mapped keeps the dotted tail unless told not to). */
export function formatIP(ip: ParsedIP, style: IPTextStyle = {}): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (style.dottedMapped !== false && isV4Mapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // Longest run of zero groups (length >= 2, first one on ties) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Canonical spelling of an address, or undefined if it is not one. */
export function canonicalIP(text: unknown, opts: IPSyntax & IPTextStyle = {}): string | undefined {
  const ip = parseIP(text, opts);
  return ip ? formatIP(ip, opts) : undefined;
}

/** 4 or 6, or undefined when the text is not an address. */
export function ipFamily(text: unknown, syntax: IPSyntax = {}): IPFamily | undefined {
  return parseIP(text, syntax)?.family;
}

/** Address width of a family in bits. */
export function familyBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** The address as an unsigned integer, for arithmetic (allocation, offsets into a range). */
export function ipToBigInt(ip: ParsedIP): bigint {
  let v = 0n;
  for (const b of ip.bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** The address of `family` whose integer value is `value`; undefined when the value is negative or too wide. */
export function bigIntToIP(value: bigint, family: IPFamily): ParsedIP | undefined {
  const bits = familyBits(family);
  if (value < 0n || value >> BigInt(bits) !== 0n) return undefined;
  const bytes = new Uint8Array(bits / 8);
  let v = value;
  for (let i = bytes.length - 1; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  return { family, bytes };
}
