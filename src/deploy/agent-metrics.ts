// The metrics a running agent registers, taken from the code that registers them: the agent's registry
// (build info and the Node.js process metrics), the cluster store's, and each built-in controller's,
// constructed (not started: construction registers, starting needs root) on one registry.
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { KubeConfig } from '@kubernetes/client-node';
import { BUILTIN_FACTORIES } from '../agent/builtin.js';
import { defaultConfig } from '../cli/parse.js';
import { VERSION } from '../cli/version.js';
import { HealthMonitor } from '../observe/health.js';
import { createLogger } from '../observe/logger.js';
import { MemoryLog } from '../testing/observe.js';
import { createRegistry } from '../observe/metrics.js';
import { createClusterStore } from '../watch/cluster-store.js';
import { emptyClusterView } from '../agent/cluster.js';

export interface MetricFamily {
  readonly name: string;
  readonly type: string;
  /** The names that appear in the exposition (a histogram's _bucket, _sum, _count). */
  readonly series: readonly string[];
}

export async function agentMetricFamilies(): Promise<MetricFamily[]> {
  const registry = createRegistry({ version: VERSION, defaultMetrics: true });
  const log = createLogger({ verbosity: 0, destination: new MemoryLog() });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  createClusterStore({ kubeConfig, log, metrics: registry, autoStart: false });
  const health = new HealthMonitor({ log });
  // An agent Prometheus scrapes has its metrics server on (the default --metrics-port 0 has none).
  const config = { ...defaultConfig(), metricsPort: 8080 };
  for (const factory of Object.values(BUILTIN_FACTORIES)) {
    factory?.({ nodeName: 'n1', cluster: emptyClusterView(), log, metrics: registry, health }, config);
  }
  const json = (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
  return json.map((m) => ({
    name: m.name,
    type: String(m.type),
    series: String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  }));
}
