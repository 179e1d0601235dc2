// Import/export policies compiled once per peer configuration. Prefix sets use a hash set per prefix length,
// so matching a route costs one lookup per distinct length in the set, not one per entry.
import { asPathContains, prependAs } from '../wire/attrs/as-path.js';
import { parseCommunity } from '../wire/attrs/communities.js';
import type { PathAttrs } from '../wire/attrs/types.js';
import { parseV6, parsePrefix, v4Key, v4KeyAddr, v4KeyLen, v6Key, v6KeyLen, type PrefixKey } from '../wire/prefix.js';

export class PrefixSet {
  private v4 = new Set<number>();
  private v6 = new Set<string>();
  private v4Lens: number[] = [];
  private v6Lens: number[] = [];
  readonly invalid: string[] = [];

  constructor(cidrs: readonly string[] = []) {
    const l4 = new Set<number>(), l6 = new Set<number>();
    for (const c of cidrs) {
      const k = parsePrefix(c);
      if (k === undefined) { this.invalid.push(c); continue; }
      if (typeof k === 'number') { this.v4.add(k); l4.add(v4KeyLen(k)); } else { this.v6.add(k); l6.add(v6KeyLen(k)); }
    }
    this.v4Lens = [...l4].sort((a, b) => a - b);
    this.v6Lens = [...l6].sort((a, b) => a - b);
  }

  get empty(): boolean { return this.v4.size === 0 && this.v6.size === 0; }

  /** True when `key` equals or lies inside an entry. */
  covers(key: PrefixKey): boolean {
    if (typeof key === 'number') {
      if (this.v4.size === 0) return false;
      const len = v4KeyLen(key), addr = v4KeyAddr(key);
      for (const l of this.v4Lens) {
        if (l > len) break;
        if (this.v4.has(v4Key(addr, l))) return true;
      }
      return false;
    }
    if (this.v6.size === 0) return false;
    const len = v6KeyLen(key);
    const full = Buffer.alloc(16);
    Buffer.from(key.slice(key.indexOf('/') + 1), 'hex').copy(full);
    for (const l of this.v6Lens) {
      if (l > len) break;
      if (this.v6.has(v6Key(full, 0, l))) return true;
    }
    return false;
  }
}

const DEFAULT_V4 = v4Key(0, 0);
const DEFAULT_V6 = v6Key(parseV6('::')!, 0, 0);

export interface CompiledImport {
  /** Whether a prefix may enter the Adj-RIB-In. */
  acceptPrefix(key: PrefixKey): boolean;
}

export function compileImport(p: { rejectPrefixes?: readonly string[]; rejectDefault?: boolean } | undefined): CompiledImport & { invalid: string[] } {
  const set = new PrefixSet(p?.rejectPrefixes ?? []);
  const rejectDefault = p?.rejectDefault ?? false;
  return {
    invalid: set.invalid,
    acceptPrefix: (key) => !(rejectDefault && (key === DEFAULT_V4 || key === DEFAULT_V6)) && !set.covers(key),
  };
}

/** Loop checks every import does (RFC 4271 9.1.2, RFC 4456 8): our AS, our router id, our cluster id. */
export function loops(a: PathAttrs, ourAsn: number, routerId: string, clusterId: string): boolean {
  if (asPathContains(a.asPath, ourAsn)) return true;
  if (a.originatorId === routerId) return true;
  if (a.clusterList?.includes(clusterId)) return true;
  return false;
}

export interface CompiledExport {
  readonly rejects: PrefixSet;
  readonly addCommunities: readonly number[];
  readonly prepend: readonly number[];
  readonly invalid: string[];
}

export function compileExport(p: { rejectPrefixes?: readonly string[]; addCommunities?: readonly string[]; asPathPrepend?: { asn: number; count: number } } | undefined): CompiledExport {
  const rejects = new PrefixSet(p?.rejectPrefixes ?? []);
  const invalid = [...rejects.invalid];
  const addCommunities: number[] = [];
  for (const c of p?.addCommunities ?? []) {
    const v = parseCommunity(c);
    if (v === undefined) invalid.push(c); else addCommunities.push(v);
  }
  const prepend: number[] = [];
  const pp = p?.asPathPrepend;
  if (pp) {
    if (!Number.isInteger(pp.asn) || pp.asn < 1 || pp.asn > 0xffffffff || !Number.isInteger(pp.count) || pp.count < 0 || pp.count > 64) {
      invalid.push(`asPathPrepend ${pp.asn}x${pp.count}`);
    } else for (let i = 0; i < pp.count; i++) prepend.push(pp.asn);
  }
  return { rejects, addCommunities, prepend, invalid };
}

export { prependAs };
