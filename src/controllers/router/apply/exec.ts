// How the apply layer reaches the kernel: one Exec per node, optionally bound to a network namespace so
// several in-process agents can each drive their own "node" (tests, bench). Built on src/dataplane/exec.ts;
// adds "tolerate failure" results and namespace-aware sysctl writes.
import { writeFile } from 'node:fs/promises';
import { execHost, execInNetns, isExecError, type Exec as BaseExec } from '../../../dataplane/exec.js';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Exec {
  /** The netns this Exec runs in (undefined = the agent's own). */
  readonly netns?: string;
  /** Runs the command; rejects with the dataplane's ExecError on a non-zero exit unless `allowFail`. */
  run(cmd: string, args: readonly string[], opts?: { input?: string; allowFail?: boolean }): Promise<ExecResult>;
  /** Sets a sysctl (dotted key) in the right namespace. */
  sysctl(key: string, value: string): Promise<void>;
}

export function createExec(netns?: string, base: BaseExec = execHost): Exec {
  const ex = netns ? execInNetns(netns, base) : base;
  const run: Exec['run'] = async (cmd, args, opts = {}) => {
    try {
      return await ex(cmd, args, opts.input !== undefined ? { input: opts.input } : {});
    } catch (e) {
      if (opts.allowFail && isExecError(e)) return { code: e.exitCode ?? 1, stdout: e.stdout, stderr: e.stderr };
      throw e;
    }
  };
  return {
    ...(netns ? { netns } : {}),
    run,
    async sysctl(key, value) {
      // /proc/sys shows the namespace of the process reading it, so a foreign netns goes through sysctl(8).
      if (netns) await run('sysctl', ['-q', '-w', `${key}=${value}`]);
      else await writeFile(`/proc/sys/${key.replace(/\./g, '/')}`, value);
    },
  };
}
