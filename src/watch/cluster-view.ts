import type { ClusterSnapshot, ModelChange, ResourceKind } from '../model/types.js';

/**
 * What controllers see of the cluster: a consistent snapshot and a change feed. Implemented by the
 * informer-backed store (watch/cluster-store.ts) and by an in-memory store for tests.
 */
export interface ClusterView {
  /** The current model. Cheap: maps are shared until the next change replaces them. */
  snapshot(): ClusterSnapshot;
  /**
   * Calls `listener` with every batch of changes to the given kinds, after the store has applied them
   * (so snapshot() already shows them). Returns an unsubscribe function.
   */
  subscribe(kinds: readonly ResourceKind[], listener: (changes: readonly ModelChange[]) => void): () => void;
  /** Resolves once every informer has finished its initial list. */
  whenSynced(): Promise<void>;
}
