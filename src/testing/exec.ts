// The Exec fake of the tests: a real Exec (usually into a test namespace) whose commands matching a
// predicate fail a given number of times, exactly as a command that exited 1 would (an ExecError, which
// `execAnyCode` turns into code 1), then run for real. What the test asserts is still the kernel state
// that follows, never the list of calls.
import { ExecError, type Exec } from '../dataplane/exec.js';

export interface FaultyExec extends Exec {
  /** Failures injected so far. */
  readonly injected: number;
}

export function failingExec(inner: Exec, matches: (cmd: string, args: readonly string[], input?: string) => boolean, times = 1): FaultyExec {
  let left = times;
  let injected = 0;
  const run: Exec = async (cmd, args, opts = {}) => {
    if (left > 0 && matches(cmd, args, opts.input)) {
      left--;
      injected++;
      throw new ExecError(cmd, args, 1, null, 'injected failure (test)\n', '', false);
    }
    return inner(cmd, args, opts);
  };
  return Object.defineProperties(run, {
    netns: { value: inner.netns, enumerable: true },
    injected: { get: () => injected, enumerable: true },
  }) as FaultyExec;
}
