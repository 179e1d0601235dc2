// In-memory object store: one global resourceVersion counter (as etcd's revision), per-resource maps of
// immutable objects with a lazily cached JSON form (lists and watch events are built from these strings,
// never by re-serializing), a bounded per-resource event history for watch resume, and watcher fan-out.
import type { ResourceDef } from './resources.js';
import type { KubeObject, Matcher } from './selectors.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Entry {
  readonly key: string;
  /** Never mutated after commit: readers may hold it while writers replace the entry. */
  readonly obj: KubeObject;
  json?: string;
}

export interface StoreEvent {
  readonly type: EventType;
  readonly rv: number;
  readonly entry: Entry;
  /** The object before this change (MODIFIED/DELETED); used to turn filtered watches into ADDED/DELETED. */
  readonly prev?: KubeObject;
}

export interface Watcher {
  readonly ns?: string;
  readonly match?: Matcher;
  deliver(type: EventType, entry: Entry): void;
}

export function entryJSON(e: Entry): string {
  return (e.json ??= JSON.stringify(e.obj));
}

export function objectKey(ns: string | undefined, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

export class ResourceStore {
  readonly items = new Map<string, Entry>();
  private sorted?: string[];
  private history: StoreEvent[] = [];
  private historyStart = 0;
  /** A watch may resume from any rv >= oldestRV; older ones get 410 Gone. */
  oldestRV: number;
  readonly watchers = new Set<Watcher>();

  constructor(
    readonly def: ResourceDef,
    private readonly capacity: number,
    startRV: number,
  ) {
    this.oldestRV = startRV;
  }

  sortedKeys(): string[] {
    if (!this.sorted) this.sorted = [...this.items.keys()].sort();
    return this.sorted;
  }

  /** Keys in order, restricted to a namespace, strictly after `after` when given. */
  *keysFrom(ns: string | undefined, after: string | undefined): Generator<string> {
    const keys = this.sortedKeys();
    const prefix = ns ? `${ns}/` : '';
    let i = bound(keys, prefix, false);
    if (after !== undefined) i = Math.max(i, bound(keys, after, true));
    for (; i < keys.length; i++) {
      const k = keys[i]!;
      if (prefix && !k.startsWith(prefix)) break;
      yield k;
    }
  }

  /** Events with rv > since, in order; undefined when `since` is older than the retained history. */
  eventsSince(since: number): StoreEvent[] | undefined {
    if (since < this.oldestRV) return undefined;
    const h = this.history;
    let lo = this.historyStart;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (h[mid]!.rv <= since) lo = mid + 1;
      else hi = mid;
    }
    return h.slice(lo);
  }

  /** Drops history up to `rv`: a watch may then resume only from `rv` or later (etcd compaction). */
  compactTo(rv: number): void {
    if (rv <= this.oldestRV) return;
    this.oldestRV = rv;
    while (this.historyStart < this.history.length && this.history[this.historyStart]!.rv <= rv) this.historyStart++;
    this.history = this.history.slice(this.historyStart);
    this.historyStart = 0;
  }

  record(ev: StoreEvent): void {
    if (ev.type === 'DELETED') {
      this.items.delete(ev.entry.key);
      this.sorted = undefined;
    } else {
      if (!this.items.has(ev.entry.key)) this.sorted = undefined;
      this.items.set(ev.entry.key, ev.entry);
    }
    if (this.capacity > 0) {
      this.history.push(ev);
      if (this.history.length - this.historyStart > this.capacity) {
        this.oldestRV = this.history[this.historyStart]!.rv;
        this.historyStart++;
        // Compact occasionally instead of shifting on every write.
        if (this.historyStart > this.capacity) {
          this.history = this.history.slice(this.historyStart);
          this.historyStart = 0;
        }
      }
    } else this.oldestRV = ev.rv;
    for (const w of this.watchers) dispatch(w, ev);
  }
}

/** First index whose key is >= x (or > x when strict). */
function bound(keys: string[], x: string, strict: boolean): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const k = keys[mid]!;
    if (k < x || (strict && k === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function matches(w: { ns?: string; match?: Matcher }, obj: KubeObject | undefined): boolean {
  if (!obj) return false;
  if (w.ns && obj.metadata?.namespace !== w.ns) return false;
  return !w.match || w.match(obj);
}

/** Filtered-watch semantics of the real watch cache: leaving the filter is DELETED, entering is ADDED. */
export function dispatch(w: Watcher, ev: StoreEvent): void {
  const now = matches(w, ev.entry.obj);
  if (ev.type === 'ADDED') {
    if (now) w.deliver('ADDED', ev.entry);
    return;
  }
  if (ev.type === 'DELETED') {
    if (now) w.deliver('DELETED', ev.entry);
    return;
  }
  const before = matches(w, ev.prev);
  if (now && before) w.deliver('MODIFIED', ev.entry);
  else if (now) w.deliver('ADDED', ev.entry);
  else if (before) w.deliver('DELETED', ev.entry);
}

export class Store {
  rv: number;
  readonly resources = new Map<ResourceDef, ResourceStore>();
  onChange?: () => void;
  /**
   * resourceVersions in (lostAfter, startRV) may have been handed out by an earlier process whose last
   * changes never reached the data file; a watch resuming from one must relist (410).
   */
  lostAfter?: number;
  startRV: number;

  constructor(defs: readonly ResourceDef[], historyCapacity: number, startRV: number) {
    this.rv = startRV;
    this.startRV = startRV;
    for (const d of defs) this.resources.set(d, new ResourceStore(d, historyCapacity, startRV));
  }

  /** Whether a watch from `since` cannot be served (history gone, lost range, or from the future). */
  expired(def: ResourceDef, since: number): boolean {
    if (since > this.rv) return true;
    if (this.lostAfter !== undefined && since > this.lostAfter && since < this.startRV) return true;
    return this.of(def).eventsSince(since) === undefined;
  }

  /** Moves the counter forward (before serving): nothing older than `rv` can be resumed. */
  bumpTo(rv: number): void {
    if (rv <= this.rv) return;
    this.rv = this.startRV = rv;
    for (const rs of this.resources.values()) rs.oldestRV = rv;
  }

  /**
   * Compacts every resource's history up to `rv` (default: now), as etcd compaction does: watches resuming
   * from an older resourceVersion get 410 Expired and must relist. Returns the version compacted to.
   */
  compact(rv = this.rv): number {
    const to = Math.min(rv, this.rv);
    for (const rs of this.resources.values()) rs.compactTo(to);
    return to;
  }

  /** Lets a watch resume from exactly `rv` (the last version persisted by a previous process). */
  allowResumeFrom(rv: number): void {
    this.lostAfter = rv;
    for (const rs of this.resources.values()) rs.oldestRV = Math.min(rs.oldestRV, rv);
  }

  of(def: ResourceDef): ResourceStore {
    return this.resources.get(def)!;
  }

  get(def: ResourceDef, ns: string | undefined, name: string): Entry | undefined {
    return this.of(def).items.get(objectKey(def.namespaced ? ns : undefined, name));
  }

  /** Stamps a new resourceVersion on `obj` (which must be a fresh object) and publishes the change. */
  commit(def: ResourceDef, type: EventType, obj: KubeObject, prev?: KubeObject): Entry {
    const rv = ++this.rv;
    const stamped = type === 'DELETED' ? { ...obj, metadata: { ...obj.metadata } } : obj;
    stamped.metadata.resourceVersion = String(rv);
    const key = objectKey(def.namespaced ? stamped.metadata.namespace : undefined, stamped.metadata.name);
    const entry: Entry = { key, obj: stamped };
    const ev: StoreEvent = prev ? { type, rv, entry, prev } : { type, rv, entry };
    this.of(def).record(ev);
    this.onChange?.();
    return entry;
  }

  /** Loads an object as-is (from a snapshot): no event, no history. */
  load(def: ResourceDef, obj: KubeObject): void {
    const key = objectKey(def.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
    this.of(def).items.set(key, { key, obj });
  }
}
