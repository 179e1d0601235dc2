// IP address and CIDR parsing for flag values. Flags must accept exactly what Go's net.ParseIP /
// net.ParseCIDR accept (so a kube-router command line keeps working) and hand controllers one canonical
// spelling, because the controllers compare CIDRs as strings.

import { isIPv4, isIPv6 } from 'node:net';

export interface ParsedCIDR {
  readonly family: 4 | 6;
  /** Network address with host bits cleared, in canonical text form. */
  readonly network: string;
  readonly prefixLength: number;
  /** `${network}/${prefixLength}` */
  readonly canonical: string;
}

/** Bytes of an IPv4 (4) or IPv6 (16) address, or undefined when `text` is not a plain address. */
export function ipBytes(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  // Zones (fe80::1%eth0) name an interface, not an address; no flag takes them.
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let head = text;
  let tail4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail4 = text.slice(lastColon + 1).split('.').map(Number);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groupsOf = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const l = groupsOf(left);
  const r = groupsOf(right);
  const groups = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tail4.length === 4) out.set(tail4, 12);
  return out;
}

/** RFC 5952 text for 16 bytes (lowercase, longest zero run of 2+ groups compressed), dotted quad for 4. */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
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
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an IP address, or undefined when it is not one. */
export function canonicalIP(text: string): string | undefined {
  const b = ipBytes(text);
  return b ? formatIP(b) : undefined;
}

export function ipFamily(text: string): 4 | 6 | undefined {
  const b = ipBytes(text);
  return b ? (b.length === 4 ? 4 : 6) : undefined;
}

/**
 * Parses "address/prefix" as Go's net.ParseCIDR does: the address may have host bits set (they are
 * cleared), the prefix is decimal without sign or leading zeros and at most 32 or 128.
 */
export function parseCIDR(text: string): ParsedCIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const bytes = ipBytes(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!bytes || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return undefined;
  const prefixLength = Number(lenText);
  if (prefixLength > bytes.length * 8) return undefined;
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  const network = formatIP(bytes);
  return { family: bytes.length === 4 ? 4 : 6, network, prefixLength, canonical: `${network}/${prefixLength}` };
}
