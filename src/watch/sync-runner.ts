import type { Logger } from 'pino';

/** Why a sync runs. `full` syncs rebuild everything; incremental ones may use `hints`. */
export interface SyncReason {
  readonly full: boolean;
  readonly cause: 'first' | 'periodic' | 'retry' | 'request';
  /** Distinct hints passed to request() since the last successful run (capped; see hintsTruncated). */
  readonly hints: readonly string[];
  readonly hintsTruncated: boolean;
  /** Consecutive failures before this run (0 unless cause is retry). */
  readonly failures: number;
}

export interface SyncRunnerOptions {
  readonly name: string;
  readonly run: (reason: SyncReason) => Promise<void>;
  /** At most one run starts per this interval. */
  readonly minIntervalMs: number;
  /** A full sync happens at least this often (measured from the end of the last full sync). */
  readonly periodMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly log: Logger;
  /** Hints kept per run before they are summarized as truncated (default 1024). */
  readonly maxHints?: number;
}

/**
 * Runs a controller's sync with bounded frequency, like kube-proxy's BoundedFrequencyRunner: requests
 * coalesce (any number during a run cause exactly one follow-up), runs are spaced by minIntervalMs, a full
 * sync comes every periodMs, and failures retry with jittered exponential backoff while requests keep
 * coalescing into that retry.
 */
export class SyncRunner {
  private readonly opts: SyncRunnerOptions;
  private readonly log: Logger;
  private started = false;
  private stopped = false;
  private running = false;
  private pending = false;
  private pendingFull = true;
  private pendingCause: SyncReason['cause'] = 'first';
  private hints = new Set<string>();
  private hintsTruncated = false;
  private failures = 0;
  private lastStart = -Infinity;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private periodTimer: NodeJS.Timeout | undefined;
  private firstSuccess: (() => void) | undefined;
  /** Completed runs (successful or not), for tests and metrics. */
  runs = 0;
  lastSuccess: Date | undefined;
  lastError: unknown;

  constructor(opts: SyncRunnerOptions) {
    this.opts = opts;
    this.log = opts.log.child({ sync: opts.name });
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * Starts with a full sync. Resolves after the first successful run, or when stop() is called first
   * (never rejects, so an agent that stops early has no unhandled rejection).
   */
  start(): Promise<void> {
    if (this.started) return Promise.resolve();
    this.started = true;
    const done = new Promise<void>((resolve) => (this.firstSuccess = resolve));
    this.pending = true;
    this.pendingFull = true;
    this.pendingCause = 'first';
    this.schedule();
    return done;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.periodTimer);
    this.timer = this.periodTimer = undefined;
    this.firstSuccess?.();
    this.firstSuccess = undefined;
  }

  /** Asks for a sync soon. `hint` (e.g. "Pod default/web-1") is handed to the next run; `full` forces a full one. */
  request(hint?: string, opts: { full?: boolean } = {}): void {
    if (this.stopped) return;
    if (hint !== undefined) this.addHint(hint);
    if (opts.full) this.pendingFull = true;
    if (!this.pending) this.pendingCause = 'request';
    this.pending = true;
    if (this.started) this.schedule();
  }

  private addHint(hint: string): void {
    if (this.hints.has(hint)) return;
    if (this.hints.size >= (this.opts.maxHints ?? 1024)) this.hintsTruncated = true;
    else this.hints.add(hint);
  }

  private schedule(): void {
    if (this.stopped || this.running || this.timer || !this.pending) return;
    const now = Date.now();
    const delay = Math.max(0, this.lastStart + this.opts.minIntervalMs - now, this.retryAt - now);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runOnce();
    }, delay);
  }

  private armPeriod(): void {
    clearTimeout(this.periodTimer);
    if (this.stopped) return;
    this.periodTimer = setTimeout(() => {
      this.periodTimer = undefined;
      if (this.stopped) return;
      if (!this.pending) this.pendingCause = 'periodic';
      this.pendingFull = true;
      this.pending = true;
      this.schedule();
    }, this.opts.periodMs);
  }

  private async runOnce(): Promise<void> {
    if (this.stopped || !this.pending) return;
    const reason: SyncReason = {
      full: this.pendingFull,
      cause: this.pendingCause,
      hints: [...this.hints],
      hintsTruncated: this.hintsTruncated,
      failures: this.failures,
    };
    this.pending = false;
    this.pendingFull = false;
    this.hints = new Set();
    this.hintsTruncated = false;
    this.running = true;
    this.lastStart = Date.now();
    const t0 = performance.now();
    try {
      await Promise.resolve().then(() => this.opts.run(reason));
      this.runs++;
      this.failures = 0;
      this.retryAt = 0;
      this.lastSuccess = new Date();
      this.lastError = undefined;
      this.log.debug({ full: reason.full, cause: reason.cause, ms: Math.round(performance.now() - t0) }, 'sync done');
      if (reason.full) this.armPeriod();
      this.firstSuccess?.();
      this.firstSuccess = undefined;
    } catch (err) {
      this.runs++;
      this.failures++;
      this.lastError = err;
      // The retry must redo everything this run was asked to do; a full sync is the safe way to get there.
      this.pendingFull = true;
      this.pendingCause = 'retry';
      this.pending = true;
      for (const h of reason.hints) this.addHint(h);
      if (reason.hintsTruncated) this.hintsTruncated = true;
      const base = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** (this.failures - 1));
      const delay = Math.min(this.opts.backoff.maxMs, base * (1 + Math.random() * 0.2));
      this.retryAt = Date.now() + delay;
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err), failures: this.failures, retryInMs: Math.round(delay) },
        'sync failed; will retry',
      );
    } finally {
      this.running = false;
    }
    this.schedule();
  }
}
