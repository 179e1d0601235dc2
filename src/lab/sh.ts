// Process helpers for the lab, on the dataplane's Exec (src/dataplane/exec.ts): every kernel change the lab
// makes goes through `ip` and friends, run as child processes, so what the lab does is exactly what a user
// could type.
import { execAnyCode, execHost, isExecError, type Exec, type ExecResult } from '../dataplane/exec.js';
import { ipBatch as dataplaneIpBatch } from '../dataplane/ip/ip.js';
import { readFileSync } from 'node:fs';

export type RunResult = ExecResult;

export interface RunOptions {
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

/** The lab's Exec: the dataplane's, without its default timeout (lab commands may take as long as they take). */
export const labExec: Exec = (cmd, args, opts = {}) => execHost(cmd, args, { timeoutMs: Infinity, ...opts });

/** Runs a command to completion; never throws (a missing binary is code 127). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return execAnyCode(labExec, cmd, args, opts);
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `ip -n NETNS -batch -` with the given lines; one process for many changes keeps `up` fast. */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  try {
    await dataplaneIpBatch(labExec, lines, netns ? { netns } : {});
  } catch (e) {
    if (!isExecError(e)) throw e;
    const code = e.exitCode ?? (e.spawnFailed ? 127 : 128);
    throw new Error(`ip ${netns ? `-n ${netns} ` : ''}-batch -: exit ${code}: ${e.stderr.trim() || e.stdout.trim()}`);
  }
}

export async function netnsList(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** PIDs of processes whose network namespace is `netns` (what `ip netns pids` reports). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', netns]);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** Start time of a process in clock ticks since boot, so a recorded pid is never confused with a reused one. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

export function alive(pid: number, startTime?: number): boolean {
  const st = procStartTime(pid);
  if (st === undefined) return false;
  if (startTime !== undefined && st !== startTime) return false;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Thrown inside a waitFor callback to stop waiting at once (other errors are retried). */
export class StopWaiting extends Error {}

/** Polls `fn` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Kills a process group (or the process), first politely, then for sure. */
export async function killTree(pid: number, startTime?: number, graceMs = 2000): Promise<void> {
  if (!alive(pid, startTime)) return;
  const sig = (s: NodeJS.Signals): void => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        /* gone */
      }
    }
  };
  sig('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!alive(pid, startTime)) return;
    await sleep(50);
  }
  sig('SIGKILL');
  const hard = Date.now() + 2000;
  while (Date.now() < hard && alive(pid, startTime)) await sleep(20);
}
