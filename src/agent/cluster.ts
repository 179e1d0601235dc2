// How the agent gets its ClusterStore: the informer-backed store of src/watch, or (tests) any other
// ClusterView that can start and stop.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClusterSnapshot } from '../model/types.js';
import type { ClusterView } from '../watch/cluster-view.js';

export interface ClusterStore extends ClusterView {
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterStoreRequest {
  readonly kubeconfig: string;
  readonly master: string;
  readonly log: Logger;
  readonly metrics: Registry;
}

export type ClusterStoreFactory = (req: ClusterStoreRequest) => Promise<ClusterStore>;

/** The real store: kubeconfig from --kubeconfig / --master, else in-cluster (decided by src/watch). Loaded
 *  lazily so that code paths without an API server (tests, --cleanup-config) never load the client. */
export const informerClusterStore: ClusterStoreFactory = async (req) => {
  const watch = await import('../watch/index.js');
  const kubeConfig = watch.loadKubeConfig({
    ...(req.kubeconfig ? { kubeconfig: req.kubeconfig } : {}),
    ...(req.master ? { master: req.master } : {}),
  });
  return watch.createClusterStore({ kubeConfig, log: req.log, metrics: req.metrics });
};

export function emptySnapshot(): ClusterSnapshot {
  return {
    nodes: new Map(),
    namespaces: new Map(),
    pods: new Map(),
    services: new Map(),
    endpointSlices: new Map(),
    policies: new Map(),
  };
}

/** A cluster with nothing in it and no API server behind it: what controllers see during --cleanup-config. */
export function emptyClusterView(): ClusterView {
  const snap = emptySnapshot();
  return {
    snapshot: () => snap,
    subscribe: () => () => {},
    whenSynced: () => Promise.resolve(),
  };
}
