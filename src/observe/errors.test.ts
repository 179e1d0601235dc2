import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FlagError } from '../cli/parse.js';
import { ExecError } from '../dataplane/exec.js';
import { ERROR_CODES, errorCode, errorLine, isKrtError, KrtError } from './errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'testing' || n === 'testdata' ? [] : sources(p);
    return n.endsWith('.ts') && !n.endsWith('.test.ts') ? [p] : [];
  });
}

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes of ERROR_CODES, with the same descriptions', () => {
    const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| `(KRT_[A-Z_]+)` \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.fromEntries(rows)).toEqual({ ...ERROR_CODES });
  });

  it('codes are unique and spelled KRT_UPPER_SNAKE', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^KRT_[A-Z]+(_[A-Z]+)*$/);
  });

  it('every error class of the project is a KrtError (exceptions carry their reason)', () => {
    const allowed: Record<string, string> = {
      'src/observe/errors.ts': 'KrtError itself',
      'src/model/normalize/result.ts': 'Rejection: bad cluster input as data, with its own codes; never an agent error',
      'src/lab/sh.ts': 'StopWaiting: control flow inside the lab waitFor',
    };
    const offenders = sources(join(ROOT, 'src'))
      .filter((p) => !p.includes('/src/bgp/')) // the BGP library imports nothing of the project
      .filter((p) => /class \w+ extends Error\b/.test(readFileSync(p, 'utf8')))
      .map((p) => p.slice(ROOT.length))
      .filter((p) => !(p in allowed));
    expect(offenders).toEqual([]);
  });

  it('carries a stable code through subclasses, and prints it after the message', () => {
    const f = new FlagError('unknown-flag', 'unknown flag --x');
    expect(isKrtError(f, 'KRT_FLAG_UNKNOWN')).toBe(true);
    expect(f.kind).toBe('unknown-flag');
    expect(errorLine(f)).toBe('unknown flag --x [KRT_FLAG_UNKNOWN]');
    expect(errorCode(new ExecError('ip', ['x'], 1, null, '', '', false))).toBe('KRT_EXEC_FAILED');
    expect(errorCode(new Error('boom'))).toBe('KRT_INTERNAL');
    expect(errorCode(new KrtError('KRT_KUBECONFIG', 'x', { cause: new Error('y') }))).toBe('KRT_KUBECONFIG');
    // The brand survives a second copy of the module (tsx and dist side by side).
    expect(isKrtError(Object.assign(new Error('x'), { [Symbol.for('kube-router-ts.KrtError')]: true, code: 'KRT_INTERNAL' }))).toBe(true);
  });
});
