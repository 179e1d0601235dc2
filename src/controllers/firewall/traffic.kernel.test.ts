// Real packets: two node netns (one agent each, as in a cluster), pods on kube-bridge, TCP and UDP
// probes on the same node (bridged) and across nodes (routed), with both iptables backends.
import { spawn } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execInNetns } from '../../dataplane/exec.js';
import { binaries } from '../../dataplane/iptables/backend.js';
import type { NetworkPolicyModel, PodModel } from '../../model/types.js';
import type { MemoryClusterView } from '../../watch/memory-view.js';
import { createMemoryClusterView } from '../../watch/memory-view.js';
import { createFirewallController, type FirewallController } from './controller.js';
import { firewallOptions, testContext } from '../../testing/firewall/context.js';
import { namespace, pod, policy } from '../../testing/firewall/fixtures.js';
import { failingWrapper, kernelChains, Netns } from '../../testing/firewall/netns.js';
import { buildTopology, tcpProbe, udpProbe, type Topology } from '../../testing/firewall/topology.js';
import { holds } from '../../testing/wait.js';

// Datagrams can be lost on a loaded machine: positive UDP checks retry (a denied one never succeeds).
const netns = new Netns('krt-np-tr-');
afterAll(() => netns.destroyAll());

const ports = [
  { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' as const },
  { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' as const },
  { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' as const },
];
const PODS: PodModel[] = [
  pod({ ns: 'x', name: 'a', ip: '10.244.1.2', node: 'node1', labels: { pod: 'a' }, ports }),
  pod({ ns: 'x', name: 'b', ip: '10.244.1.3', node: 'node1', labels: { pod: 'b' }, ports }),
  pod({ ns: 'y', name: 'a', ip: '10.244.1.4', node: 'node1', labels: { pod: 'a' }, ports }),
  pod({ ns: 'y', name: 'b', ip: '10.244.2.2', node: 'node2', labels: { pod: 'b' }, ports }),
];
const IP = Object.fromEntries(PODS.map((p) => [`${p.namespace}/${p.name}`, p.podIPs[0]!]));

describe.each(['nft', 'legacy'] as const)('firewall traffic on %s', (backend) => {
  let topo: Topology;
  let view: MemoryClusterView;
  const agents = new Map<string, FirewallController>();
  const from = (p: string): string => topo.podNs.get(p)!;

  const startAgent = async (node: string, deps = {}): Promise<FirewallController> => {
    const { ctx } = testContext(node, view);
    const c = createFirewallController(ctx, firewallOptions(node, { backend }), {
      exec: execInNetns(topo.nodeNs.get(node)!),
      backoff: { initialMs: 50, maxMs: 200 },
      ...deps,
    });
    await c.start();
    agents.set(node, c);
    return c;
  };
  const setPolicy = (np: NetworkPolicyModel): void => view.set('NetworkPolicy', np);

  beforeAll(async () => {
    topo = await buildTopology(netns, backend === 'nft' ? 'f' : 'l', [
      { name: 'node1', index: 1, pods: PODS.filter((p) => p.nodeName === 'node1').map((p) => ({ ns: p.namespace, name: p.name, ip: p.podIPs[0]! })) },
      { name: 'node2', index: 2, pods: PODS.filter((p) => p.nodeName === 'node2').map((p) => ({ ns: p.namespace, name: p.name, ip: p.podIPs[0]! })) },
    ]);
    view = createMemoryClusterView();
    view.set('Namespace', namespace('x', { ns: 'x' }));
    view.set('Namespace', namespace('y', { ns: 'y' }));
    for (const p of PODS) view.set('Pod', p);
    view.flush();
    await startAgent('node1');
    await startAgent('node2');
  });
  afterAll(async () => {
    for (const a of agents.values()) await a.stop();
    topo?.stop();
  });

  it('without policies every pod reaches every pod, same node and across nodes, TCP and UDP', async () => {
    for (const [src, dst] of [['x/b', 'x/a'], ['y/b', 'x/a'], ['x/a', 'y/b']] as const) {
      expect(await tcpProbe(from(src), IP[dst]!, 80), `${src}->${dst}`).toBe(true);
      // The first datagram may race ARP/socat start-up; a few tries are fine.
      expect(await holds(() => udpProbe(from(src), IP[dst]!, 80), 3000), `${src}->${dst} udp`).toBe(true);
    }
  });

  it('ingress by podSelector and named port: allowed and denied, same node and remote', async () => {
    setPolicy(policy('x', 'a-from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'serve-80-tcp' }] }] }));
    // Narrowing lands before the new rules (briefly denying x/b too), so wait for the final state.
    const settled = async (): Promise<boolean> => !(await tcpProbe(from('y/a'), IP['x/a']!, 80)) && (await tcpProbe(from('x/b'), IP['x/a']!, 80));
    expect(await holds(settled)).toBe(true);
    expect(await tcpProbe(from('x/b'), IP['x/a']!, 81)).toBe(false);
    expect(await udpProbe(from('x/b'), IP['x/a']!, 80)).toBe(false);
    expect(await tcpProbe(from('y/b'), IP['x/a']!, 80)).toBe(false);
    // Other pods are untouched.
    expect(await tcpProbe(from('y/b'), IP['x/b']!, 81)).toBe(true);
  });

  it('a label change on a remote pod lets it in (an ipset change only)', async () => {
    setPolicy(policy('x', 'a-from-clients', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] }] }));
    await holds(async () => (agents.get('node1')!.syncs ?? 0) > 0);
    expect(await tcpProbe(from('y/b'), IP['x/a']!, 81)).toBe(false);
    const yb = PODS[3]!;
    view.set('Pod', { ...yb, labels: { ...yb.labels, role: 'client' } });
    expect(await holds(() => tcpProbe(from('y/b'), IP['x/a']!, 81))).toBe(true);
    view.set('Pod', yb);
    expect(await holds(async () => !(await tcpProbe(from('y/b'), IP['x/a']!, 81)))).toBe(true);
  });

  it('egress allowing only UDP: TCP out is rejected at the source node, UDP passes', async () => {
    setPolicy(policy('y', 'a-udp-only', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ ports: [{ protocol: 'UDP' }] }] }));
    expect(await holds(async () => !(await tcpProbe(from('y/a'), IP['y/b']!, 80)))).toBe(true);
    expect(await holds(() => udpProbe(from('y/a'), IP['y/b']!, 80), 3000)).toBe(true);
    expect(await tcpProbe(from('y/a'), IP['x/b']!, 80)).toBe(false);
    expect(await holds(() => udpProbe(from('y/a'), IP['x/b']!, 80), 3000)).toBe(true);
  });

  it('an agent restart keeps established connections and never lets a denied one through', async () => {
    // x/b -> x/a:82 is allowed (a-from-b allows only 80; add a rule for 82), y/a -> x/a:80 is denied.
    setPolicy(policy('x', 'a-echo', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 82 }] }] }));
    expect(await holds(() => tcpProbe(from('x/b'), IP['x/a']!, 82))).toBe(true);
    const client = spawn('ip', ['netns', 'exec', from('x/b'), 'socat', '-', `TCP4:${IP['x/a']}:82`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let echoed = '';
    let exited = false;
    client.stdout.on('data', (b: Buffer) => (echoed += b.toString()));
    client.on('exit', () => (exited = true));
    try {
      client.stdin.write('before\n');
      expect(await holds(async () => echoed.includes('before'), 3000)).toBe(true);
      let leaked = 0;
      let probing = true;
      const prober = (async () => {
        while (probing) if (await tcpProbe(from('y/a'), IP['x/a']!, 80)) leaked++;
      })();
      const node1 = agents.get('node1')!;
      await node1.stop();
      client.stdin.write('during\n');
      const restarted = await startAgent('node1');
      expect(restarted.syncs).toBe(1);
      client.stdin.write('after\n');
      expect(await holds(async () => echoed.includes('during') && echoed.includes('after'), 3000)).toBe(true);
      probing = false;
      await prober;
      expect(leaked).toBe(0);
      expect(exited).toBe(false);
    } finally {
      client.kill('SIGKILL');
    }
  });

  it('a failing iptables-restore keeps the old rules and opens nothing; the retry applies the change', async () => {
    setPolicy(policy('y', 'b-deny', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [] }));
    expect(await holds(async () => !(await tcpProbe(from('x/b'), IP['y/b']!, 80)))).toBe(true);
    const wrap = failingWrapper(binaries(backend, 4).restore);
    try {
      await agents.get('node2')!.stop();
      writeFileSync(wrap.flag, '');
      const { ctx } = testContext('node2', view);
      const c = createFirewallController(ctx, firewallOptions('node2', { backend }), {
        exec: execInNetns(topo.nodeNs.get('node2')!),
        binaries: (f) => ({ ...binaries(backend, f), restore: wrap.path }),
        backoff: { initialMs: 50, maxMs: 200 },
      });
      // The update needs new rules (a new rule and port): while restores fail, it must not take effect. It is
      // made before the start, so even the first sync needs a restore (a start that only finds the old agent's
      // rules in place would succeed without one).
      setPolicy(policy('y', 'b-deny', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 81 }] }] }));
      // start() resolves only after the first successful sync, so it is awaited after the fault clears.
      const started = c.start();
      await new Promise((r) => setTimeout(r, 600));
      expect(c.syncs).toBe(0);
      expect(await tcpProbe(from('x/b'), IP['y/b']!, 81)).toBe(false);
      expect(await tcpProbe(from('x/b'), IP['y/b']!, 80)).toBe(false);
      rmSync(wrap.flag);
      await started;
      expect(await holds(() => tcpProbe(from('x/b'), IP['y/b']!, 81))).toBe(true);
      expect(await tcpProbe(from('x/b'), IP['y/b']!, 80)).toBe(false);
      expect(await tcpProbe(from('x/a'), IP['y/b']!, 81)).toBe(false);
      // Back to a controller with the real binaries for the rest of the suite.
      await c.stop();
      await startAgent('node2');
    } finally {
      wrap.dispose();
    }
  });

  it('policy deletion restores reachability; cleanup removes every chain', async () => {
    for (const k of ['x/a-from-b', 'x/a-from-clients', 'y/a-udp-only', 'x/a-echo', 'y/b-deny']) view.delete('NetworkPolicy', k);
    expect(await holds(() => tcpProbe(from('y/a'), IP['y/b']!, 80))).toBe(true);
    expect(await tcpProbe(from('y/b'), IP['x/a']!, 81)).toBe(true);
    for (const a of agents.values()) await a.stop();
    for (const a of agents.values()) await a.cleanup();
    for (const node of ['node1', 'node2']) {
      const k = await kernelChains(execInNetns(topo.nodeNs.get(node)!), backend);
      expect([...k.keys()].filter((n) => n.startsWith('KUBE-'))).toEqual([]);
    }
  });
});
