// Address parsing as Kubernetes 1.32 validation does it: "sloppy" IPv4 (leading zeros read as decimal,
// like Go's old net.ParseIP) and CIDRs whose host bits may be set. Values are BigInt so v4 and v6 share code.
import { isIPv6 } from 'node:net';

export interface ParsedIP {
  family: 4 | 6;
  value: bigint;
}

export interface ParsedCIDR {
  family: 4 | 6;
  /** Network address (host bits cleared). */
  base: bigint;
  prefix: number;
}

export function parseIP(s: string): ParsedIP | undefined {
  if (typeof s !== 'string' || s.length === 0 || s.length > 45) return undefined;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    let v = 0n;
    for (const part of s.split('.')) {
      const n = Number(part);
      if (n > 255) return undefined;
      v = (v << 8n) | BigInt(n);
    }
    return { family: 4, value: v };
  }
  if (s.includes('%') || !isIPv6(s)) return undefined;
  return { family: 6, value: ipv6ToBigInt(s) };
}

function ipv6ToBigInt(s: string): bigint {
  let str = s;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (dotted) {
    const v4 = parseIP(dotted[1]!)!.value;
    str = str.slice(0, -dotted[1]!.length) + ((v4 >> 16n) & 0xffffn).toString(16) + ':' + (v4 & 0xffffn).toString(16);
  }
  const [head, tail] = str.includes('::') ? str.split('::') : [str, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
  return v;
}

export function parseCIDR(s: string): ParsedCIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  return { family: ip.family, base: (ip.value >> hostBits) << hostBits, prefix };
}

export function cidrContains(c: ParsedCIDR, ip: ParsedIP): boolean {
  if (c.family !== ip.family) return false;
  const hostBits = BigInt((c.family === 4 ? 32 : 128) - c.prefix);
  return ip.value >> hostBits === c.base >> hostBits;
}

export function cidrSize(c: ParsedCIDR): bigint {
  return 1n << BigInt((c.family === 4 ? 32 : 128) - c.prefix);
}

export function formatIP(family: 4 | 6, v: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':');
}
