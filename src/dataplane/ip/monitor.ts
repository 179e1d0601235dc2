// `ip -o monitor link route address`: notices kernel events that silently take the router's routes away (a link flap
// deletes every route through the link) so it can sync at once instead of waiting for the periodic one
// (kube-router #509/#370). A long-lived child, hence startLongRunning rather than Exec.
import { startLongRunning, type LongRunning } from '../long-running.js';

/**
 * Pure: whether a line of `ip -o monitor link route address` can mean our routes changed: one of ours (or
 * zebra's) deleted, a link state change (a link going down takes its routes), or an address removed (the
 * kernel drops routes through its subnet without a route event).
 */
export function touchesRoutes(line: string): boolean {
  return /Deleted .*proto (17|zebra)/.test(line) || /state (UP|DOWN)|NO-CARRIER|LOWER_UP/.test(line) || /^Deleted \d+: \S+\s+inet6? /.test(line);
}

export interface KernelWatch {
  stop(): void;
  /** When the current `ip monitor` was started (ms, Date.now()); undefined while it is not running. */
  runningSince(): number | undefined;
}

/**
 * `onEvent` runs (debounced) after events; `onChange`, if given, at once on every event and whenever the
 * monitor exits or restarts, so a caller can drop what it assumed about the kernel before the debounce ends.
 */
export function watchKernel(netns: string | undefined, onEvent: () => void, debounceMs = 100, onChange?: () => void): KernelWatch {
  let proc: LongRunning | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let since: number | undefined;
  const fire = () => {
    onChange?.();
    if (timer) return;
    timer = setTimeout(() => { timer = undefined; onEvent(); }, debounceMs);
    timer.unref();
  };
  const start = () => {
    const args = ['-o', 'monitor', 'link', 'route', 'address'];
    since = Date.now();
    onChange?.();
    proc = startLongRunning('ip', netns ? ['netns', 'exec', netns, 'ip', ...args] : args, () => {
      since = undefined;
      onChange?.();
      // `ip monitor` should live as long as we do; restart it after a pause if it dies.
      if (!stopped) setTimeout(start, 1000).unref();
    });
    proc.stdout.on('error', () => undefined);
    // Whole lines only: a chunk may end inside one, and a missed event now costs a period, not one sync.
    let rest = '';
    proc.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      if (lines.some(touchesRoutes)) fire();
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      proc?.kill();
    },
    runningSince: () => since,
  };
}
