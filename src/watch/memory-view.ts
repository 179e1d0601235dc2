import type { ModelOf, ObjectKey, ResourceKind } from '../model/types.js';
import type { ClusterView } from './cluster-view.js';
import { ModelStore, modelKey } from './model-store.js';

/**
 * An in-memory ClusterView for controller tests: same batching, change detection and snapshot semantics as
 * the informer-backed store, without a server.
 */
export interface MemoryClusterView extends ClusterView {
  /** Adds or replaces a model (key derived from its namespace/name). Deep-equal values change nothing. */
  set<K extends ResourceKind>(kind: K, model: ModelOf<K>): void;
  delete(kind: ResourceKind, key: ObjectKey): void;
  /** Delivers pending changes synchronously (otherwise they go out on the next tick). */
  flush(): void;
  /** Resolves after everything set so far has been delivered to subscribers. */
  settled(): Promise<void>;
  /** Resolves whenSynced() for views created with { synced: false }. */
  markSynced(): void;
}

export interface MemoryViewOptions {
  /** Default true: whenSynced() resolves at once. */
  readonly synced?: boolean;
  /** Called when a subscriber throws; by default the error is rethrown asynchronously so tests see it. */
  readonly onListenerError?: (err: unknown) => void;
}

export function createMemoryClusterView(opts: MemoryViewOptions = {}): MemoryClusterView {
  const store = new ModelStore({
    onListenerError:
      opts.onListenerError ??
      ((err) => {
        queueMicrotask(() => {
          throw err;
        });
      }),
  });
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  if (opts.synced !== false) markSynced();
  return {
    snapshot: () => store.snapshot(),
    subscribe: (kinds, listener) => store.subscribe(kinds, listener),
    whenSynced: () => synced,
    set(kind, model) {
      store.upsert(kind, modelKey(kind, model), model);
    },
    delete(kind, key) {
      store.remove(kind, key);
    },
    flush: () => store.flush(),
    settled: () => store.settled(),
    markSynced: () => markSynced(),
  };
}
