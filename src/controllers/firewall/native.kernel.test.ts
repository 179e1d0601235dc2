// The native nftables backend (--use-nftables-for-netpol) with real packets, and switching backends at
// runtime: an agent restarted with the other setting programs its backend and removes the other's
// state after its first sync; a foreign nftables table is never touched. The same world throughout:
// node1 with pods x/a, x/b (policy: b admits only a on 80/TCP) and a pod on the bridge nobody knows yet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execInNetns, type Exec } from '../../dataplane/exec.js';
import { binaries } from '../../dataplane/iptables/backend.js';
import { createMemoryClusterView, type MemoryClusterView } from '../../watch/memory-view.js';
import { createFirewallController, type FirewallController } from './controller.js';
import { firewallOptions, testContext } from '../../testing/firewall/context.js';
import { namespace, pod, policy } from '../../testing/firewall/fixtures.js';
import { kernelSets, Netns } from '../../testing/firewall/netns.js';
import { namespacePodsSetName } from './compile/names.js';
import { attachPod, buildTopology, tcpProbe, type Topology } from '../../testing/firewall/topology.js';
import { holds } from '../../testing/wait.js';
import type { ChildProcess } from 'node:child_process';

const netns = new Netns('krt-np2-nat-');
afterAll(() => netns.destroyAll());

const TABLE = 'inet kube-router-ts-netpol';

describe('native nftables backend', () => {
  let topo: Topology;
  let view: MemoryClusterView;
  let nodeNs: string;
  let exec: Exec;
  let agent: FirewallController | undefined;
  let stranger: string;
  const extra: ChildProcess[] = [];

  const start = async (native: boolean, backend: 'nft' | 'legacy' = 'nft'): Promise<FirewallController> => {
    const t = testContext('node1', view);
    const c = createFirewallController(t.ctx, firewallOptions('node1', { backend, useNftables: native }), { exec, backoff: { initialMs: 50, maxMs: 200 } });
    await c.start();
    expect(await holds(async () => c.syncs >= 1)).toBe(true);
    return c;
  };
  const tables = async (): Promise<string> => (await exec('nft', ['list', 'tables'])).stdout;
  const ourIptables = async (backend: 'nft' | 'legacy'): Promise<number> =>
    (await exec(binaries(backend, 4).save, [])).stdout.split('\n').filter((l) => /KUBE-(ROUTER|POD|NWPLCY|NS)-/.test(l)).length;
  const ourSets = async (): Promise<number> => (await kernelSets(exec)).size;
  const a = (): string => topo.podNs.get('x/a')!;
  const b = (): string => topo.podNs.get('x/b')!;

  beforeAll(async () => {
    topo = await buildTopology(netns, 'v', [
      {
        name: 'node1',
        index: 1,
        pods: [
          { ns: 'x', name: 'a', ip: '10.244.1.2' },
          { ns: 'x', name: 'b', ip: '10.244.1.3' },
        ],
      },
    ]);
    nodeNs = topo.nodeNs.get('node1')!;
    exec = execInNetns(nodeNs);
    stranger = await attachPod(netns, nodeNs, 'v-s', 1, '10.244.1.9', extra);
    // Someone else's table: it must survive every start, switch and cleanup.
    await exec('nft', ['-f', '-'], { input: 'add table inet someone-else\nadd chain inet someone-else c\nadd rule inet someone-else c counter\n' });
    view = createMemoryClusterView();
    view.set('Namespace', namespace('x', { ns: 'x' }));
    view.set('Pod', pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { pod: 'a' } }));
    view.set('Pod', pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { pod: 'b' } }));
    view.set('NetworkPolicy', policy('x', 'b-from-a', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }], ports: [{ port: 80 }] }] }));
    view.flush();
  });
  afterAll(async () => {
    await agent?.stop();
    topo?.stop();
    for (const c of extra) c.kill('SIGKILL');
  });

  it('iptables first: the usual chains and sets, no table of ours', async () => {
    agent = await start(false);
    expect(agent.backend).toBe('nft');
    expect(await ourIptables('nft')).toBeGreaterThan(0);
    expect(await tcpProbe(a(), '10.244.1.3', 80)).toBe(true);
    expect(await tcpProbe(b(), '10.244.1.2', 80)).toBe(true);
    expect(await tcpProbe(a(), '10.244.1.3', 81)).toBe(false);
    expect(await tables()).not.toContain('kube-router-ts-netpol');
  });

  it('restarted with --use-nftables-for-netpol: one table of ours, the iptables state gone, same verdicts', async () => {
    await agent!.stop();
    agent = await start(true);
    expect(agent.backend).toBe('nftables');
    expect(await tables()).toContain(`table ${TABLE}`);
    expect(await holds(async () => (await ourIptables('nft')) === 0 && (await ourSets()) === 0)).toBe(true);
    expect(await tcpProbe(a(), '10.244.1.3', 80)).toBe(true);
    expect(await tcpProbe(b(), '10.244.1.2', 80)).toBe(true);
    expect(await tcpProbe(a(), '10.244.1.3', 81)).toBe(false);
    // Fail-closed: the pod on the bridge that the model does not know, both ways.
    expect(await tcpProbe(stranger, '10.244.1.2', 80)).toBe(false);
    expect(await tcpProbe(a(), '10.244.1.9', 80)).toBe(false);
    expect(await tables()).toContain('table inet someone-else');
  });

  it('a new pod is set elements: closed, then open per policy once the model has it', async () => {
    view.set('Pod', pod({ ns: 'x', name: 's', ip: '10.244.1.9', labels: { pod: 's' } }));
    expect(await holds(() => tcpProbe(stranger, '10.244.1.2', 80))).toBe(true);
    // Its namespace's set dispatches it to x's pod chains.
    const set = (await exec('nft', ['list', 'set', ...TABLE.split(' '), namespacePodsSetName(4, 'x')])).stdout;
    expect(set).toMatch(/elements = \{[^}]*10\.244\.1\.9/);
    // Not a peer of b's policy.
    expect(await tcpProbe(stranger, '10.244.1.3', 80)).toBe(false);
    // A label change moves it into the policy's peers: set elements only.
    view.set('Pod', pod({ ns: 'x', name: 's', ip: '10.244.1.9', labels: { pod: 'a' } }));
    expect(await holds(() => tcpProbe(stranger, '10.244.1.3', 80))).toBe(true);
  });

  it('restarted without it (legacy this time): the table is removed, iptables enforces again', async () => {
    await agent!.stop();
    agent = await start(false, 'legacy');
    expect(await holds(async () => !(await tables()).includes('kube-router-ts-netpol'))).toBe(true);
    expect(await tables()).toContain('table inet someone-else');
    expect(await ourIptables('legacy')).toBeGreaterThan(0);
    expect(await tcpProbe(a(), '10.244.1.3', 80)).toBe(true);
    expect(await tcpProbe(a(), '10.244.1.3', 81)).toBe(false);
  });

  it('--cleanup-config removes the native table too, and nothing else', async () => {
    await agent!.stop();
    agent = await start(true);
    expect(await tables()).toContain(`table ${TABLE}`);
    await agent.stop();
    await agent.cleanup();
    agent = undefined;
    const t = await tables();
    expect(t).not.toContain('kube-router-ts-netpol');
    expect(t).toContain('table inet someone-else');
    expect(await ourIptables('legacy')).toBe(0);
    expect(await ourIptables('nft')).toBe(0);
  });
});
