// The backend probe's shortcuts (the multi binary `iptables` is, the tables the kernel lists) choose what
// the processes choose: the same detection through an Exec that is not execHost asks the binaries.
import { describe, expect, it } from 'vitest';
import { execHost, type Exec } from '../exec.js';
import { detectBackend } from './backend.js';

describe('detectBackend', () => {
  it('with the kernel and the binary answering picks what iptables -V and the *-save counts pick', async () => {
    const asked: string[] = [];
    const viaProcesses: Exec = (cmd, args, opts) => {
      asked.push(cmd);
      return execHost(cmd, args, opts);
    };
    const fast = await detectBackend(execHost);
    const slow = await detectBackend(viaProcesses);
    expect(asked).toContain('iptables');
    expect(fast.backend).toBe(slow.backend);
  });
});
