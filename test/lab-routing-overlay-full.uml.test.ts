// --overlay-type=full, inside user-mode Linux (this host kernel has no ipip): even two nodes on the same
// subnet reach each other's pods through a `tun-*` ipip tunnel (no `via` route), with the client's pod IP
// intact. A small lab of its own (2 nodes, one segment, ~40 s in UML): agent flags are per lab. The
// subnet overlay between subnets is in lab-routing-overlay.uml.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { R } from '../src/lab/kube.js';
import { tunnelName } from '../src/controllers/router/compile/routes.js';
import { labSh, peerSeen, pinnedPod, reaches } from './lab-helpers.js';
import { waitFor } from '../src/testing/wait.js';

const NAME = 'lr3';
const PREFIX = `krt-rt2-${NAME}-`;
const STATE = `/run/kube-router-lab-${NAME}`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');
const haveUml = existsSync('/usr/bin/linux.uml');
const N1 = '172.20.0.11', N2 = '172.20.0.12';

// A variant of the overlay between subnets (test/lab-routing-overlay.uml.test.ts, always run): ~40 s alone,
// ~100 s beside the kernel tests, so it runs with KRT_UML_FULL=1 (`./scripts/test.sh --full`).
describe.skipIf(!haveUml || !existsSync(AGENT) || process.env['KRT_UML_FULL'] !== '1')('--overlay-type=full (user-mode Linux lab)', () => {
  let lab: Lab;
  let ips: Record<string, string> = {};

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({ name: NAME, prefix: PREFIX, nodes: 2, segments: 1, kernel: 'uml', agentFlags: ['--run-service-proxy=false', '--overlay-type=full'] });
    await lab.client.create(R.pods, 'default', pinnedPod('p1', 'lab-node-1'));
    await lab.client.create(R.pods, 'default', pinnedPod('p2', 'lab-node-2'));
    ips = await lab.waitForPods(['default/p1', 'default/p2'], 180_000);
  }, 360_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  }, 120_000);

  it('tunnels between nodes of one subnet and carries pod traffic through it without NAT', async () => {
    const t12 = tunnelName(N2), t21 = tunnelName(N1);
    const r1 = await waitFor('node 1 route to node 2 pods', async () => {
      const r = await labSh(lab, 'lab-node-1', 'ip route show proto 17');
      return r.includes('10.244.1.0/24') && r;
    }, 30_000, 500);
    expect(r1).toContain(`10.244.1.0/24 dev ${t12} scope link src ${N1}`);
    expect(r1).not.toContain('via');
    expect(await waitFor('node 2 route to node 1 pods', async () => {
      const r = await labSh(lab, 'lab-node-2', 'ip route show proto 17');
      return r.includes('10.244.0.0/24') && r;
    }, 30_000, 500)).toContain(`10.244.0.0/24 dev ${t21} scope link src ${N2}`);
    expect(await labSh(lab, 'lab-node-1', `ip -d link show ${t12}`)).toMatch(/ipip .*remote 172\.20\.0\.12 local 172\.20\.0\.11/);
    const tx = () => labSh(lab, 'lab-node-1', `cat /sys/class/net/${t12}/statistics/tx_packets`).then(Number);
    const before = await tx();
    expect(await reaches(lab, 'default/p1', ips['default/p2']!)).toBe(true);
    expect(await reaches(lab, 'default/p2', ips['default/p1']!)).toBe(true);
    expect(await tx()).toBeGreaterThan(before);
    expect(await peerSeen(lab, 'default/p2', 'default/p1', ips['default/p2']!, 9000)).toBe(ips['default/p1']);
  }, 90_000);
});
