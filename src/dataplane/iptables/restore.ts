// Builds `iptables-restore --noflush` input that touches only the chains it names. Declaring
// `:CHAIN - [0:0]` flushes that chain (and creates it if missing); chains not named are left alone, so
// rules other tools own survive. Small edits to long chains become -D/-I lines instead of a rewrite.

export type ChainEdit =
  | { readonly kind: 'replace'; readonly chain: string; readonly rules: readonly string[] }
  | { readonly kind: 'edit'; readonly chain: string; readonly lines: readonly string[] };

/**
 * The cheapest correct way from `current` to `desired` rules of one chain. An in-place edit is used when
 * the rules both keep appear in the same order (deletes by spec, then inserts at their final index in
 * ascending order), and when it is clearly smaller than a rewrite; otherwise the chain is replaced.
 */
const EDIT_MIN_RULES = 16;

export function chainEdit(chain: string, current: readonly string[] | undefined, desired: readonly string[]): ChainEdit | undefined {
  if (current === undefined) return { kind: 'replace', chain, rules: desired };
  if (current === desired) return undefined;
  if (current.length === desired.length && current.every((r, i) => r === desired[i])) return undefined;
  const want = new Set(desired);
  const have = new Set(current);
  // Duplicate specs make -D ambiguous; a rewrite is always right.
  if (want.size !== desired.length || have.size !== current.length) return { kind: 'replace', chain, rules: desired };
  const kept = current.filter((r) => want.has(r));
  const keptNew = desired.filter((r) => have.has(r));
  const sameOrder = kept.length === keptNew.length && kept.every((r, i) => r === keptNew[i]);
  const removed = current.length - kept.length;
  const added = desired.length - keptNew.length;
  // Short chains are simply rewritten (clearer restore files); long ones with a small change are edited.
  if (!sameOrder || desired.length < EDIT_MIN_RULES || (removed + added) * 4 > desired.length) {
    return { kind: 'replace', chain, rules: desired };
  }
  const lines: string[] = [];
  for (const r of current) if (!want.has(r)) lines.push(`-D ${chain} ${r}`);
  desired.forEach((r, i) => {
    if (!have.has(r)) lines.push(`-I ${chain} ${i + 1} ${r}`);
  });
  return { kind: 'edit', chain, lines };
}

export interface RestoreScript {
  /** Chains to create or flush and fill. */
  readonly edits: readonly ChainEdit[];
  /** Extra raw lines (e.g. top-level jumps in INPUT), after the chain contents. */
  readonly extra?: readonly string[];
  /** Chains to delete; they are flushed first and removed last, after every reference is gone. */
  readonly deleteChains?: readonly string[];
  /**
   * Start with a read-only `-S` (iptables-nft only; see fullCacheWorthIt). A command that names no chain
   * makes iptables-nft 1.8.x fetch the whole table once instead of keeping a sorted list of every chain
   * the restore names: that list costs a linear walk per rule plus one netlink request per chain, which
   * is what makes a large --noflush restore 3x slower than a plain one. The listing goes to stdout.
   */
  readonly listFirst?: boolean;
}

export function renderRestore(table: string, s: RestoreScript): string {
  const out: string[] = [`*${table}`];
  if (s.listFirst) out.push('-S');
  for (const e of s.edits) if (e.kind === 'replace') out.push(`:${e.chain} - [0:0]`);
  for (const c of s.deleteChains ?? []) out.push(`:${c} - [0:0]`);
  for (const e of s.edits) {
    if (e.kind === 'replace') for (const r of e.rules) out.push(`-A ${e.chain} ${r}`);
    else out.push(...e.lines);
  }
  out.push(...(s.extra ?? []));
  for (const c of s.deleteChains ?? []) out.push(`-X ${c}`);
  out.push('COMMIT', '');
  return out.join('\n');
}

/** Lines and distinct chains a script names: the two factors of iptables-nft's per-restore list walk. */
export function scriptSize(s: RestoreScript): { commands: number; chains: number } {
  let commands = (s.extra?.length ?? 0) + 2 * (s.deleteChains?.length ?? 0);
  for (const e of s.edits) commands += 1 + (e.kind === 'replace' ? e.rules.length : e.lines.length);
  return { commands, chains: s.edits.length + (s.deleteChains?.length ?? 0) };
}

/**
 * Whether a leading `-S` pays off: it costs one dump of the whole table (about what iptables-save
 * costs, ~8 us a rule), while the per-chain list costs about commands x chains list steps (~8 ns each)
 * plus a netlink round trip per chain. Measured with iptables 1.8.9 on 6,400 chains / 89,000 rules.
 */
export function fullCacheWorthIt(s: RestoreScript, tableRules: number): boolean {
  const { commands, chains } = scriptSize(s);
  return commands * chains > 1000 * (tableRules + 1000);
}

export function isEmptyScript(s: RestoreScript): boolean {
  return s.edits.length === 0 && (s.extra?.length ?? 0) === 0 && (s.deleteChains?.length ?? 0) === 0;
}

/** Quotes a comment the way iptables-save prints it, so rendered and saved rules compare equal. */
export function quoteComment(text: string): string {
  return /^[A-Za-z0-9_.:/+=@-]+$/.test(text) ? text : `"${text.replace(/(["'\\])/g, '\\$1')}"`;
}
