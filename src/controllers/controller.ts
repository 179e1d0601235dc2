import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClusterView } from '../watch/cluster-view.js';
import type { HealthReporter } from '../observe/health.js';

/** The names controllers report under in health, metrics and logs. */
export type ControllerName = 'firewall' | 'router' | 'proxy';

/** Liveness bookkeeping, defined beside its implementation (observe/health.ts). */
export type { HealthReporter };

/** What every controller gets from the agent. Controller-specific options are passed separately. */
export interface ControllerContext {
  readonly nodeName: string;
  readonly cluster: ClusterView;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly health: HealthReporter;
}

export interface Controller {
  readonly name: ControllerName;
  /** Starts watching and syncing; resolves after the first successful sync (or rejects on fatal setup error). */
  start(): Promise<void>;
  /** Stops timers and watches. Leaves the dataplane as it is (an agent restart must not open a window). */
  stop(): Promise<void>;
}
