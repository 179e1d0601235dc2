// Both runners behind execHost (posix_spawn addon, child_process) held to one contract: exit codes, okCodes,
// stdin, outputs larger than a pipe, timeouts, signals, a missing binary, env (its PATH too) and cwd.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execAnyCode, execRunners, isExecError, type Exec, type ExecError } from './exec.js';

const spawnRunner = execRunners.posixSpawn();
it('the posix_spawn addon loads here (built by scripts/setup.sh)', () => {
  expect(spawnRunner).toBeDefined();
});

const runners: [string, Exec][] = [['child_process', execRunners.childProcess], ...(spawnRunner ? [['posix_spawn', spawnRunner] as [string, Exec]] : [])];
const dir = mkdtempSync(join(tmpdir(), 'krt-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const failure = (p: Promise<unknown>): Promise<ExecError> =>
  p.then(
    () => { throw new Error('resolved'); },
    (e: unknown) => { if (!isExecError(e)) throw e; return e; },
  );

describe.each(runners)('%s', (_name, run) => {
  it('exit codes: 0 resolves, okCodes resolve, others reject with both outputs', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out\n', stderr: 'err\n', code: 0 });
    expect(await run('sh', ['-c', 'echo o; exit 3'], { okCodes: [3] })).toEqual({ stdout: 'o\n', stderr: '', code: 3 });
    const e = await failure(run('sh', ['-c', 'echo partial; echo bad >&2; exit 4'], { okCodes: [3] }));
    expect([e.exitCode, e.signal, e.timedOut, e.spawnFailed, e.stdout, e.stderr, e.code]).toEqual([4, null, false, false, 'partial\n', 'bad\n', 'KRT_EXEC_FAILED']);
  });

  it('stdin: a large input arrives whole; a child that does not read it is judged by its exit code', async () => {
    const input = 'x'.repeat(1023) + '\n';
    const big = input.repeat(4096); // 4 MiB
    expect((await run('wc', ['-c'], { input: big })).stdout.trim()).toBe(String(big.length));
    expect((await run('sh', ['-c', 'exit 0'], { input: big })).code).toBe(0);
    expect((await run('sh', ['-c', 'head -c 10 >/dev/null; exit 0'], { input: big })).code).toBe(0);
    expect((await run('cat', [])).stdout).toBe('');
  });

  it('outputs larger than a pipe on both streams at once', async () => {
    const r = await run('sh', ['-c', 'head -c 3000000 /dev/zero | tr "\\0" a; head -c 2000000 /dev/zero | tr "\\0" b >&2; head -c 1000000 /dev/zero | tr "\\0" c']);
    expect([r.stdout.length, r.stderr.length]).toEqual([4_000_000, 2_000_000]);
    expect(r.stdout.endsWith('c') && r.stdout.startsWith('a') && r.stderr.startsWith('b')).toBe(true);
  });

  it('a timeout kills the child (also when a grandchild keeps the pipes open)', async () => {
    const e = await failure(run('sleep', ['30'], { timeoutMs: 50 }));
    expect([e.timedOut, e.signal, e.exitCode]).toEqual([true, 'SIGKILL', null]);
    const g = await failure(run('sh', ['-c', 'sleep 3 & exec sleep 30'], { timeoutMs: 50, okCodes: [137] }));
    expect(g.timedOut).toBe(true);
    expect((await execAnyCode(run, 'sh', ['-c', 'exit 0'], { timeoutMs: Infinity })).code).toBe(0);
  });

  it('a child killed by a signal rejects with its name', async () => {
    const e = await failure(run('sh', ['-c', 'kill -TERM $$']));
    expect([e.signal, e.exitCode, e.timedOut]).toEqual(['SIGTERM', null, false]);
  });

  it('a missing binary rejects as spawnFailed (127 for execAnyCode)', async () => {
    const e = await failure(run('krt-no-such-binary', ['a']));
    expect([e.spawnFailed, e.exitCode]).toEqual([true, null]);
    expect((await execAnyCode(run, '/nonexistent/krt', [])).code).toBe(127);
  });

  it('env (with its own PATH) and cwd; signals start at their defaults', async () => {
    writeFileSync(join(dir, 'krt-tool'), '#!/bin/sh\necho "tool $KRT_X $0"\n');
    chmodSync(join(dir, 'krt-tool'), 0o755);
    const env = { PATH: `${dir}:/usr/bin:/bin`, KRT_X: 'x' };
    expect((await run('krt-tool', [], { env })).stdout).toMatch(/^tool x \S*krt-tool\n$/);
    expect((await run('sh', ['-c', 'pwd; echo "${HOME-unset}"'], { env, cwd: dir })).stdout).toBe(`${dir}\nunset\n`);
    const st = (await run('cat', ['/proc/self/status'])).stdout;
    // Signals 1-31 (32 and 33 are glibc's own, which posix_spawn leaves as it must).
    const low = (field: string) => parseInt(new RegExp(`^${field}:\\s+(\\S+)`, 'm').exec(st)?.[1]?.slice(-8) ?? 'x', 16) & 0x7fffffff;
    expect(low('SigIgn')).toBe(0);
    expect(/^SigBlk:\s+(\S+)/m.exec(st)?.[1]).toBe('0000000000000000');
  });

  it('runs many at once', async () => {
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => run('sh', ['-c', `echo ${i}`])));
    expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 40 }, (_, i) => `${i}\n`));
  });
});
