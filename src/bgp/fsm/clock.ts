// Time as a dependency: the FSM and the speaker take a Clock so tests can move time by hand.

export interface TimerHandle { readonly id: number }

export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(h: TimerHandle): void;
}

class SystemClock implements Clock {
  private handles = new Map<number, NodeJS.Timeout>();
  private next = 1;
  now(): number { return performance.now(); }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.next++;
    const t = setTimeout(() => { this.handles.delete(id); fn(); }, ms);
    // Timers never keep the process alive on their own: sockets and the listener do.
    t.unref();
    this.handles.set(id, t);
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    const t = this.handles.get(h.id);
    if (t) { clearTimeout(t); this.handles.delete(h.id); }
  }
}

export const systemClock: Clock = new SystemClock();

/** A clock that only moves when told to; due timers fire in deadline order. */
export class FakeClock implements Clock {
  private t = 0;
  private next = 1;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number { return this.t; }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return { id };
  }
  clearTimer(h: TimerHandle): void { this.timers.delete(h.id); }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!best || e[1].at < best[1].at)) best = e;
      if (!best) break;
      this.timers.delete(best[0]);
      this.t = best[1].at;
      best[1].fn();
    }
    this.t = end;
  }
  pending(): number { return this.timers.size; }
}

/**
 * A restartable one-shot timer. restart() only moves a deadline; the underlying timer re-arms lazily
 * when it fires early, so touching the hold timer on every received message costs no timer churn.
 */
export class Timer {
  private handle: TimerHandle | undefined;
  private deadline = 0;
  private ms = 0;
  constructor(private readonly clock: Clock, private readonly onExpire: () => void) {}

  get running(): boolean { return this.handle !== undefined; }

  start(ms: number): void {
    this.stop();
    this.ms = ms;
    this.deadline = this.clock.now() + ms;
    this.arm(ms);
  }

  /** Pushes the deadline out by the last duration (no-op when stopped). */
  touch(): void {
    if (this.handle) this.deadline = this.clock.now() + this.ms;
  }

  stop(): void {
    if (this.handle) this.clock.clearTimer(this.handle);
    this.handle = undefined;
  }

  private arm(ms: number): void {
    this.handle = this.clock.setTimer(ms, () => {
      this.handle = undefined;
      const left = this.deadline - this.clock.now();
      if (left > 0.5) this.arm(left);
      else this.onExpire();
    });
  }
}
