// The wiring the firewall and the proxy share: register with health, wait for the informers, run a
// SyncRunner (first sync, periodic full syncs, retries with backoff) that follows the cluster kinds the
// controller watches, and on stop wait for a sync in flight so a successor agent never races our last
// write. Plus the one shape of their "synced" log line. The router's loops differ (several runners,
// BGP) and keep their own wiring.
import type { Logger } from 'pino';
import type { ModelChange, ResourceKind } from '../model/types.js';
import { SyncRunner, type SyncReason } from '../watch/sync-runner.js';
import type { ControllerContext, ControllerName } from './controller.js';

export interface SyncLoopOptions {
  readonly name: ControllerName;
  readonly watched: readonly ResourceKind[];
  /** Node events count for this node only (its own Node object). */
  readonly nodeName: string;
  /** Full-sync period (also the health deadline). */
  readonly periodMs: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly sync: (reason: SyncReason) => Promise<void>;
}

export class SyncLoop {
  private runner: SyncRunner | undefined;
  private unsubscribe: (() => void) | undefined;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly o: SyncLoopOptions,
  ) {}

  /** Resolves after the first successful sync. */
  async start(): Promise<void> {
    const { ctx, o } = this;
    ctx.health.register(o.name, o.periodMs);
    await ctx.cluster.whenSynced();
    this.runner = new SyncRunner({
      name: o.name,
      run: (reason) => {
        const p = o.sync(reason);
        this.inflight = p.catch(() => undefined);
        return p;
      },
      minIntervalMs: 0,
      periodMs: o.periodMs,
      backoff: o.backoff ?? { initialMs: 250, maxMs: 30_000 },
      log: ctx.log,
    });
    this.unsubscribe = ctx.cluster.subscribe(o.watched, (changes) => this.onChanges(changes));
    await this.runner.start();
  }

  private onChanges(changes: readonly ModelChange[]): void {
    for (const c of changes) {
      // Other nodes' objects matter only through their pods and endpoints; our own node may bring pod CIDRs.
      if (c.kind === 'Node' && c.key !== this.o.nodeName) continue;
      this.runner?.request(`${c.kind} ${c.key}`);
    }
  }

  /** Asks for a sync soon (coalesced with others); `hint` says why in the sync's log line. */
  request(hint: string): void {
    this.runner?.request(hint);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.runner?.stop();
    this.runner = undefined;
    await this.inflight;
  }
}

/**
 * A sync that changed the kernel is news for an operator: info, with what triggered it. A sync that found
 * everything in place is debug. `fields` are the controller's own figures.
 */
export function logSync(log: Logger, what: string, reason: SyncReason, changed: boolean, fields: Record<string, unknown>): void {
  const triggers =
    changed && reason.hints.length > 0
      ? { triggeredBy: reason.hints.slice(0, 5), ...(reason.hints.length > 5 || reason.hintsTruncated ? { moreTriggers: true } : {}) }
      : {};
  (changed ? log.info.bind(log) : log.debug.bind(log))({ cause: reason.cause, ...triggers, ...fields }, changed ? `${what} synced` : `${what} in sync`);
}
