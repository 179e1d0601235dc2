// Typed plan -> native nftables text (`nft -f` commands), for --use-nftables-for-netpol. The same typed
// rules the iptables renderer prints, spelled as nft expressions, in one `inet` table of our own. Both
// families share that table, so IPv6 chains and sets get a `-6` suffix (IPv4 keeps the names an
// operator knows from iptables). Pure and memoised by rule identity like render.ts.
import { bigIntToIP, familyBits, formatIP, ipToBigInt } from '../../../model/normalize/ip.js';
import { parseCIDROrIP } from '../../../model/normalize/cidr.js';
import type { IPFamily } from '../../../model/types.js';
import type { Mark, Match, Rule, SetSpec, Target } from '../compile/plan.js';
import { memoText } from '../compile/memo-text.js';

/** Our table. Never any other: everything we write or delete names it. */
export const NFT_TABLE = 'kube-router-ts-netpol';
export const NFT_FAMILY = 'inet';
export const T = `${NFT_FAMILY} ${NFT_TABLE}`;

/** Base chains of our table, hooked where iptables' INPUT/FORWARD/OUTPUT are. */
export const BASE_CHAINS = { INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output' } as const;

/** A chain name of one family's part of the table. */
export function nftChain(name: string, f: IPFamily): string {
  return f === 6 ? `${name}-6` : name;
}

/** A plan set name (`inet6:` marks IPv6 for ipset) as an nft set name. */
export function nftSet(name: string): string {
  return name.startsWith('inet6:') ? `${name.slice(6)}-6` : name;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const addr = (f: IPFamily): string => (f === 4 ? 'ip' : 'ip6');

function markMatch(m: Mark, negate: boolean | undefined): string {
  return `meta mark & ${hex(m.mask)} ${negate ? '!=' : '=='} ${hex(m.value)}`;
}

/** A rule comment as nft stores it (and prints it back): quoted, double quotes made single, 127 bytes at most. */
export function quote(comment: string): string {
  // nft keeps at most 128 bytes of comment and has no escape for a double quote.
  let c = comment.replace(/"/g, "'");
  while (Buffer.byteLength(c) > 127) c = c.slice(0, -1);
  return `"${c}"`;
}

export function nftMatch(m: Match, f: IPFamily): string {
  switch (m.kind) {
    case 'set': {
      const op = m.negate ? '!= ' : '';
      if (m.dir === 'dst,dst') return `${addr(f)} daddr . meta l4proto . th dport ${op}@${nftSet(m.set)}`;
      return `${addr(f)} ${m.dir === 'src' ? 'saddr' : 'daddr'} ${op}@${nftSet(m.set)}`;
    }
    case 'dport':
      return `th dport ${m.to !== undefined ? `${m.from}-${m.to}` : m.from}`;
    case 'multiport':
      return `th dport ${m.from}-${m.to}`;
    case 'mark':
      return markMatch(m.mark, m.negate);
    case 'limit': {
      const [n, per] = m.rate.split('/');
      const unit = { sec: 'second', second: 'second', s: 'second', min: 'minute', minute: 'minute', m: 'minute', hour: 'hour', h: 'hour', day: 'day', d: 'day' }[per ?? 'sec'] ?? 'second';
      return `limit rate ${n}/${unit} burst ${m.burst} packets`;
    }
    case 'conntrack':
      return `ct state ${m.states.map((s) => s.toLowerCase()).join(',')}`;
    case 'addrtype':
      return `fib ${m.side === 'src' ? 'saddr' : 'daddr'} type ${m.negate ? '!= ' : ''}local`;
    case 'icmp':
      return m.family === 4 ? `icmp type ${m.type}` : `icmpv6 type ${m.type}`;
  }
}

export function nftTarget(t: Target, f: IPFamily): string {
  switch (t.kind) {
    case 'ACCEPT':
      return 'accept';
    case 'DROP':
      return 'drop';
    case 'RETURN':
      return 'return';
    case 'REJECT':
      return f === 4 ? 'reject with icmp type port-unreachable' : 'reject with icmpv6 type port-unreachable';
    case 'MARK': {
      // --set-xmark value/mask: clear the mask bits, then xor the value in (or == xor on cleared bits).
      const keep = hex(~t.mark.mask);
      return t.mark.value === 0 ? `meta mark set meta mark & ${keep}` : `meta mark set meta mark & ${keep} | ${hex(t.mark.value)}`;
    }
    case 'NFLOG':
      return `log group ${t.group}`;
    case 'jump':
      return `jump ${nftChain(t.chain, f)}`;
  }
}

/** A rule's matches as nft expressions (what precedes its verdict), remembered per rule object. */
const bodyText = new Map<IPFamily, WeakMap<Rule, string>>([
  [4, new WeakMap()],
  [6, new WeakMap()],
]);

function nftBody(r: Rule, f: IPFamily): string {
  const memo = bodyText.get(f)!;
  let text = memo.get(r);
  if (text !== undefined) return text;
  let out = '';
  const add = (part: string): void => void (out = out ? `${out} ${part}` : part);
  if (r.src !== undefined) add(`${addr(f)} saddr ${r.src}`);
  if (r.dst !== undefined) add(`${addr(f)} daddr ${r.dst}`);
  if (r.proto !== undefined) add(`meta l4proto ${r.proto}`);
  for (const m of r.matches) add(nftMatch(m, f));
  memo.set(r, (text = out));
  return text;
}

/** Each distinct comment quoted once (compile/memo-text.ts). */
const nftComment = memoText(quote);

const ruleText = new Map<IPFamily, WeakMap<Rule, string>>([
  [4, new WeakMap()],
  [6, new WeakMap()],
]);

/** The rule's statement (what follows `add rule inet TABLE CHAIN`). */
export function nftRule(r: Rule, f: IPFamily): string {
  const memo = ruleText.get(f)!;
  let text = memo.get(r);
  if (text !== undefined) return text;
  const body = nftBody(r, f);
  text = `${body ? `${body} ` : ''}${nftTarget(r.target, f)} comment ${nftComment(r.comment)}`;
  memo.set(r, text);
  return text;
}

/**
 * `a` sets a mark and `b` is `a`'s matches plus "that mark is set", then RETURN, with the same comment
 * (each policy rule's pair: iptables cannot set a mark and return in one rule). nft can: one rule
 * `... meta mark set ... return` does exactly what the pair does, and the kernel loads half the rules.
 */
function fusedPair(a: Rule, b: Rule, f: IPFamily): string | undefined {
  if (a.target.kind !== 'MARK' || b.target.kind !== 'RETURN' || a.comment !== b.comment) return undefined;
  if (a.src !== b.src || a.dst !== b.dst || a.proto !== b.proto || b.matches.length !== a.matches.length + 1) return undefined;
  const last = b.matches[b.matches.length - 1]!;
  if (last.kind !== 'mark' || last.negate || last.mark.value !== a.target.mark.value || last.mark.mask !== a.target.mark.mask) return undefined;
  for (let i = 0; i < a.matches.length; i++) if (a.matches[i] !== b.matches[i] && nftMatch(a.matches[i]!, f) !== nftMatch(b.matches[i]!, f)) return undefined;
  const body = nftBody(a, f);
  return `${body ? `${body} ` : ''}${nftTarget(a.target, f)} return comment ${nftComment(a.comment)}`;
}

const chainText = new Map<IPFamily, WeakMap<readonly Rule[], readonly string[]>>([
  [4, new WeakMap()],
  [6, new WeakMap()],
]);

/** A chain's rules as nft statements: each rule's, with every mark-then-return pair fused into one. */
export function nftChainRules(rules: readonly Rule[], f: IPFamily): readonly string[] {
  const memo = chainText.get(f)!;
  let text = memo.get(rules);
  if (text) return text;
  const out: string[] = [];
  for (let i = 0; i < rules.length; i++) {
    const fused = i + 1 < rules.length ? fusedPair(rules[i]!, rules[i + 1]!, f) : undefined;
    if (fused !== undefined) {
      out.push(fused);
      i++;
    } else out.push(nftRule(rules[i]!, f));
  }
  memo.set(rules, (text = out));
  return text;
}

export function setFamily(spec: SetSpec): IPFamily {
  return spec.family === 'inet6' ? 6 : 4;
}

/** The body of `add set` for a plan set. */
export function nftSetType(spec: SetSpec): string {
  const a = setFamily(spec) === 4 ? 'ipv4_addr' : 'ipv6_addr';
  switch (spec.type) {
    case 'hash:ip':
      return `type ${a};`;
    case 'hash:ip,port':
      return `type ${a} . inet_proto . inet_service;`;
    case 'hash:net':
      return `type ${a}; flags interval;`;
  }
}

/**
 * hash:net keeps `nomatch` entries (the most specific entry decides); an nft interval set cannot, so
 * the excepted blocks are cut out of the positive ones here: disjoint ranges, the same addresses.
 */
export function netRanges(entries: readonly string[], f: IPFamily): string[] {
  const bits = BigInt(familyBits(f));
  const range = (text: string): [bigint, bigint] => {
    const c = parseCIDROrIP(text);
    if (!c) throw new Error(`nft: bad net entry ${text}`);
    const start = ipToBigInt(c);
    const size = 1n << (bits - BigInt(c.prefix));
    return [start, start + size - 1n];
  };
  const pos: Array<[bigint, bigint]> = [];
  const neg: Array<[bigint, bigint]> = [];
  for (const e of entries) {
    const [net = '', flag] = e.split(' ');
    (flag === 'nomatch' ? neg : pos).push(range(net));
  }
  let parts = pos.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [ns, ne] of neg) {
    const next: Array<[bigint, bigint]> = [];
    for (const [s, e] of parts) {
      if (ne < s || ns > e) {
        next.push([s, e]);
        continue;
      }
      if (s < ns) next.push([s, ns - 1n]);
      if (ne < e) next.push([ne + 1n, e]);
    }
    parts = next;
  }
  const ip = (v: bigint): string => formatIP(bigIntToIP(v, f)!);
  return parts.map(([s, e]) => (s === e ? ip(s) : `${ip(s)}-${ip(e)}`));
}

/** A set's elements as nft spells them. */
export function nftElements(spec: SetSpec): string[] {
  return spec.type === 'hash:net' ? netRanges(spec.entries, setFamily(spec)) : nftElementsOf(spec.type, spec.entries);
}

/** Entries of a hash:ip or hash:ip,port set (any subset: a delta's) as nft elements, one each. */
export function nftElementsOf(type: 'hash:ip' | 'hash:ip,port', entries: readonly string[]): string[] {
  if (type === 'hash:ip') return [...entries];
  // "10.0.0.1,tcp:80" -> "10.0.0.1 . tcp . 80"
  return entries.map((e) => {
    const comma = e.lastIndexOf(',');
    const [proto, port] = e.slice(comma + 1).split(':');
    return `${e.slice(0, comma)} . ${proto} . ${port}`;
  });
}

