import { describe, expect, it } from 'vitest';
import { execAnyCode, execFor, execHost, execInNetns, isExecError, type Exec } from './exec.js';
import { ipBatch } from './ip/ip.js';

describe('Exec', () => {
  it('resolves on exit 0 and on okCodes, rejects with an ExecError otherwise', async () => {
    expect(await execHost('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 0 });
    expect((await execHost('sh', ['-c', 'exit 3'], { okCodes: [3] })).code).toBe(3);
    const e = await execHost('sh', ['-c', 'echo bad >&2; exit 4']).catch((x: unknown) => x);
    expect(isExecError(e) && e.exitCode === 4 && e.stderr === 'bad\n').toBe(true);
  });

  it('passes input, env and cwd', async () => {
    const r = await execHost('sh', ['-c', 'cat; echo "$KRT_X"; pwd'], { input: 'in\n', env: { ...process.env, KRT_X: 'x' }, cwd: '/' });
    expect(r.stdout).toBe('in\nx\n/\n');
  });

  it('execAnyCode reports every exit as a code, as a shell would', async () => {
    expect((await execAnyCode(execHost, 'sh', ['-c', 'exit 5'])).code).toBe(5);
    expect((await execAnyCode(execHost, 'krt-no-such-binary', [])).code).toBe(127);
    expect((await execAnyCode(execHost, 'sleep', ['5'], { timeoutMs: 50 })).code).toBe(128);
    expect((await execAnyCode(execHost, 'sh', ['-c', 'exit 0'], { timeoutMs: Infinity })).code).toBe(0);
  });

  it('execInNetns prefixes ip netns exec and records the namespace', async () => {
    const seen: string[][] = [];
    const base: Exec = async (cmd, args) => { seen.push([cmd, ...args]); return { stdout: '', stderr: '', code: 0 }; };
    const ex = execInNetns('krt-x', base);
    await ex('sysctl', ['-a']);
    expect(seen).toEqual([['ip', 'netns', 'exec', 'krt-x', 'sysctl', '-a']]);
    expect(ex.netns).toBe('krt-x');
    expect(execFor(undefined, base)).toBe(base);
  });

  it('ipBatch runs nothing for an empty batch and puts the options before -batch', async () => {
    const seen: string[][] = [];
    const base: Exec = async (cmd, args, o) => { seen.push([cmd, ...args, o?.input ?? '']); return { stdout: '', stderr: '', code: 0 }; };
    await ipBatch(base, []);
    await ipBatch(base, ['link add a type dummy'], { netns: 'n', family: 4, force: true });
    expect(seen).toEqual([['ip', '-n', 'n', '-4', '-force', '-batch', '-', 'link add a type dummy\n']]);
  });
});
