// One prom-client Registry per agent, with kube-router's metric names (namespace kube_router_) so existing
// dashboards and alerts keep working. Controllers create their own metrics through the helpers below;
// this module owns the registry, kube_router_build_info and the HTTP endpoint.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { requestPath, serve, type HttpEndpoint } from './http.js';

export const METRIC_PREFIX = 'kube_router_';

/** Buckets (seconds) for the *_sync_time histograms: from a fast incremental apply to a slow full restore. */
export const SYNC_TIME_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Resolution of nodejs_eventloop_lag_* (see createRegistry). */
export const EVENT_LOOP_PRECISION_MS = 100;

export interface RegistryOptions {
  readonly version: string;
  /** Also export process_* and nodejs_* runtime metrics (kube-router exports Go's equivalents). */
  readonly defaultMetrics?: boolean;
}

export function createRegistry(opts: RegistryOptions): Registry {
  const registry = new Registry();
  const info = new Gauge({
    name: `${METRIC_PREFIX}build_info`,
    help: 'A metric with a constant 1 value labeled by the kube-router-ts version and the Node.js version.',
    labelNames: ['version', 'nodeversion'],
    registers: [registry],
  });
  info.set({ version: opts.version, nodeversion: process.version }, 1);
  // The event-loop delay histogram samples with a repeating timer: prom-client's default 10 ms wakes an idle
  // agent ~100 times a second (~10% of a CPU inside user-mode Linux, where each wake-up costs ~1 ms); at
  // 100 ms it still sees every stall that matters to a controller.
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  return registry;
}

/** "controller_iptables_sync_time" -> "kube_router_controller_iptables_sync_time"; full names pass through. */
export function metricName(name: string): string {
  return name.startsWith(METRIC_PREFIX) ? name : `${METRIC_PREFIX}${name}`;
}

/**
 * Returns the registered metric of that name when a controller is re-created on the same registry
 * (tests, restarts after a fatal sync error): prom-client would otherwise throw on the duplicate.
 */
function existing<T>(registry: Registry, name: string, kind: new (...args: never[]) => T): T | undefined {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  if (!(m instanceof kind)) throw new Error(`metric ${name} is already registered with another type`);
  return m;
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[] = [],
  buckets: readonly number[] = SYNC_TIME_BUCKETS,
): Histogram<string> {
  const full = metricName(name);
  return (
    existing(registry, full, Histogram<string>) ??
    new Histogram({ name: full, help, labelNames: [...labelNames], buckets: [...buckets], registers: [registry] })
  );
}

export function gauge(registry: Registry, name: string, help: string, labelNames: readonly string[] = []): Gauge<string> {
  const full = metricName(name);
  return existing(registry, full, Gauge<string>) ?? new Gauge({ name: full, help, labelNames: [...labelNames], registers: [registry] });
}

export function counter(registry: Registry, name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
  const full = metricName(name);
  return (
    existing(registry, full, Counter<string>) ?? new Counter({ name: full, help, labelNames: [...labelNames], registers: [registry] })
  );
}

/** Seconds elapsed since `startNs` (process.hrtime.bigint()), for observing *_sync_time histograms. */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

export interface MetricsServerOptions {
  readonly registry: Registry;
  readonly addr: string;
  /** 0 disables the endpoint (kube-router's default). */
  readonly port: number;
  readonly path: string;
  readonly log?: Logger;
}

/** Serves the registry in the Prometheus text format at `path`; resolves undefined when port is 0. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<HttpEndpoint | undefined> {
  if (opts.port === 0) return undefined;
  const endpoint = await serve('metrics', opts.addr, opts.port, async (req, res) => {
    if (requestPath(req).path !== opts.path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`not found; metrics are at ${opts.path}\n`);
      return;
    }
    const body = await opts.registry.metrics();
    res.writeHead(200, { 'content-type': opts.registry.contentType });
    res.end(body);
  });
  opts.log?.info({ address: endpoint.address, port: endpoint.port, path: opts.path }, 'serving metrics');
  return endpoint;
}
