// Controller liveness, as kube-router's health controller does it: each controller registers its sync
// period and beats after every successful sync; /healthz fails when one falls silent or reports a problem.
//
// The rule (kube-router allows period + the previous sync's duration + 1.5 s; we do not know sync
// durations, so we scale the slack with the period instead):
//   allowed silence = period + grace, grace = graceMs (1.5 s) + period / 10
//   e.g. 5m -> 5m31.5s, 60s -> 67.5s, 1s -> 2.6s.
// Before the first beat the controller also gets `startupGraceMs` (default 60 s) for its first full sync
// (first iptables restore, BGP sessions coming up). A reported problem fails the check until the next beat.

import type { Logger } from 'pino';
import { requestPath, serve, type HttpEndpoint } from './http.js';
import type { ErrorCode } from './errors.js';

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

export interface HealthOptions {
  readonly graceMs?: number;
  readonly startupGraceMs?: number;
  /** How often missed beats are checked for and logged (the HTTP answer is always computed fresh). */
  readonly checkIntervalMs?: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

export interface ControllerHealth {
  readonly name: string;
  readonly healthy: boolean;
  /** Why it is unhealthy; absent when healthy. */
  readonly reason?: string;
  /** null for names that beat or reported a problem without registering a period. */
  readonly periodMs: number | null;
  readonly allowedSilenceMs: number | null;
  /** ISO time of the last beat, null before the first. */
  readonly lastSync: string | null;
  readonly sinceLastSyncMs: number | null;
  readonly beats: number;
  readonly problem: string | null;
  /** Healthy but working on a held last good state (the reason); null otherwise. */
  readonly degraded: string | null;
  /** The stable code of what makes it unhealthy, or degraded (docs/errors.md); null when neither. */
  readonly code: ErrorCode | null;
}

/** The JSON of /healthz/json (also used by `kube-router lab status`). */
export interface HealthStatus {
  readonly healthy: boolean;
  /** Some healthy controller is degraded (HTTP status stays 200). */
  readonly degraded: boolean;
  readonly checkedAt: string;
  readonly controllers: readonly ControllerHealth[];
}

interface Entry {
  periodMs: number | null;
  registeredAt: number;
  lastBeat: number | null;
  beats: number;
  problem: string | null;
  problemCode: ErrorCode;
  degraded: string | null;
  degradedCode: ErrorCode;
  /** Last verdict of the periodic check, to log transitions once rather than every tick. */
  wasHealthy: boolean;
}

function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(1)}s`;
}

export class HealthMonitor implements HealthReporter {
  private readonly entries = new Map<string, Entry>();
  private readonly graceMs: number;
  private readonly startupGraceMs: number;
  private readonly checkIntervalMs: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: HealthOptions = {}) {
    this.graceMs = opts.graceMs ?? 1_500;
    this.startupGraceMs = opts.startupGraceMs ?? 60_000;
    this.checkIntervalMs = opts.checkIntervalMs ?? 5_000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
  }

  private entry(name: string): Entry {
    let e = this.entries.get(name);
    if (!e) {
      e = { periodMs: null, registeredAt: this.now(), lastBeat: null, beats: 0, problem: null, problemCode: 'KRT_INTERNAL', degraded: null, degradedCode: 'KRT_INTERNAL', wasHealthy: true };
      this.entries.set(name, e);
    }
    return e;
  }

  register(name: string, periodMs: number): void {
    const e = this.entry(name);
    e.periodMs = periodMs > 0 ? periodMs : null;
    e.registeredAt = this.now();
  }

  /** A stopped controller is no longer expected to beat. */
  unregister(name: string): void {
    this.entries.delete(name);
  }

  beat(name: string): void {
    const e = this.entry(name);
    e.lastBeat = this.now();
    e.beats++;
    e.problem = null;
  }

  problem(name: string, reason: string, code: ErrorCode = 'KRT_INTERNAL'): void {
    const e = this.entry(name);
    if (e.problem !== reason) this.log?.warn({ controller: name, problem: reason, code }, 'controller reported a problem');
    e.problem = reason;
    e.problemCode = code;
  }

  degraded(name: string, reason: string | undefined, code: ErrorCode = 'KRT_INTERNAL'): void {
    const e = this.entry(name);
    if ((reason ?? null) === e.degraded) return;
    if (reason === undefined) this.log?.info({ controller: name }, 'controller no longer degraded');
    else this.log?.warn({ controller: name, degraded: reason, code }, 'controller degraded');
    e.degraded = reason ?? null;
    e.degradedCode = code;
  }

  allowedSilenceMs(periodMs: number): number {
    return periodMs + this.graceMs + periodMs / 10;
  }

  status(): HealthStatus {
    const now = this.now();
    const controllers: ControllerHealth[] = [];
    for (const [name, e] of [...this.entries].sort(([a], [b]) => a.localeCompare(b))) {
      const allowed = e.periodMs === null ? null : this.allowedSilenceMs(e.periodMs);
      let reason: string | undefined;
      let code: ErrorCode = 'KRT_HEALTH_NO_SYNC';
      if (e.problem !== null) {
        reason = `problem: ${e.problem}`;
        code = e.problemCode;
      } else if (allowed !== null && e.lastBeat === null && now - e.registeredAt > allowed + this.startupGraceMs) {
        reason =
          `no successful sync since it started ${seconds(now - e.registeredAt)} ago ` +
          `(allowed ${seconds(allowed + this.startupGraceMs)}: period ${seconds(e.periodMs!)} + grace + start-up ${seconds(this.startupGraceMs)})`;
      } else if (allowed !== null && e.lastBeat !== null && now - e.lastBeat > allowed) {
        reason =
          `no successful sync for ${seconds(now - e.lastBeat)} ` +
          `(allowed ${seconds(allowed)}: period ${seconds(e.periodMs!)} + grace ${seconds(allowed - e.periodMs!)})`;
      }
      controllers.push({
        name,
        healthy: reason === undefined,
        ...(reason === undefined ? {} : { reason }),
        periodMs: e.periodMs,
        allowedSilenceMs: allowed,
        lastSync: e.lastBeat === null ? null : new Date(e.lastBeat).toISOString(),
        sinceLastSyncMs: e.lastBeat === null ? null : now - e.lastBeat,
        beats: e.beats,
        problem: e.problem,
        degraded: e.degraded,
        code: reason !== undefined ? code : e.degraded !== null ? e.degradedCode : null,
      });
    }
    return {
      healthy: controllers.every((c) => c.healthy),
      degraded: controllers.some((c) => c.healthy && c.degraded !== null),
      checkedAt: new Date(now).toISOString(),
      controllers,
    };
  }

  /** Logs each controller once when it turns unhealthy and once when it recovers. */
  checkAndLog(): HealthStatus {
    const st = this.status();
    for (const c of st.controllers) {
      const e = this.entries.get(c.name);
      if (!e || e.wasHealthy === c.healthy) continue;
      e.wasHealthy = c.healthy;
      if (c.healthy) this.log?.info({ controller: c.name }, 'controller is healthy again');
      else this.log?.warn({ controller: c.name, reason: c.reason }, 'controller failed its health check');
    }
    return st;
  }

  /** Starts the periodic check (kube-router ticks every 5 s); works with or without the HTTP server. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkAndLog(), this.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** "OK" or the list of failing controllers, one per line. */
export function healthText(st: HealthStatus, verbose: boolean): string {
  if (verbose) {
    const lines = st.controllers.map((c) =>
      c.healthy
        ? `[+]${c.name} ok${c.sinceLastSyncMs === null ? ' (no sync yet)' : ` (last sync ${seconds(c.sinceLastSyncMs)} ago)`}` +
          (c.degraded !== null ? `, degraded: ${c.degraded} [${c.code}]` : '')
        : `[-]${c.name} failed: ${c.reason}`,
    );
    return `${[...lines, st.healthy ? 'healthz check passed' : 'healthz check failed'].join('\n')}\n`;
  }
  if (st.healthy && !st.degraded) return 'OK\n';
  if (st.healthy) {
    const deg = st.controllers.filter((c) => c.degraded !== null).map((c) => `${c.name}: degraded: ${c.degraded} [${c.code}]`);
    return `OK (degraded)\n${deg.join('\n')}\n`;
  }
  const bad = st.controllers.filter((c) => !c.healthy).map((c) => `${c.name}: ${c.reason}`);
  return `unhealthy\n${bad.join('\n')}\n`;
}

export interface HealthServerOptions {
  readonly monitor: HealthMonitor;
  readonly addr: string;
  /** 0 disables the HTTP server (the monitor still logs missed beats). */
  readonly port: number;
  readonly log?: Logger;
}

/**
 * GET /healthz: 200 "OK" or 500 naming each failing controller and why. /healthz?verbose: one line per
 * controller. /healthz/json: HealthStatus as JSON (status code as for /healthz).
 */
export async function startHealthServer(opts: HealthServerOptions): Promise<HttpEndpoint | undefined> {
  if (opts.port === 0) return undefined;
  const endpoint = await serve('health', opts.addr, opts.port, (req, res) => {
    const { path, query } = requestPath(req);
    const st = opts.monitor.status();
    const code = st.healthy ? 200 : 500;
    if (path === '/healthz/json') {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(st, null, 2)}\n`);
    } else if (path === '/healthz') {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(healthText(st, query.has('verbose')));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found; try /healthz, /healthz?verbose or /healthz/json\n');
    }
  });
  opts.log?.info({ address: endpoint.address, port: endpoint.port }, 'serving /healthz');
  return endpoint;
}
