// Fault injection for kernel tests: an Exec whose commands matching a predicate fail a given number of
// times (as a command that exited 1 would: a rejection, or a result with code 1 when the caller allows
// failure), then run for real. What the test asserts is still the kernel state that follows.
import { ExecError } from '../../dataplane/exec.js';
import type { Exec } from '../../controllers/router/apply/exec.js';

export interface FaultyExec extends Exec {
  /** Failures injected so far. */
  readonly injected: number;
}

export function failingExec(inner: Exec, matches: (cmd: string, args: readonly string[], input?: string) => boolean, times = 1): FaultyExec {
  let left = times;
  let injected = 0;
  return {
    ...(inner.netns ? { netns: inner.netns } : {}),
    get injected() { return injected; },
    sysctl: (k, v) => inner.sysctl(k, v),
    async run(cmd, args, opts = {}) {
      if (left > 0 && matches(cmd, args, opts.input)) {
        left--;
        injected++;
        const stderr = 'injected failure (test)\n';
        if (opts.allowFail) return { code: 1, stdout: '', stderr };
        throw new ExecError(cmd, args, 1, null, stderr, '', false);
      }
      return inner.run(cmd, args, opts);
    },
  };
}
