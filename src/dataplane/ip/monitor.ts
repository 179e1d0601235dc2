// `ip -o monitor link route`: notices kernel events that silently take the router's routes away (a link flap
// deletes every route through the link) so it can sync at once instead of waiting for the periodic one
// (kube-router #509/#370). A long-lived child, hence spawn rather than Exec.
import { spawn, type ChildProcess } from 'node:child_process';

export interface KernelWatch {
  stop(): void;
}

export function watchKernel(netns: string | undefined, onEvent: () => void, debounceMs = 100): KernelWatch {
  let proc: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fire = () => {
    if (timer) return;
    timer = setTimeout(() => { timer = undefined; onEvent(); }, debounceMs);
    timer.unref();
  };
  const start = () => {
    const args = ['-o', 'monitor', 'link', 'route'];
    proc = spawn('ip', netns ? ['netns', 'exec', netns, 'ip', ...args] : args, { stdio: ['ignore', 'pipe', 'ignore'] });
    proc.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      // Our route removed by someone/something, or any link state change.
      if (/Deleted .*proto (17|zebra)/.test(text) || /state (UP|DOWN)|NO-CARRIER|LOWER_UP/.test(text)) fire();
    });
    proc.on('exit', () => {
      // `ip monitor` should live as long as we do; restart it after a pause if it dies.
      if (!stopped) setTimeout(start, 1000).unref();
    });
    proc.unref();
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
