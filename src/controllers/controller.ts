import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ClusterView } from '../watch/cluster-view.js';
import type { ErrorCode } from '../observe/errors.js';

/** The names controllers report under in health, metrics and logs. */
export type ControllerName = 'firewall' | 'router' | 'proxy';

/** Liveness bookkeeping: a controller registers its period once, then beats after each successful sync. */
export interface HealthReporter {
  register(name: string, periodMs: number): void;
  beat(name: string): void;
  /** A controller that cannot work yet (e.g. no pod CIDR) says why; cleared by the next beat. */
  problem(name: string, reason: string, code?: ErrorCode): void;
  /**
   * Working, but on a held last good state (e.g. own Node object deleted): shown on /healthz with its code,
   * without failing it (a restart would lose that state and fix nothing). `undefined` clears it.
   */
  degraded?(name: string, reason: string | undefined, code?: ErrorCode): void;
}

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
