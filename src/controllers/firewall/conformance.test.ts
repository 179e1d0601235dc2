// Every conformance case (the shared ones and the project's own) through compiler + tracer, with and
// without a known pod CIDR (fail-closed or not). Both backends program the same plan; real-packet runs
// of the same files on each are the lab's conformance runner.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../../testing/firewall/conformance.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dirs = [resolve(root, '../shared/conformance/netpol'), resolve(root, 'test/conformance/netpol')].filter(existsSync);
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => join(d, f)));

describe('NetworkPolicy conformance cases (compiled and traced)', () => {
  it('finds the cases', () => {
    expect(files.length).toBeGreaterThanOrEqual(22);
  });
  for (const file of files) {
    const c = loadCase(file);
    it(c.name, () => {
      expect(runCase(c)).toEqual([]);
      // Fail-closed (the default, pod CIDRs known) and without a known pod CIDR.
      expect(runCase(c, { podCIDRs: [] })).toEqual([]);
    });
  }
});
