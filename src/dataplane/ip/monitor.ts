// `ip -o monitor link route`: notices kernel events that silently take the router's routes away (a link flap
// deletes every route through the link) so it can sync at once instead of waiting for the periodic one
// (kube-router #509/#370). A long-lived child, hence startLongRunning rather than Exec.
import { startLongRunning, type LongRunning } from '../long-running.js';

export interface KernelWatch {
  stop(): void;
}

export function watchKernel(netns: string | undefined, onEvent: () => void, debounceMs = 100): KernelWatch {
  let proc: LongRunning | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fire = () => {
    if (timer) return;
    timer = setTimeout(() => { timer = undefined; onEvent(); }, debounceMs);
    timer.unref();
  };
  const start = () => {
    const args = ['-o', 'monitor', 'link', 'route'];
    proc = startLongRunning('ip', netns ? ['netns', 'exec', netns, 'ip', ...args] : args, () => {
      // `ip monitor` should live as long as we do; restart it after a pause if it dies.
      if (!stopped) setTimeout(start, 1000).unref();
    });
    proc.stdout.on('error', () => undefined);
    proc.stdout.on('data', (d: Buffer) => {
      const text = d.toString();
      // Our route removed by someone/something, or any link state change.
      if (/Deleted .*proto (17|zebra)/.test(text) || /state (UP|DOWN)|NO-CARRIER|LOWER_UP/.test(text)) fire();
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      proc?.kill();
    },
  };
}
