// --cleanup-config: every controller removes what it ever programmed (chains, sets, routes, interfaces,
// CNI files), whether or not it is enabled, as kube-router does. No API server is needed: controllers
// see an empty cluster.

import type { Registry } from 'prom-client';
import type { ControllerContext, ControllerName } from '../controllers/controller.js';
import type { AgentConfig } from '../cli/flags.js';
import { VERSION } from '../cli/version.js';
import { HealthMonitor } from '../observe/health.js';
import { controllerLogger, type Logger } from '../observe/logger.js';
import { createRegistry } from '../observe/metrics.js';
import { resolveNodeName } from './agent.js';
import { emptyClusterView } from './cluster.js';
import { createController, registeredFactories, type FactoryTable } from './controllers.js';

/** kube-router's cleanup order: policy first (it references the others' sets), routes last. */
const CLEANUP_ORDER: readonly ControllerName[] = ['firewall', 'proxy', 'router'];

export interface CleanupResult {
  readonly cleaned: readonly ControllerName[];
  readonly failed: readonly { name: ControllerName; error: string }[];
}

export async function runCleanup(
  config: AgentConfig,
  log: Logger,
  factories: FactoryTable = registeredFactories(),
  registry: Registry = createRegistry({ version: VERSION }),
): Promise<CleanupResult> {
  const nodeName = resolveNodeName(config);
  const cluster = emptyClusterView();
  const health = new HealthMonitor();
  const cleaned: ControllerName[] = [];
  const failed: { name: ControllerName; error: string }[] = [];
  for (const name of CLEANUP_ORDER) {
    const ctx: ControllerContext = { nodeName, cluster, log: controllerLogger(log, name), metrics: registry, health };
    try {
      const c = await createController(factories, name, ctx, config);
      if (!c.cleanup) {
        ctx.log.warn(`the ${name} controller has no cleanup; its state (if any) is left in place`);
        continue;
      }
      await c.cleanup();
      cleaned.push(name);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      ctx.log.error({ err: error }, 'cleanup failed');
      failed.push({ name, error });
    }
  }
  log.info({ cleaned, failed: failed.map((f) => f.name) }, failed.length ? 'cleanup finished with errors' : 'cleanup finished');
  return { cleaned, failed };
}
