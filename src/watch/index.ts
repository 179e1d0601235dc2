// Public surface of the watch layer: kubeconfig discovery, the informer-backed ClusterView, an in-memory
// ClusterView for tests, and the bounded-frequency sync runner controllers use.
export type { ClusterView } from './cluster-view.js';
export { loadKubeConfig, KubeConfigError, type KubeConfigSource } from './kubeconfig.js';
export { createClusterStore, type ClusterStore, type ClusterStoreOptions } from './cluster-store.js';
export { createMemoryClusterView, type MemoryClusterView, type MemoryViewOptions } from './memory-view.js';
export { SyncRunner, type SyncReason, type SyncRunnerOptions } from './sync-runner.js';
export { ALL_KINDS, SNAPSHOT_FIELD, objectKey, modelKey } from './model-store.js';
export { deepEqual } from './equal.js';
