// The cluster as the agent sees it, once: the agent's own informer-backed store (src/watch: same
// kubeconfig discovery, same lists, same normalization of every object) restricted to the kinds the
// firewall watches, started, read when synced, and stopped.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ClusterSnapshot } from '../model/types.js';
import { KrtError } from '../observe/errors.js';

export interface SnapshotSource {
  readonly kubeconfig?: string;
  readonly master?: string;
  readonly timeoutMs: number;
  readonly log: Logger;
}

export async function loadSnapshot(src: SnapshotSource): Promise<ClusterSnapshot> {
  const watch = await import('../watch/index.js');
  const kubeConfig = watch.loadKubeConfig({
    ...(src.kubeconfig ? { kubeconfig: src.kubeconfig } : {}),
    ...(src.master ? { master: src.master } : {}),
  });
  const store = watch.createClusterStore({ kubeConfig, log: src.log, metrics: new Registry(), kinds: ['Node', 'Namespace', 'Pod', 'NetworkPolicy'] });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.whenSynced(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KrtError('KRT_EXPLAIN_API', `could not list the cluster from ${kubeConfig.getCurrentCluster()?.server ?? 'the API server'} within ${src.timeoutMs / 1000} s`)), src.timeoutMs);
      }),
    ]);
    return store.snapshot();
  } finally {
    clearTimeout(timer);
    await store.stop();
  }
}
