// Runs a routing controller for a netns "node" in-process: its own metrics registry, a recording health
// reporter, a quiet logger, and an Exec bound to the node's namespace.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { HealthReporter } from '../../controllers/controller.js';
import type { ClusterView } from '../../watch/cluster-view.js';
import { execFor, type Exec } from '../../dataplane/exec.js';
import { createRouterController, type RouterController } from '../../controllers/router/controller.js';
import { routerDefaults, type RouterOptions } from '../../controllers/router/options.js';
import type { SpeakerFactory } from '../../controllers/router/speaker.js';

export class RecordingHealth implements HealthReporter {
  beats = 0;
  problem_: string | undefined;
  register(): void {}
  beat(): void { this.beats++; this.problem_ = undefined; }
  problem(_name: string, reason: string): void { this.problem_ = reason; }
  degraded_: string | undefined;
  degradedCode: string | undefined;
  degraded(_name: string, reason: string | undefined, code?: string): void { this.degraded_ = reason; this.degradedCode = reason === undefined ? undefined : code; }
}

export interface NodeAgent {
  readonly controller: RouterController;
  readonly health: RecordingHealth;
  readonly metrics: Registry;
  readonly cniConfFile: string;
  readonly netns: string;
}

export function startNodeAgent(p: {
  nodeName: string; netns: string; cluster: ClusterView; speakerFactory: SpeakerFactory; opts?: Partial<RouterOptions>; cniDir?: string;
  /** Fault injection: wraps the node's Exec (see faults.ts). */
  wrapExec?: (e: Exec) => Exec;
  /** Re-sync routes on kernel events (default true); off when a test must see what retries alone do. */
  watchKernel?: boolean;
}): NodeAgent {
  const dir = p.cniDir ?? mkdtempSync(join(tmpdir(), `krt-rt-cni-${p.nodeName}-`));
  const cniConfFile = join(dir, '10-kuberouter.conflist');
  const health = new RecordingHealth();
  const metrics = new Registry();
  const log = pino({ level: process.env.KRT_LOG ?? 'silent', base: { node: p.nodeName } });
  const opts = routerDefaults({ cniConfFile, routesSyncPeriodMs: 60_000, injectedRoutesSyncPeriodMs: 300, ...p.opts }, {});
  const controller = createRouterController(
    { nodeName: p.nodeName, cluster: p.cluster, log, metrics, health },
    opts,
    { exec: (p.wrapExec ?? ((e: Exec) => e))(execFor(p.netns)), speakerFactory: p.speakerFactory, ...(p.watchKernel === false ? { watchKernel: false } : {}) },
  );
  return { controller, health, metrics, cniConfFile, netns: p.netns };
}
