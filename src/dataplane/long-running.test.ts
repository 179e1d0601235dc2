import { afterEach, describe, expect, it } from 'vitest';
import { startLongRunning } from './long-running.js';

const collect = (cmd: string, args: string[]) =>
  new Promise<{ out: string; kill: () => void; exited: Promise<void> }>((resolve) => {
    let onExit!: () => void;
    const exited = new Promise<void>((r) => (onExit = r));
    const p = startLongRunning(cmd, args, onExit);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    resolve({ get out() { return out; }, kill: () => p.kill(), exited });
  });

describe.each([['posix_spawn', '1'], ['child_process', '0']])('startLongRunning through %s', (_name, native) => {
  afterEach(() => { delete process.env['KRT_EXEC_NATIVE']; });

  it('streams stdout and reports the exit', async () => {
    process.env['KRT_EXEC_NATIVE'] = native;
    const c = await collect('sh', ['-c', 'echo a; sleep 0.1; echo b']);
    await c.exited;
    await new Promise((r) => setTimeout(r, 50));
    expect(c.out).toBe('a\nb\n');
  });

  it('kill ends it; a missing binary is an exit', async () => {
    process.env['KRT_EXEC_NATIVE'] = native;
    const c = await collect('sleep', ['30']);
    c.kill();
    await c.exited;
    await (await collect('krt-no-such-binary', [])).exited;
  });
});
