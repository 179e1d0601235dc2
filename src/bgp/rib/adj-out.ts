// Adj-RIB-Out for one peer: what was sent, and what is pending. Pending changes coalesce per prefix; a
// flush compares with what was sent, groups announcements by attribute object and packs them into as few
// UPDATEs as fit.
import { encodePathAttrs } from '../wire/attrs/path-attrs.js';
import type { PathAttrs } from '../wire/attrs/types.js';
import { encodeAnnouncements, encodeWithdrawals } from '../wire/update-encode.js';
import type { Family, PrefixKey } from '../wire/prefix.js';

export class AdjRibOut {
  readonly sent = new Map<PrefixKey, PathAttrs>();
  private pending = new Map<PrefixKey, PathAttrs | null>();
  private encoded = new WeakMap<PathAttrs, Buffer>();
  constructor(private readonly as4: boolean) {}

  get hasPending(): boolean { return this.pending.size > 0; }

  /** `out` undefined = the prefix should not be advertised (withdraw if it was). */
  stage(key: PrefixKey, out: PathAttrs | undefined): void {
    this.pending.set(key, out ?? null);
  }

  count(family?: Family): number {
    if (!family) return this.sent.size;
    let n = 0;
    for (const k of this.sent.keys()) if ((typeof k === 'number') === (family === 'ipv4-unicast')) n++;
    return n;
  }

  /** Turns pending changes into UPDATE messages appended to `out`; returns how many prefixes changed. */
  flush(out: Buffer[]): number {
    const w4: PrefixKey[] = [], w6: PrefixKey[] = [];
    const g4 = new Map<PathAttrs, PrefixKey[]>(), g6 = new Map<PathAttrs, PrefixKey[]>();
    let changed = 0;
    for (const [key, attrs] of this.pending) {
      const cur = this.sent.get(key);
      const v4 = typeof key === 'number';
      if (attrs === null) {
        if (cur === undefined) continue;
        this.sent.delete(key);
        (v4 ? w4 : w6).push(key);
      } else {
        if (cur === attrs) continue;
        this.sent.set(key, attrs);
        const g = v4 ? g4 : g6;
        const list = g.get(attrs);
        if (list) list.push(key); else g.set(attrs, [key]);
      }
      changed++;
    }
    this.pending.clear();
    if (w4.length) encodeWithdrawals('ipv4-unicast', w4, out);
    if (w6.length) encodeWithdrawals('ipv6-unicast', w6, out);
    this.encodeGroups('ipv4-unicast', g4, out);
    this.encodeGroups('ipv6-unicast', g6, out);
    return changed;
  }

  /** Everything sent for `family` again (route refresh, RFC 2918). */
  resend(family: Family, out: Buffer[]): void {
    const g = new Map<PathAttrs, PrefixKey[]>();
    const v4 = family === 'ipv4-unicast';
    for (const [k, a] of this.sent) {
      if ((typeof k === 'number') !== v4) continue;
      const list = g.get(a);
      if (list) list.push(k); else g.set(a, [k]);
    }
    this.encodeGroups(family, g, out);
  }

  /** Forget everything (session down): the next session starts from an empty Adj-RIB-Out. */
  clear(): void {
    this.sent.clear();
    this.pending.clear();
  }

  private encodeGroups(family: Family, groups: Map<PathAttrs, PrefixKey[]>, out: Buffer[]): void {
    const v4 = family === 'ipv4-unicast';
    for (const [attrs, keys] of groups) {
      let enc = this.encoded.get(attrs);
      if (!enc) {
        enc = encodePathAttrs(attrs, { as4: this.as4, withNextHop: v4 });
        this.encoded.set(attrs, enc);
      }
      encodeAnnouncements(family, enc, attrs.nextHop ?? '', keys, out, attrs.linkLocalNextHop);
    }
  }
}
