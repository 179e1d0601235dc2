// The one process runner for the kernel tools (iptables-restore, ipset, ip, sysctl). Every applier and the
// lab take an `Exec`, so tests can point it into a network namespace (`execInNetns`) or wrap it to inject
// failures (src/testing/exec.ts); nothing else spawns a kernel tool.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { KrtError } from '../observe/errors.js';
import { spawnAddonIfUsable, type SpawnAddon } from './native/addon.js';

export interface ExecOptions {
  /** Written to the child's stdin (restore files); stdin is closed either way. */
  readonly input?: string;
  /**
   * Kill the child after this long; the default is generous because a big restore can take seconds.
   * `Infinity` means never (the lab's long-running commands).
   */
  readonly timeoutMs?: number;
  /** Resolve instead of throwing on these non-zero exit codes (e.g. `ipset list` of a missing set). */
  readonly okCodes?: readonly number[];
  /** Environment of the child (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/**
 * Runs `cmd args` to completion; rejects with an `ExecError` on a non-zero exit not in `okCodes`, on a
 * signal, a timeout, or a binary that cannot start. A plain function satisfies it; `netns` is set by
 * `execInNetns` so namespace-aware helpers (`setSysctl`) know where the commands land.
 */
export interface Exec {
  (cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** The network namespace the commands run in (undefined: the agent's own). */
  readonly netns?: string;
}

/** A failed command, with everything an operator needs to see why (the restore line number is in stderr). */
export class ExecError extends KrtError {
  override readonly name = 'ExecError';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly stdout: string,
    readonly timedOut: boolean,
    /** The binary could not be started at all (not found, not executable). */
    readonly spawnFailed = false,
  ) {
    const how = timedOut ? 'timed out' : signal ? `killed by ${signal}` : `exited with ${exitCode}`;
    const detail = stderr.trim().split('\n').slice(0, 5).join(' | ');
    super('KRT_EXEC_FAILED', `${command} ${args.join(' ')} ${how}${detail ? `: ${detail}` : ''}`);
  }
}

export function isExecError(err: unknown): err is ExecError {
  return err instanceof Error && err.name === 'ExecError' && 'exitCode' in err;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * KRT_EXEC_TRACE=1: one line per command on stderr (start time, duration, exit code, argv), to see where
 * an agent's start-up time goes (the lab passes it into user-mode Linux; bench/lab.ts reads it).
 */
const TRACE = process.env['KRT_EXEC_TRACE'] === '1';

const trace = (t0: number, result: number | string | null, cmd: string, args: readonly string[]): void => {
  if (TRACE) process.stderr.write(`exec-trace ${new Date(t0).toISOString()} ${Date.now() - t0}ms ${result} ${cmd} ${args.join(' ').slice(0, 160)}\n`);
};

/**
 * The fork-free runner (native/proc_spawn.c: posix_spawn, whose cost does not grow with the agent's ~100 MB
 * the way child_process's fork does: inside user-mode Linux 36 ms against 65-77 ms per start from a 100 MB
 * process), or undefined when the addon cannot load (then child_process) or KRT_EXEC_NATIVE=0.
 */
const nativeRunner = spawnAddonIfUsable;

const signalName = (n: number): string => Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;

function execNative(addon: SpawnAddon, cmd: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const t0 = Date.now();
  // posix_spawnp searches this process's PATH: a child environment with another PATH resolves it here.
  const path = opts.env?.['PATH'];
  const file = path !== undefined && path !== process.env['PATH'] && !cmd.includes('/') ? resolveIn(path, cmd) : cmd;
  const env = opts.env ? Object.entries(opts.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`) : null;
  const input = opts.input ? Buffer.from(opts.input, 'utf8') : null;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return addon.run(file, [cmd, ...args], env, opts.cwd ?? null, input, Number.isFinite(timeoutMs) ? Math.max(1, timeoutMs) : 0).then((r) => {
    const stdout = r.stdout.toString('utf8');
    const stderr = r.stderr.toString('utf8');
    if (r.spawnError !== undefined) {
      trace(t0, 'spawn-failed', cmd, args);
      throw new ExecError(cmd, args, null, null, `spawn ${cmd} ${r.spawnError}`, '', false, true);
    }
    const code = r.code ?? null;
    const signal = r.signal != null ? signalName(r.signal) : null;
    trace(t0, code ?? signal, cmd, args);
    if (code === 0 || (code !== null && !r.timedOut && opts.okCodes?.includes(code))) return { stdout, stderr, code };
    throw new ExecError(cmd, args, code, signal, stderr, stdout, r.timedOut);
  });
}

/** `cmd` looked up in a PATH other than this process's (the first executable file wins, as execvp does). */
function resolveIn(path: string, cmd: string): string {
  for (const dir of path.split(':')) {
    const p = `${dir || '.'}/${cmd}`;
    try {
      accessSync(p, fsConstants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return cmd;
}

/** Runs a command on the host (in the agent's own network namespace). */
export const execHost: Exec = (cmd, args, opts = {}) => {
  const addon = nativeRunner();
  return addon ? execNative(addon, cmd, args, opts) : execChild(cmd, args, opts);
};

/**
 * Whether `exec`'s commands act on the kernel this process sees (execHost, unwrapped), so /proc, /sys and
 * netlink read here may answer for them instead of a process start. Any other Exec (a netns, a test's
 * wrapper standing for another kernel or injecting failures) gets the commands.
 */
export const runsHere = (exec: Exec): boolean => exec === execHost;

/** The two runners behind execHost, for the tests that hold both to one contract. */
export const execRunners = {
  childProcess: ((cmd, args, opts = {}) => execChild(cmd, args, opts)) as Exec,
  /** undefined when the addon cannot load. */
  posixSpawn: (): Exec | undefined => {
    const addon = nativeRunner();
    return addon ? (cmd, args, opts = {}) => execNative(addon, cmd, args, opts) : undefined;
  },
};

/** The same through child_process (fork + exec), when the addon is not there. */
function execChild(cmd: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
          // A grandchild may hold the pipes open: stop waiting for them a moment later (as the addon does).
          setTimeout(() => {
            child.stdout.destroy();
            child.stderr.destroy();
          }, 1000).unref();
        }, timeoutMs)
      : undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A child that dies before reading its input gives EPIPE on stdin; the exit code tells the real story.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new ExecError(cmd, args, null, null, String(e.message), '', false, true));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      trace(t0, code ?? signal, cmd, args);
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) {
        resolve({ stdout, stderr, code });
      } else {
        reject(new ExecError(cmd, args, code, signal, stderr, stdout, timedOut));
      }
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Wraps an Exec so every command runs inside the named network namespace (tests, the lab, bench). */
export function execInNetns(netns: string, base: Exec = execHost): Exec {
  const ex = (cmd: string, args: readonly string[], opts?: ExecOptions) => base('ip', ['netns', 'exec', netns, cmd, ...args], opts);
  return Object.assign(ex, { netns });
}

/** The exec for a namespace, or the host's when there is none. */
export function execFor(netns: string | undefined, base: Exec = execHost): Exec {
  return netns ? execInNetns(netns, base) : base;
}

/**
 * Runs a command whose failure the caller handles itself: every exit resolves with its code (a signal or a
 * timeout is 128, a binary that cannot start 127, as a shell reports them).
 */
export async function execAnyCode(exec: Exec, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  try {
    return await exec(cmd, args, opts);
  } catch (e) {
    if (!isExecError(e)) throw e;
    const code = e.exitCode ?? (e.spawnFailed ? 127 : e.signal || e.timedOut ? 128 : 1);
    return { code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Sets a sysctl (dotted key) in the namespace `exec` runs in. */
export async function setSysctl(exec: Exec, key: string, value: string): Promise<void> {
  // /proc/sys shows the namespace of the process reading it, so a foreign netns goes through sysctl(8).
  if (exec.netns) await exec('sysctl', ['-q', '-w', `${key}=${value}`]);
  else await writeFile(`/proc/sys/${key.replace(/\./g, '/')}`, value);
}
