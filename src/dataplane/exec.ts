// Thin, typed process runner for the kernel tools (iptables-restore, ipset, ip). Every dataplane module
// takes an `Exec` so tests can point it into a network namespace or at a failing wrapper binary.
import { spawn } from 'node:child_process';

export interface ExecOptions {
  /** Written to the child's stdin (restore files); stdin is closed either way. */
  readonly input?: string;
  /** Kill the child after this long; the default is generous because a big restore can take seconds. */
  readonly timeoutMs?: number;
  /** Resolve instead of throwing on these non-zero exit codes (e.g. `ipset list` of a missing set). */
  readonly okCodes?: readonly number[];
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export type Exec = (cmd: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

/** A failed command, with everything an operator needs to see why (the restore line number is in stderr). */
export class ExecError extends Error {
  override readonly name = 'ExecError';
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderr: string,
    readonly stdout: string,
    readonly timedOut: boolean,
  ) {
    const how = timedOut ? 'timed out' : signal ? `killed by ${signal}` : `exited with ${exitCode}`;
    const detail = stderr.trim().split('\n').slice(0, 5).join(' | ');
    super(`${command} ${args.join(' ')} ${how}${detail ? `: ${detail}` : ''}`);
  }
}

export function isExecError(err: unknown): err is ExecError {
  return err instanceof Error && err.name === 'ExecError' && 'exitCode' in err;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs a command on the host (in the agent's own network namespace). */
export const execHost: Exec = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A child that dies before reading its input gives EPIPE on stdin; the exit code tells the real story.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ExecError(cmd, args, null, null, String(e.message), '', false));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0 || (code !== null && opts.okCodes?.includes(code))) {
        resolve({ stdout, stderr, code });
      } else {
        reject(new ExecError(cmd, args, code, signal, stderr, stdout, timedOut));
      }
    });
    child.stdin.end(opts.input ?? '');
  });

/** Wraps an Exec so every command runs inside the named network namespace (tests, the lab). */
export function execInNetns(netns: string, base: Exec = execHost): Exec {
  return (cmd, args, opts) => base('ip', ['netns', 'exec', netns, cmd, ...args], opts);
}
