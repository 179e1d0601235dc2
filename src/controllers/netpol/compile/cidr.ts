// Just enough address arithmetic for ipBlock sets: parse, containment, and the ipset spelling of a net.
import type { IPFamily } from '../../../model/types.js';

export interface Net {
  readonly family: IPFamily;
  readonly addr: bigint;
  readonly len: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(Number(p));
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

export function ipFamily(ip: string): IPFamily {
  return ip.includes(':') ? 6 : 4;
}

export function parseCidr(s: string): Net | undefined {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? s : s.slice(0, slash);
  const family = ipFamily(ip);
  const bits = family === 4 ? 32 : 128;
  const lenText = slash < 0 ? String(bits) : s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > bits) return undefined;
  const addr = family === 4 ? parseV4(ip) : parseV6(ip);
  if (addr === undefined) return undefined;
  const hostBits = BigInt(bits - len);
  return { family, addr: (addr >> hostBits) << hostBits, len };
}

export function contains(outer: Net, inner: Net): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const shift = BigInt(bits - outer.len);
  return inner.addr >> shift === outer.addr >> shift;
}

export function sameNet(a: Net, b: Net): boolean {
  return a.family === b.family && a.len === b.len && a.addr === b.addr;
}

function formatAddr(family: IPFamily, addr: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (>= 2) of zero groups, as ipset prints it.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** CIDR text in canonical form ("10.0.0.0/8"). */
export function formatNet(n: Net): string {
  return `${formatAddr(n.family, n.addr)}/${n.len}`;
}

/** The entry as `ipset save` prints it for hash:net: host routes lose their prefix length. */
export function ipsetNet(n: Net): string {
  const full = n.family === 4 ? 32 : 128;
  return n.len === full ? formatAddr(n.family, n.addr) : formatNet(n);
}

/** hash:net cannot hold a /0: split it into the two halves of the address space. */
export function splitZero(n: Net): Net[] {
  if (n.len > 0) return [n];
  const top = n.family === 4 ? 1n << 31n : 1n << 127n;
  return [
    { family: n.family, addr: 0n, len: 1 },
    { family: n.family, addr: top, len: 1 },
  ];
}
