import type { ClusterSnapshot, ModelChange, ObjectKey, ResourceKind } from '../model/types.js';
import type { ClusterView } from './cluster-view.js';
import { deepEqual } from './equal.js';

export const ALL_KINDS: readonly ResourceKind[] = ['Node', 'Namespace', 'Pod', 'Service', 'EndpointSlice', 'NetworkPolicy'];

export const SNAPSHOT_FIELD = {
  Node: 'nodes',
  Namespace: 'namespaces',
  Pod: 'pods',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  NetworkPolicy: 'policies',
} as const satisfies Record<ResourceKind, keyof ClusterSnapshot>;

const CLUSTER_SCOPED: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['Node', 'Namespace']);

/** "namespace/name" for namespaced kinds, "name" for Node and Namespace. */
export function objectKey(kind: ResourceKind, namespace: string | undefined, name: string): ObjectKey {
  return CLUSTER_SCOPED.has(kind) ? name : `${namespace ?? ''}/${name}`;
}

/** The key of a model value (every model carries its own name, and namespace when namespaced). */
export function modelKey(kind: ResourceKind, model: { readonly name: string; readonly namespace?: string }): ObjectKey {
  return objectKey(kind, model.namespace, model.name);
}

interface Pending {
  readonly kind: ResourceKind;
  readonly key: ObjectKey;
  /** The value as of the last flush (what subscribers and snapshot() last saw). */
  readonly old: unknown;
  /** Writes since the last flush; with one write the per-event equality check already proved a change. */
  writes: number;
}

interface Subscriber {
  readonly kinds: ReadonlySet<ResourceKind>;
  readonly listener: (changes: readonly ModelChange[]) => void;
}

/**
 * The batched model behind every ClusterView. Writes go to one live map per kind (O(1) each); changes are
 * coalesced per key and delivered once per tick. snapshot() copies a kind's map lazily, at most once per
 * delivered batch, and shows exactly the delivered state (undelivered writes are rolled back in the copy), so
 * a listener's changes and the snapshot it reads always agree.
 */
export class ModelStore {
  private readonly live = new Map<ResourceKind, Map<ObjectKey, unknown>>(ALL_KINDS.map((k) => [k, new Map()]));
  private readonly published = new Map<ResourceKind, ReadonlyMap<ObjectKey, unknown>>();
  private cachedSnapshot: ClusterSnapshot | undefined;
  private pending = new Map<string, Pending>();
  private readonly subscribers = new Set<Subscriber>();
  private scheduled = false;
  private readonly settleWaiters: (() => void)[] = [];

  constructor(
    private readonly hooks: {
      onListenerError?: (err: unknown) => void;
      onFlush?: (store: ModelStore, changes: readonly ModelChange[]) => void;
    } = {},
  ) {}

  get(kind: ResourceKind, key: ObjectKey): unknown {
    return this.live.get(kind)!.get(key);
  }

  has(kind: ResourceKind, key: ObjectKey): boolean {
    return this.live.get(kind)!.has(key);
  }

  size(kind: ResourceKind): number {
    return this.live.get(kind)!.size;
  }

  keys(kind: ResourceKind): IterableIterator<ObjectKey> {
    return this.live.get(kind)!.keys();
  }

  /** Sets a value; returns false (and schedules nothing) when it deep-equals the current one. */
  upsert(kind: ResourceKind, key: ObjectKey, value: unknown): boolean {
    const map = this.live.get(kind)!;
    const cur = map.get(key);
    if (cur !== undefined && deepEqual(cur, value)) return false;
    this.record(kind, key, cur);
    map.set(key, value);
    return true;
  }

  remove(kind: ResourceKind, key: ObjectKey): boolean {
    const map = this.live.get(kind)!;
    const cur = map.get(key);
    if (cur === undefined) return false;
    this.record(kind, key, cur);
    map.delete(key);
    return true;
  }

  private record(kind: ResourceKind, key: ObjectKey, cur: unknown): void {
    const pk = `${kind}\0${key}`;
    const p = this.pending.get(pk);
    if (p) p.writes++;
    else this.pending.set(pk, { kind, key, old: cur, writes: 1 });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Delivers pending changes now. Safe to call at any time; a no-op when nothing is pending. */
  flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.size === 0) {
      this.wakeSettled();
      return;
    }
    this.pending = new Map();
    const changes: ModelChange[] = [];
    for (const p of batch.values()) {
      const now = this.live.get(p.kind)!.get(p.key);
      if (p.old === undefined && now === undefined) continue;
      if (p.old === undefined) changes.push({ kind: p.kind, key: p.key, type: 'added', new: now } as ModelChange);
      else if (now === undefined) changes.push({ kind: p.kind, key: p.key, type: 'deleted', old: p.old } as ModelChange);
      else if (p.writes === 1 || !deepEqual(p.old, now)) {
        changes.push({ kind: p.kind, key: p.key, type: 'updated', old: p.old, new: now } as ModelChange);
      }
    }
    if (changes.length > 0) {
      for (const c of changes) this.published.delete(c.kind);
      this.cachedSnapshot = undefined;
    }
    this.hooks.onFlush?.(this, changes);
    if (changes.length > 0) this.deliver(changes);
    this.wakeSettled();
  }

  private deliver(changes: readonly ModelChange[]): void {
    for (const sub of [...this.subscribers]) {
      if (!this.subscribers.has(sub)) continue;
      const mine = changes.filter((c) => sub.kinds.has(c.kind));
      if (mine.length === 0) continue;
      try {
        sub.listener(mine);
      } catch (err) {
        this.hooks.onListenerError?.(err);
      }
    }
  }

  private wakeSettled(): void {
    for (const w of this.settleWaiters.splice(0)) w();
  }

  /** Resolves once everything written so far has been delivered. */
  settled(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  private publishedMap(kind: ResourceKind): ReadonlyMap<ObjectKey, unknown> {
    let m = this.published.get(kind);
    if (m) return m;
    const copy = new Map(this.live.get(kind)!);
    for (const p of this.pending.values()) {
      if (p.kind !== kind) continue;
      if (p.old === undefined) copy.delete(p.key);
      else copy.set(p.key, p.old);
    }
    m = copy;
    this.published.set(kind, m);
    return m;
  }

  snapshot(): ClusterSnapshot {
    if (this.cachedSnapshot) return this.cachedSnapshot;
    const snap = {} as Record<string, ReadonlyMap<ObjectKey, unknown>>;
    for (const kind of ALL_KINDS) snap[SNAPSHOT_FIELD[kind]] = this.publishedMap(kind);
    this.cachedSnapshot = snap as unknown as ClusterSnapshot;
    return this.cachedSnapshot;
  }

  subscribe(kinds: readonly ResourceKind[], listener: (changes: readonly ModelChange[]) => void): () => void {
    const sub: Subscriber = { kinds: new Set(kinds), listener };
    this.subscribers.add(sub);
    return () => {
      this.subscribers.delete(sub);
    };
  }
}

/** Adapts a ModelStore and a sync promise to the ClusterView contract. */
export function viewOf(store: ModelStore, synced: () => Promise<void>): ClusterView {
  return {
    snapshot: () => store.snapshot(),
    subscribe: (kinds, listener) => store.subscribe(kinds, listener),
    whenSynced: synced,
  };
}
