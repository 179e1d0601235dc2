import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncRunner, type SyncReason } from './sync-runner.js';

const log = pino({ level: 'silent' });
// Fake timers: the runner's spacing, backoff and period are checked on a clock the test drives, so a busy
// machine cannot stretch a sleep and change what a test sees.
/** Moves the fake clock (and runs what falls due), as a test waiting that long would see it. */
const sleep = (ms: number) => vi.advanceTimersByTimeAsync(ms);
/** A delay inside a sync run: ends when the test's clock passes it. */
const busy = (ms: number) => new Promise((r) => setTimeout(r, ms));
let runners: SyncRunner[] = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  runners.forEach((r) => r.stop());
  runners = [];
  vi.useRealTimers();
});

/** start() schedules its first run on a timer: drive the clock until it has run (`ms` covers a slow first run). */
async function started(r: SyncRunner, ms = 0): Promise<void> {
  const done = r.start();
  await sleep(ms);
  await done;
}

function make(opts: Partial<ConstructorParameters<typeof SyncRunner>[0]> & { run: (r: SyncReason) => Promise<void> }) {
  const r = new SyncRunner({
    name: 'test',
    minIntervalMs: 20,
    periodMs: 60_000,
    backoff: { initialMs: 30, maxMs: 200 },
    log,
    ...opts,
  });
  runners.push(r);
  return r;
}

describe('SyncRunner', () => {
  it('coalesces a burst of 1,000 requests into a handful of runs', async () => {
    const reasons: SyncReason[] = [];
    const r = make({
      run: async (reason) => {
        reasons.push(reason);
        await busy(5);
      },
    });
    await started(r, 5);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatchObject({ full: true, cause: 'first' });
    for (let i = 0; i < 1000; i++) r.request(`Pod ns/p${i % 10}`);
    await sleep(150);
    // Burst is synchronous: exactly one incremental run carrying the distinct hints.
    expect(reasons).toHaveLength(2);
    expect(reasons[1]).toMatchObject({ full: false, cause: 'request' });
    expect(reasons[1]!.hints).toHaveLength(10);
  });

  it('produces exactly one follow-up for any number of requests during a run, spaced by minInterval', async () => {
    const starts: number[] = [];
    let release!: () => void;
    const r = make({
      minIntervalMs: 50,
      run: async () => {
        starts.push(Date.now());
        if (starts.length === 2) await new Promise<void>((res) => (release = res));
      },
    });
    await started(r);
    r.request('a');
    await sleep(80); // second run is now blocked inside run()
    expect(starts).toHaveLength(2);
    for (let i = 0; i < 500; i++) {
      r.request(`x${i}`);
      if (i % 100 === 0) await sleep(1);
    }
    release();
    await sleep(150);
    expect(starts).toHaveLength(3);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(49);
    expect(r.runs).toBe(3);
  });

  it('spreads requests that arrive over time to at most one run per minInterval', async () => {
    let runs = 0;
    const r = make({ minIntervalMs: 40, run: async () => void runs++ });
    await started(r);
    const t0 = Date.now();
    while (Date.now() - t0 < 400) {
      r.request('tick');
      await sleep(2);
    }
    await sleep(60);
    // 400 ms / 40 ms = 10 windows (+1 for the first and the trailing one); far fewer than ~200 requests.
    expect(runs).toBe(11);
  });

  it('retries a failed run with backoff as a full sync, keeping hints, while requests coalesce', async () => {
    const reasons: SyncReason[] = [];
    const times: number[] = [];
    let fail = 2;
    const r = make({
      minIntervalMs: 1,
      backoff: { initialMs: 40, maxMs: 1000 },
      run: async (reason) => {
        reasons.push(reason);
        times.push(Date.now());
        if (reason.cause !== 'first' && fail-- > 0) throw new Error('iptables-restore failed');
      },
    });
    await started(r);
    r.request('Service a/b');
    await sleep(10);
    expect(reasons).toHaveLength(2);
    expect(r.consecutiveFailures).toBe(1);
    for (let i = 0; i < 100; i++) r.request('Service c/d');
    await sleep(300);
    expect(reasons).toHaveLength(4);
    expect(reasons[2]).toMatchObject({ full: true, cause: 'retry', failures: 1 });
    expect(reasons[2]!.hints).toEqual(expect.arrayContaining(['Service a/b', 'Service c/d']));
    expect(reasons[3]).toMatchObject({ full: true, cause: 'retry', failures: 2 });
    // First retry waits >= 40 ms, the second >= 80 ms (doubling, jitter only adds).
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(39);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(79);
    expect(r.consecutiveFailures).toBe(0);
    expect(r.lastSuccess).toBeInstanceOf(Date);
  });

  it('runs a periodic full sync', async () => {
    const reasons: SyncReason[] = [];
    const r = make({ periodMs: 50, run: async (reason) => void reasons.push(reason) });
    await started(r);
    await sleep(180);
    const periodic = reasons.filter((x) => x.cause === 'periodic');
    // Full syncs at 0 (first), 50, 100 and 150 ms; each re-arms the period.
    expect(periodic).toHaveLength(3);
    expect(periodic.every((x) => x.full)).toBe(true);
  });

  it('runs nothing after stop, and start() resolves on stop if never successful', async () => {
    let runs = 0;
    const r = make({
      backoff: { initialMs: 1000, maxMs: 1000 },
      run: async () => {
        runs++;
        throw new Error('always');
      },
    });
    const first = r.start();
    await sleep(20);
    r.stop();
    await first;
    r.request('late');
    await sleep(30);
    expect(runs).toBe(1);
  });
});
