// The agent's life: health and metrics up first (so a probe sees us while we wait for the API server),
// then the cluster store and its initial sync, then the enabled controllers in kube-router's order.
// SIGTERM/SIGINT stop the controllers and leave the dataplane as it is: a restart must not open a window.

import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { ControllerContext, ControllerName } from '../controllers/controller.js';
import type { AgentConfig } from '../cli/flags.js';
import { nonDefaultFlags } from '../cli/parse.js';
import { VERSION } from '../cli/version.js';
import { formatDuration } from '../cli/values.js';
import type { HttpEndpoint } from '../observe/http.js';
import { HealthMonitor, startHealthServer } from '../observe/health.js';
import { controllerLogger, createLogger, type Logger } from '../observe/logger.js';
import { createRegistry, startMetricsServer } from '../observe/metrics.js';
import { informerClusterStore, type ClusterStore, type ClusterStoreFactory } from './cluster.js';
import {
  createController,
  isPlaceholder,
  registeredFactories,
  START_ORDER,
  type AgentController,
  type FactoryTable,
} from './controllers.js';

export interface AgentDeps {
  readonly log?: Logger;
  readonly registry?: Registry;
  readonly health?: HealthMonitor;
  readonly factories?: FactoryTable;
  readonly clusterStore?: ClusterStoreFactory;
  /** Aborting stops the agent (tests); without it SIGTERM and SIGINT do. */
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  /** Told the bound health/metrics endpoints once listening (tests ask the OS for free ports). */
  readonly onListening?: (endpoints: { health?: HttpEndpoint; metrics?: HttpEndpoint }) => void;
}

/** --hostname-override, else $NODE_NAME (downward API in the DaemonSet), else the host name. */
export function resolveNodeName(config: Pick<AgentConfig, 'hostnameOverride'>, env: NodeJS.ProcessEnv = process.env): string {
  return config.hostnameOverride || env.NODE_NAME || hostname();
}

export function enabledControllers(config: AgentConfig): ControllerName[] {
  const on: Record<ControllerName, boolean> = {
    router: config.runRouter,
    proxy: config.runServiceProxy,
    firewall: config.runFirewall,
  };
  return START_ORDER.filter((n) => on[n]);
}

/** Warns for every non-default flag that has no effect in this build, so nothing silently no-ops. */
export function warnIneffectiveFlags(config: AgentConfig, table: FactoryTable, log: Logger): void {
  const enabled = new Set<string>(enabledControllers(config));
  for (const f of nonDefaultFlags(config)) {
    const ownerIsController = f.spec.owner === 'router' || f.spec.owner === 'proxy' || f.spec.owner === 'firewall';
    if (f.spec.implemented === false) {
      log.warn({ flag: f.name, value: f.display }, `--${f.name} is not implemented yet; the setting has no effect`);
    } else if (typeof f.spec.implemented === 'string') {
      log.warn({ flag: f.name, value: f.display }, `--${f.name} is only partly implemented: ${f.spec.implemented}`);
    } else if (ownerIsController && enabled.has(f.spec.owner) && isPlaceholder(table, f.spec.owner as ControllerName)) {
      log.warn({ flag: f.name, value: f.display }, `--${f.name} has no effect: the ${f.spec.owner} controller is not in this build`);
    }
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${formatDuration(ms)}`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Resolves on abort/SIGTERM/SIGINT; a second signal during shutdown exits at once. */
function stopRequested(signal: AbortSignal | undefined, log: Logger): { promise: Promise<string>; dispose(): void } {
  if (signal) {
    const promise = signal.aborted
      ? Promise.resolve('abort')
      : new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('abort'), { once: true }));
    return { promise, dispose: () => {} };
  }
  let seen = false;
  let resolveStop: (s: string) => void = () => {};
  const promise = new Promise<string>((r) => (resolveStop = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (seen) {
      log.warn({ signal: sig }, 'second signal during shutdown; exiting now');
      process.exit(1);
    }
    seen = true;
    resolveStop(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    promise,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

const STOP_TIMEOUT_MS = 10_000;

/** Runs until stopped; rejects on a fatal start-up error (bad kubeconfig, port in use, cache sync timeout). */
export async function runAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<void> {
  const nodeName = resolveNodeName(config, deps.env);
  const log = deps.log ?? createLogger({ verbosity: config.v, base: { node: nodeName } });
  const table = deps.factories ?? registeredFactories();
  const enabled = enabledControllers(config);
  const flags = Object.fromEntries(nonDefaultFlags(config).map((f) => [f.name, f.display]));
  log.info({ version: VERSION, nodeversion: process.version, nodeName, controllers: enabled, flags }, 'kube-router-ts starting');
  warnIneffectiveFlags(config, table, log);

  const stop = stopRequested(deps.signal, log);
  const registry = deps.registry ?? createRegistry({ version: VERSION, defaultMetrics: true });
  const health = deps.health ?? new HealthMonitor({ log: log.child({ component: 'health' }) });
  const endpoints: HttpEndpoint[] = [];
  const started: AgentController[] = [];
  let store: ClusterStore | undefined;

  const shutdown = async (): Promise<void> => {
    for (const c of [...started].reverse()) {
      await timeout(c.stop(), STOP_TIMEOUT_MS, `stopping the ${c.name} controller`).catch((err: Error) =>
        log.error({ controller: c.name, err: err.message }, 'controller did not stop cleanly'),
      );
    }
    if (store) await timeout(store.stop(), STOP_TIMEOUT_MS, 'stopping the cluster watch').catch(() => {});
    health.stop();
    await Promise.all(endpoints.map((e) => e.close()));
    stop.dispose();
  };

  try {
    health.start();
    const healthEp = await startHealthServer({ monitor: health, addr: config.healthAddr, port: config.healthPort, log });
    if (healthEp) endpoints.push(healthEp);
    else log.info('health server disabled (--health-port=0); missed heartbeats are still logged');
    const metricsEp = await startMetricsServer({
      registry,
      addr: config.metricsAddr,
      port: config.metricsPort,
      path: config.metricsPath,
      log,
    });
    if (metricsEp) endpoints.push(metricsEp);
    deps.onListening?.({ ...(healthEp ? { health: healthEp } : {}), ...(metricsEp ? { metrics: metricsEp } : {}) });

    const makeStore = deps.clusterStore ?? informerClusterStore;
    store = await makeStore({ kubeconfig: config.kubeconfig, master: config.master, log, metrics: registry });
    const t0 = Date.now();
    const synced = timeout(
      Promise.all([store.start(), store.whenSynced()]),
      config.cacheSyncTimeoutMs,
      'waiting for the initial list of nodes, pods, services, endpointslices, namespaces and networkpolicies (--cache-sync-timeout)',
    );
    synced.catch(() => {}); // a timeout after a stop request must not become an unhandled rejection
    const first = await Promise.race([synced.then(() => 'synced'), stop.promise]);
    if (first !== 'synced') {
      log.info({ reason: first }, 'stopped before the cluster cache synced');
      return;
    }
    log.info({ ms: Date.now() - t0 }, 'cluster cache synced');
    if (!store.snapshot().nodes.has(nodeName)) {
      log.warn({ nodeName }, `node ${nodeName} is not in the cluster (yet); set --hostname-override or NODE_NAME if the name is wrong`);
    }

    const starts: Promise<void>[] = [];
    for (const name of enabled) {
      const ctx: ControllerContext = { nodeName, cluster: store, log: controllerLogger(log, name), metrics: registry, health };
      const c = await createController(table, name, ctx, config);
      started.push(c);
      const placeholder = isPlaceholder(table, name);
      starts.push(c.start().then(() => void (placeholder || ctx.log.info('controller started (first sync done)'))));
    }
    const allStarted = Promise.all(starts);
    allStarted.catch(() => {}); // same: a start failing after a stop request is only logged by shutdown
    const result = await Promise.race([allStarted.then(() => 'started'), stop.promise]);
    if (result === 'started') {
      log.info({ controllers: enabled }, 'kube-router-ts is running');
      log.info({ reason: await stop.promise }, 'stopping: controllers stop, the dataplane stays as it is');
    } else {
      log.info({ reason: result }, 'stopping during start-up');
    }
  } finally {
    await shutdown();
  }
  log.info('kube-router-ts stopped');
}
