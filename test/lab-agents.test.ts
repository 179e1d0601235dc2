// A lab with real agents on the host kernel (the service proxy off: this kernel has no IPVS): the
// router writes each node's CNI config, status reports agent health, and pods reach pods on other nodes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, runConformance } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';

const NAME = 'lt5';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');

describe.skipIf(!existsSync(AGENT))('lab with agents (host kernel)', () => {
  let lab: Lab;

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({ name: NAME, nodes: 2, agentFlags: ['--run-service-proxy=false'] });
  }, 120_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it('runs one healthy agent per node, and the router writes the CNI config', async () => {
    const st = await lab.status();
    for (const n of st.state.nodes) {
      expect(st.health[n.name]?.ok).toBe(true);
      expect(st.processes.find((p) => p.what === `agent ${n.name}`)?.running).toBe(true);
      const conf = JSON.parse(readFileSync(n.cniConf, 'utf8'));
      expect(JSON.stringify(conf)).toContain(n.podCIDR);
    }
  });

  it('carries pod traffic across nodes (conformance cluster spread over both)', async () => {
    const r = await runConformance(lab, join(__dirname, 'conformance', 'lab'), { stepTimeoutMs: 20_000 });
    expect(r.cases.map((c) => `${c.name} ${c.status}`)).toEqual([
      'derived-label-changes-without-policies-change-nothing pass',
      'derived-no-policies-everything-reachable pass',
    ]);
    const st = await lab.status();
    expect(new Set(Object.values(st.state.pods).map((p) => p.node)).size).toBe(2);
  }, 120_000);
});
