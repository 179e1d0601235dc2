// Loc-RIB: per prefix either the single candidate Path, or an array of candidates with the best at index 0
// (the common one-path case then costs no extra object). Changes are recorded with the best path as it was
// before the first change, so a burst that ends where it started produces no event.
import type { PrefixKey } from '../wire/prefix.js';
import { bestIndex } from './decision.js';
import type { Path, PeerRef } from './path.js';

type Entry = Path | Path[];

export class LocRib {
  private readonly map = new Map<PrefixKey, Entry>();
  /** key -> best before the first change since the last drain. */
  private changed = new Map<PrefixKey, Path | undefined>();

  get size(): number { return this.map.size; }

  best(key: PrefixKey): Path | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : Array.isArray(e) ? e[0] : e;
  }

  candidates(key: PrefixKey): readonly Path[] {
    const e = this.map.get(key);
    return e === undefined ? [] : Array.isArray(e) ? e : [e];
  }

  /** Adds or replaces the path from `path.source` for `key`. */
  set(key: PrefixKey, path: Path): void {
    const e = this.map.get(key);
    if (e === undefined) {
      this.mark(key, undefined);
      this.map.set(key, path);
      return;
    }
    if (!Array.isArray(e)) {
      if (e === path) return;
      this.mark(key, e);
      if (e.source === path.source) this.map.set(key, path);
      else this.store(key, [e, path]);
      return;
    }
    this.mark(key, e[0]);
    const i = e.findIndex((p) => p.source === path.source);
    if (i >= 0) e[i] = path; else e.push(path);
    this.store(key, e);
  }

  /** Removes the path from `source` (undefined = our own) for `key`. */
  delete(key: PrefixKey, source: PeerRef | undefined): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    if (!Array.isArray(e)) {
      if (e.source !== source) return;
      this.mark(key, e);
      this.map.delete(key);
      return;
    }
    const i = e.findIndex((p) => p.source === source);
    if (i < 0) return;
    this.mark(key, e[0]);
    e.splice(i, 1);
    this.store(key, e);
  }

  private store(key: PrefixKey, arr: Path[]): void {
    if (arr.length === 1) { this.map.set(key, arr[0]!); return; }
    const b = bestIndex(arr);
    if (b !== 0) { const t = arr[0]!; arr[0] = arr[b]!; arr[b] = t; }
    this.map.set(key, arr);
  }

  private mark(key: PrefixKey, before: Path | undefined): void {
    if (!this.changed.has(key)) this.changed.set(key, before);
  }

  get hasChanges(): boolean { return this.changed.size > 0; }

  /** Returns the keys whose best path actually changed since the last drain, with the old best. */
  drain(): Map<PrefixKey, Path | undefined> {
    const c = this.changed;
    this.changed = new Map();
    for (const [k, before] of c) if (this.best(k) === before) c.delete(k);
    return c;
  }

  keys(): IterableIterator<PrefixKey> { return this.map.keys(); }
  entries(): IterableIterator<[PrefixKey, Entry]> { return this.map.entries(); }
}
