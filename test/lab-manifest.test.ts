// The lab's agents started from the shipped DaemonSet (deploy/all.yaml): its args and env, the node name
// from the downward API instead of --hostname-override; the agents come up healthy, write the CNI config
// and carry pod traffic across nodes, so the manifest users apply is the one exercised here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, runConformance } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { agentPodSpec, labAgentFlags } from '../src/lab/pod-spec.js';

const NAME = 'ltds';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const ROOT = join(__dirname, '..');
const AGENT = join(ROOT, 'dist', 'cli', 'main.js');
const MANIFEST = join(ROOT, 'deploy', 'all.yaml');

describe.skipIf(!existsSync(AGENT))('lab agents from deploy/all.yaml', () => {
  let lab: Lab;

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({ name: NAME, nodes: 2, agentManifest: MANIFEST, kernel: 'host' });
  }, 120_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it("runs each agent with the manifest's args and env", async () => {
    const st = await lab.status();
    expect(st.state.agentFlags).toEqual(labAgentFlags(agentPodSpec(readFileSync(MANIFEST, 'utf8'))));
    for (const n of st.state.nodes) {
      expect(st.health[n.name]?.ok).toBe(true);
      const start = readFileSync(n.log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'kube-router-ts starting')!;
      // NODE_NAME (downward API) named the node: the lab passed no --hostname-override.
      expect(start.nodeName).toBe(n.name);
      expect(start.flags).toMatchObject({ 'bgp-graceful-restart': 'true', 'run-service-proxy': 'false' });
      expect(start.flags).not.toHaveProperty('hostname-override');
      expect(readFileSync(n.cniConf, 'utf8')).toContain(n.podCIDR);
    }
  });

  it('carries pod traffic across nodes', async () => {
    const r = await runConformance(lab, join(ROOT, 'test', 'conformance', 'lab'), { stepTimeoutMs: 20_000 });
    expect(r.cases.map((c) => `${c.name} ${c.status}`)).toEqual([
      'derived-label-changes-without-policies-change-nothing pass',
      'derived-no-policies-everything-reachable pass',
    ]);
  }, 120_000);
});
