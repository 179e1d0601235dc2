// A long-lived child whose stdout the agent reads as a stream (`ip monitor`), started like execHost's
// commands through the posix_spawn addon when it loads (a fork copies the whole agent: slow in
// user-mode Linux), else through child_process. Like an unref'd ChildProcess, it does not keep the agent alive.
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { spawnAddonIfUsable } from './native/addon.js';

export interface LongRunning {
  readonly stdout: Readable;
  /** SIGTERM; nothing once it has exited. */
  kill(): void;
}

/** Starts `cmd args`; `onExit` runs once when it exits (or could not start: then after this returns). */
export function startLongRunning(cmd: string, args: readonly string[], onExit: () => void): LongRunning {
  const addon = spawnAddonIfUsable();
  if (addon) {
    let exited = false;
    let started: { pid: number; fd: number } | undefined;
    try {
      started = addon.start(cmd, [cmd, ...args], null, () => {
        exited = true;
        if (started) addon.reap(started.pid);
        onExit();
      });
    } catch {
      // Could not start (e.g. no such binary): report it as an exit, as child_process would.
    }
    if (started) {
      const { pid } = started;
      const stdout = new Socket({ fd: started.fd, readable: true, writable: false });
      return {
        stdout,
        kill() {
          if (!exited) process.kill(pid, 'SIGTERM');
          stdout.destroy();
        },
      };
    }
    setImmediate(onExit);
    const idle = new Socket();
    return { stdout: idle, kill: () => idle.destroy() };
  }
  const proc = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  // A binary that cannot start emits 'error' and no 'exit'.
  let done = false;
  const once = () => { if (!done) { done = true; onExit(); } };
  proc.on('error', once);
  proc.on('exit', once);
  proc.unref();
  return { stdout: proc.stdout!, kill: () => void proc.kill() };
}
