// Fail-closed with real packets: pod netns appear on kube-bridge before the agent's model knows them.
// Until the agent has programmed a pod, nothing reaches it and it reaches nothing (not even ICMP); once
// programmed it behaves per policy; a pod selected by a deny policy is never reachable in between.
// The pod CIDR comes from the Node object, as in a cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execHost, execInNetns } from '../../dataplane/exec.js';
import { binaries } from '../../dataplane/iptables/backend.js';
import type { NodeModel, PodModel } from '../../model/types.js';
import { createMemoryClusterView, type MemoryClusterView } from '../../watch/memory-view.js';
import { createFirewallController, type FirewallController } from './controller.js';
import { firewallOptions, testContext } from '../../testing/firewall/context.js';
import { namespace, pod, policy } from '../../testing/firewall/fixtures.js';
import { kernelSets, Netns } from '../../testing/firewall/netns.js';
import { attachPod, buildTopology, connectLoop, tcpProbe, type Topology } from '../../testing/firewall/topology.js';
import { holds } from '../../testing/wait.js';

const netns = new Netns('krt-np2-fc-');
afterAll(() => netns.destroyAll());

const GW = '10.244.1.1';
const node1: NodeModel = {
  name: 'node1',
  uid: 'uid-node1',
  labels: {},
  annotations: {},
  internalIPs: ['192.168.50.1'],
  externalIPs: [],
  primaryIP: '192.168.50.1',
  podCIDRs: ['10.244.1.0/24'],
  unschedulable: false,
  ready: true,
};
const A = pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { pod: 'a' } });

async function ping(fromNs: string, ip: string): Promise<boolean> {
  const r = await execHost('ip', ['netns', 'exec', fromNs, 'ping', '-c1', '-W1', ip], { okCodes: [1, 2] });
  return r.code === 0;
}

describe.each(['nft', 'legacy'] as const)('fail-closed on %s', (backend) => {
  let topo: Topology;
  let view: MemoryClusterView;
  let agent: FirewallController;
  let nodeNs: string;
  let logs: ReturnType<typeof testContext>['logs'];
  const extra: ChildProcess[] = [];
  const tag = backend === 'nft' ? 'f' : 'l';
  const addPodNs = async (name: string, ip: string): Promise<string> => attachPod(netns, nodeNs, `${tag}-${name}`, 1, ip, extra);
  const fromNode = (ip: string, port: number): Promise<boolean> => tcpProbe(nodeNs, ip, port);
  const tailCounters = async (): Promise<number> => {
    const { stdout } = await execInNetns(nodeNs)(binaries(backend, 4).save, ['-c', '-t', 'filter']);
    let n = 0;
    for (const l of stdout.split('\n')) {
      const m = /^\[(\d+):\d+\] -A KUBE-NWPLCY-TAIL .*-j NFLOG/.exec(l);
      if (m) n += Number(m[1]);
    }
    return n;
  };

  beforeAll(async () => {
    topo = await buildTopology(netns, tag, [{ name: 'node1', index: 1, pods: [{ ns: 'x', name: 'a', ip: A.podIPs[0]! }] }]);
    nodeNs = topo.nodeNs.get('node1')!;
    // A service on the node's bridge address (the pods' gateway).
    const gw = spawn('ip', ['netns', 'exec', nodeNs, 'socat', `TCP4-LISTEN:8080,bind=${GW},fork,reuseaddr`, 'SYSTEM:echo ok'], { stdio: 'ignore' });
    gw.on('error', () => undefined);
    extra.push(gw);
    view = createMemoryClusterView();
    view.set('Node', node1);
    view.set('Namespace', namespace('x', { ns: 'x' }));
    view.set('Pod', A);
    view.set('NetworkPolicy', policy('x', 'web-from-a', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }] }] }));
    view.set('NetworkPolicy', policy('x', 'locked', { podSelector: { matchLabels: { role: 'locked' } }, ingress: [] }));
    view.flush();
    const t = testContext('node1', view);
    logs = t.logs;
    const opts = firewallOptions('node1', { backend, defaultDeny: true });
    delete opts.podCIDRs;
    agent = createFirewallController(t.ctx, opts, { exec: execInNetns(nodeNs), backoff: { initialMs: 50, maxMs: 200 } });
    await agent.start();
  });
  afterAll(async () => {
    await agent?.stop();
    topo?.stop();
    for (const c of extra) c.kill('SIGKILL');
  });

  it('says what it does: fails closed on the Node pod CIDR, and --netpol-default-deny changes nothing', () => {
    const msgs = logs.lines.map((l) => String(l.msg));
    expect(msgs.some((m) => m.includes('failing closed for pod addresses not programmed yet'))).toBe(true);
    expect(logs.lines.find((l) => String(l.msg).includes('failing closed'))?.podCIDRs).toEqual(['10.244.1.0/24']);
    expect(msgs.some((m) => m.includes('--netpol-default-deny changes nothing'))).toBe(true);
  });

  it('a pod on the bridge that the model does not know is rejected both ways, logged first', async () => {
    const n = await addPodNs('n', '10.244.1.10');
    const before = await tailCounters();
    expect(await tcpProbe(topo.podNs.get('x/a')!, '10.244.1.10', 80)).toBe(false);
    expect(await tcpProbe(n, A.podIPs[0]!, 80)).toBe(false);
    expect(await ping(n, A.podIPs[0]!)).toBe(false);
    expect(await fromNode('10.244.1.10', 80)).toBe(false);
    expect(await tcpProbe(n, GW, 8080)).toBe(false);
    expect(await tailCounters()).toBeGreaterThan(before);
    // The programmed pod keeps its node: the node reaches it (kubelet probes), it reaches its gateway.
    expect(await fromNode(A.podIPs[0]!, 80)).toBe(true);
    expect(await tcpProbe(topo.podNs.get('x/a')!, GW, 8080)).toBe(true);
    expect(await ping(topo.podNs.get('x/a')!, GW)).toBe(true);

    // Once the pod is in the model (no policy selects it) it is open both ways.
    view.set('Pod', pod({ ns: 'x', name: 'n', ip: '10.244.1.10', labels: { pod: 'n' } }));
    expect(await holds(() => tcpProbe(topo.podNs.get('x/a')!, '10.244.1.10', 80))).toBe(true);
    expect(await tcpProbe(n, A.podIPs[0]!, 80)).toBe(true);
    expect(await ping(n, A.podIPs[0]!)).toBe(true);
    expect(await fromNode('10.244.1.10', 80)).toBe(true);
    expect(await tcpProbe(n, GW, 8080)).toBe(true);
  });

  it('a pod selected by an allow policy is closed until programmed, then open exactly per policy', async () => {
    const w = await addPodNs('w', '10.244.1.11');
    const a = topo.podNs.get('x/a')!;
    expect(await tcpProbe(a, '10.244.1.11', 80)).toBe(false);
    expect(await tcpProbe(w, A.podIPs[0]!, 80)).toBe(false);
    view.set('Pod', pod({ ns: 'x', name: 'w', ip: '10.244.1.11', labels: { app: 'web' } }));
    expect(await holds(() => tcpProbe(a, '10.244.1.11', 80))).toBe(true);
    // x/n is programmed but not a peer of the policy; the node still reaches w; w's egress is open.
    expect(await tcpProbe(netns.prefix + `${tag}-n`, '10.244.1.11', 80)).toBe(false);
    expect(await fromNode('10.244.1.11', 80)).toBe(true);
    expect(await tcpProbe(w, A.podIPs[0]!, 80)).toBe(true);
  });

  it('a pod selected by a deny policy is never reachable between its creation and its programming', async () => {
    const d = await addPodNs('d', '10.244.1.13');
    const dIP = '10.244.1.13';
    // An independent witness in the pod itself: a counter of TCP SYNs that arrive at its port 80.
    await execInNetns(d)('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '80', '--syn', '-m', 'comment', '--comment', 'syn-witness']);
    const clients = [topo.podNs.get('x/a')!, netns.prefix + `${tag}-n`];
    const loops = [...clients, ...clients].map((c) => connectLoop(c, dIP, 80));
    let results: Array<{ attempts: number; connected: number }> = [];
    try {
      // Probing before the model knows the pod: every loop has to be running first.
      expect(await holds(async () => loops.every((l) => l.attempts() > 10))).toBe(true);
      const D: PodModel = pod({ ns: 'x', name: 'd', ip: dIP, labels: { role: 'locked' } });
      view.set('Pod', D);
      const programmed = async (): Promise<boolean> => (await kernelSets(execInNetns(nodeNs))).get('kube-router-local-pods')?.includes(dIP) ?? false;
      expect(await holds(programmed)).toBe(true);
      // More syncs while probing: relabels that touch the same sets and chains.
      for (let i = 0; i < 4; i++) {
        view.set('Pod', { ...D, labels: { role: 'locked', round: String(i) } });
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      results = await Promise.all(loops.map((l) => l.stop()));
    }
    for (const r of results) {
      expect(r.attempts).toBeGreaterThan(10);
      expect(r.connected).toBe(0);
    }
    const witness = (await execInNetns(d)('iptables', ['-L', 'INPUT', '-v', '-x', '-n'])).stdout.split('\n').find((l) => l.includes('syn-witness'));
    expect(witness?.trim().split(/\s+/)[0]).toBe('0');
    // Programmed (egress is not isolated) yet closed to ingress.
    expect(await tcpProbe(d, A.podIPs[0]!, 80)).toBe(true);
    expect(await tcpProbe(topo.podNs.get('x/a')!, dIP, 80)).toBe(false);
  });

  it('a deleted pod is closed again at once', async () => {
    const a = topo.podNs.get('x/a')!;
    expect(await tcpProbe(a, '10.244.1.10', 80)).toBe(true);
    view.delete('Pod', 'x/n');
    expect(await holds(async () => !(await tcpProbe(a, '10.244.1.10', 80)))).toBe(true);
    expect(await fromNode('10.244.1.10', 80)).toBe(false);
  });
});

describe('fail-closed needs a pod CIDR', () => {
  it('logs once, clearly, when the Node has none, and says when it arrives', async () => {
    const view = createMemoryClusterView();
    view.set('Node', { ...node1, podCIDRs: [] });
    view.flush();
    const ns = await netns.add('nocidr');
    const t = testContext('node1', view);
    const opts = firewallOptions('node1', { backend: 'nft' });
    delete opts.podCIDRs;
    const c = createFirewallController(t.ctx, opts, { exec: execInNetns(ns) });
    await c.start();
    try {
      view.set('Pod', A);
      await holds(async () => c.syncs >= 2);
      const warn = t.logs.lines.filter((l) => String(l.msg).includes('fail-closed for new pods needs it'));
      expect(warn).toHaveLength(1);
      expect(warn[0]!.level).toBe(40);
      view.set('Node', { ...node1, annotations: { 'kube-router.io/pod-cidr': '10.244.9.0/24' } });
      expect(await holds(async () => t.logs.lines.some((l) => String(l.msg).includes('failing closed') && String(l.source) === 'annotation'))).toBe(true);
      expect(await holds(async () => (await kernelSets(execInNetns(ns))).has('kube-router-local-pods'))).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
