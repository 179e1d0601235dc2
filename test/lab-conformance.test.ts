// The conformance runner on a lab without agents: cases that need no policy pass, and a case whose
// expectation needs a firewall is reported as failing with exactly the differing cells.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedMatrix, Lab, loadCases, runConformance } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { substitute } from '../src/lab/conformance.js';

const NAME = 'lt2';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const CASES = join(__dirname, 'conformance', 'lab');

describe('matrix bookkeeping', () => {
  it('builds the expected matrix from default, rules in order and loopback', () => {
    const m = expectedMatrix({
      port: 80,
      protocol: 'TCP',
      default: true,
      rules: [
        { from: '*', to: 'x/a', allowed: false },
        { from: 'x/b', to: 'x/a', allowed: true },
        { from: 'y/*', to: '*/c', allowed: false },
      ],
      loopback: true,
    });
    expect(m['y/a']!['x/a']).toBe(false);
    expect(m['x/b']!['x/a']).toBe(true);
    expect(m['x/a']!['x/a']).toBe(true);
    expect(m['y/b']!['z/c']).toBe(false);
    expect(m['y/c']!['y/c']).toBe(true);
    expect(m['z/b']!['z/c']).toBe(true);
  });

  it('substitutes ip and cidr placeholders', () => {
    const out = substitute({ a: ['{{ip y/b}}/32', '{{cidr x/b 4}}', '{{ cidr x/b 24 }}'] }, { 'y/b': '10.244.1.7', 'x/b': '10.244.1.9' });
    expect(out).toEqual({ a: ['10.244.1.7/32', '0.0.0.0/4', '10.244.1.0/24'] });
  });

  it('loads every shared case file without error', () => {
    // shared/ sits beside the repository (here and in CI).
    const shared = [join(__dirname, '..', '..', 'shared', 'conformance', 'netpol'), '/work/shared/conformance/netpol'].find((d) => existsSync(d));
    expect(shared).toBeDefined();
    const cases = loadCases(shared!);
    expect(cases.length).toBeGreaterThan(20);
    expect(cases.filter((c) => 'error' in c)).toEqual([]);
  });
});

describe('conformance runner against a lab', () => {
  let lab: Lab;
  let bad: string;

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    // Pods on one node: cross-node traffic needs the routing controller, which this lab does not run.
    lab = await Lab.up({ name: NAME, nodes: 2, agents: false });
    bad = mkdtempSync(join(tmpdir(), 'krlab-cases-'));
    writeFileSync(
      join(bad, 'needs-a-firewall.yaml'),
      [
        'name: needs-a-firewall',
        'source: "derived | lab self-test | \\"a deny that nothing enforces\\""',
        'cluster: default',
        'steps:',
        '  - expect:',
        '      - port: 80',
        '        protocol: TCP',
        '        default: true',
        '        rules: [ { from: "*", to: "x/a", allowed: false } ]',
        '        loopback: true',
      ].join('\n'),
    );
    writeFileSync(join(bad, 'broken.yaml'), 'name: broken\nsteps: 3\n');
  });

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
    if (bad) rmSync(bad, { recursive: true, force: true });
  });

  it('passes the cases that need no policy', async () => {
    const lines: string[] = [];
    const r = await runConformance(lab, CASES, { nodes: ['lab-node-1'], stepTimeoutMs: 10_000, onCase: (l) => lines.push(l) });
    expect(r.cases.map((c) => [c.name, c.status])).toEqual([
      ['derived-label-changes-without-policies-change-nothing', 'pass'],
      ['derived-no-policies-everything-reachable', 'pass'],
    ]);
    expect(r.passed).toBe(2);
    expect(r.failed).toBe(0);
    expect(lines.every((l) => l.startsWith('PASS '))).toBe(true);
    // The per-case reset restored the labels the label case changed.
    const p = await lab.client.get({ group: '', version: 'v1', plural: 'pods', namespaced: true }, 'x', 'a');
    expect(p['metadata']['labels']).toEqual({ pod: 'a' });
  });

  it('reports a case whose expectation is not met, cell by cell, and a broken file', async () => {
    const r = await runConformance(lab, bad, { nodes: ['lab-node-1'], stepTimeoutMs: 1500 });
    const byName = Object.fromEntries(r.cases.map((c) => [c.name, c]));
    expect(byName['broken']!.status).toBe('fail');
    expect(byName['broken']!.error).toMatch(/bad case file/);
    const c = byName['needs-a-firewall']!;
    expect(c.status).toBe('fail');
    // Everyone but x/a itself reaches x/a although the case wants them blocked: 8 cells.
    expect(c.diffs!.length).toBe(8);
    expect(c.diffs!.every((d) => d.to === 'x/a' && d.expected === false && d.observed === true)).toBe(true);
    expect(r.failed).toBe(2);
  });
});
