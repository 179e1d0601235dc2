// Nodes on two subnets with --enable-overlay=false (host kernel: no tunnel is made, so no ipip is needed):
// no tun-* link and no policy rule anywhere, a same-subnet node's pod CIDR is routed directly (`via`), and
// another subnet's is left to the underlay: pod traffic across fails until the underlay router learns the
// pod CIDRs (here: static routes on it, as a ToR peering with the nodes would install), then flows without
// NAT. A pod CIDR changed at runtime (annotation) moves kube-bridge, the CNI config and the routes. Then a
// Node deleted from the API loses its routes on the others while its own agent keeps its dataplane (and says
// it is degraded), and created again it is peered and routed again. The overlay itself is in
// lab-routing-overlay.uml.test.ts (user-mode Linux).
//
// Layout (segments: 2): lab-node-1 172.20.0.11 and lab-node-3 172.20.0.13 on segment 0, lab-node-2
// 172.20.1.12 on segment 1; pod CIDRs 10.244.0.0/24, 10.244.1.0/24, 10.244.2.0/24; router "tor" .1.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { R } from '../src/lab/kube.js';
import { waitFor } from '../src/testing/wait.js';

const NAME = 'lr2';
const PREFIX = `krt-rt2-${NAME}-`;
const STATE = `/run/kube-router-lab-${NAME}`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cniConf = (node: string) => readFileSync(join(STATE, 'nodes', node, 'cni', '10-kuberouter.conflist'), 'utf8');
const pod = (name: string, node: string) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] },
});

describe.skipIf(!existsSync(AGENT))('no overlay between subnets (host kernel lab)', () => {
  let lab: Lab;
  let ips: Record<string, string> = {};
  const out = async (target: string, script: string) => {
    const r = await lab.exec(target, ['sh', '-c', script]);
    if (r.code !== 0) throw new Error(`${target}: ${script}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({
      name: NAME, prefix: PREFIX, nodes: 3, segments: 2, kernel: 'host',
      agentFlags: ['--run-service-proxy=false', '--enable-overlay=false'],
    });
    for (const [p, n] of [['p1', 'lab-node-1'], ['p2', 'lab-node-2'], ['p3', 'lab-node-3']] as const) {
      await lab.client.create(R.pods, 'default', pod(p, n));
    }
    ips = await lab.waitForPods(['default/p1', 'default/p2', 'default/p3'], 60_000);
  }, 120_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  }, 60_000);

  it('routes the same subnet directly, makes no tunnel or policy rule, and leaves the other subnet to the underlay', async () => {
    const r1 = await waitFor('node 1 route to node 3 pods', async () => {
      const r = await out('lab-node-1', 'ip route show proto 17');
      return r.includes('10.244.2.0/24') && r;
    }, 20_000, 200);
    expect(r1).toContain('10.244.2.0/24 via 172.20.0.13 dev eth0');
    // Node 2's pods are known over BGP but not installed: the next hop is on another subnet.
    expect(r1).not.toContain('10.244.1.0/24');
    expect(await out('lab-node-2', 'ip route show proto 17')).toBe('');
    for (const n of ['lab-node-1', 'lab-node-2', 'lab-node-3']) {
      expect(await out(n, 'ip -br link show')).not.toMatch(/tun-[0-9a-f]{11}/);
      expect(await out(n, 'ip rule show')).not.toMatch(/lookup (77|kube-router)/);
    }
  }, 60_000);

  it('same-subnet pods talk; cross-subnet pods talk only once the underlay routes the pod CIDRs, without NAT', async () => {
    await waitFor('p1 -> p3', () => lab.probe('default/p1', ips['default/p3']!, 80), 20_000, 200);
    expect(await lab.probe('default/p1', ips['default/p2']!, 80, 'TCP', 1500)).toBe(false);
    expect(await lab.probe('default/p2', ips['default/p3']!, 80, 'TCP', 1500)).toBe(false);
    // The underlay learns the pod CIDRs (what a ToR peering with the nodes would install).
    await out('tor', 'ip route add 10.244.0.0/24 via 172.20.0.11 && ip route add 10.244.1.0/24 via 172.20.1.12 && ip route add 10.244.2.0/24 via 172.20.0.13');
    await waitFor('p1 -> p2', () => lab.probe('default/p1', ips['default/p2']!, 80), 20_000, 200);
    expect(await lab.probe('default/p2', ips['default/p3']!, 80)).toBe(true);
    // The server on the other subnet sees the client pod's own address.
    const srv = lab.exec('default/p2', ['timeout', '10', 'socat', '-T5', 'TCP-LISTEN:9000,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR']);
    const cli = lab.exec('default/p1', ['sh', '-c', `for i in $(seq 1 40); do o=$(socat -T1 - TCP:${ips['default/p2']}:9000 </dev/null 2>/dev/null); [ -n "$o" ] && { echo "$o"; exit 0; }; sleep 0.1; done; exit 1`]);
    expect((await cli).stdout.trim()).toBe(ips['default/p1']);
    await srv;
  }, 60_000);

  it('applies a pod CIDR changed at runtime: kube-bridge, CNI config, announcement and routes move, and back', async () => {
    const ann = (v: string | null) => lab.client.patch(R.nodes, undefined, 'lab-node-1', { metadata: { annotations: { 'kube-router.io/pod-cidr': v } } });
    await ann('10.244.10.0/24');
    await waitFor('node 3 routes the new CIDR and not the old', async () => {
      const r = await out('lab-node-3', 'ip route show proto 17');
      return r.includes('10.244.10.0/24 via 172.20.0.11') && !r.includes('10.244.0.0/24');
    }, 20_000, 200);
    const br = await out('lab-node-1', 'ip -4 -br addr show kube-bridge');
    expect(br).toContain('10.244.10.1/24');
    expect(br).not.toContain('10.244.0.1/24');
    expect(cniConf('lab-node-1')).toContain('"subnet": "10.244.10.0/24"');
    expect(cniConf('lab-node-1')).not.toContain('10.244.0.0/24');
    // A pod started now gets an address of the new CIDR and is reachable from another node.
    await lab.client.create(R.pods, 'default', pod('p1b', 'lab-node-1'));
    const ip = (await lab.waitForPods(['default/p1b'], 30_000))['default/p1b']!;
    expect(ip).toMatch(/^10\.244\.10\./);
    await waitFor('p3 -> p1b', () => lab.probe('default/p3', ip, 80), 20_000, 200);
    await lab.client.delete(R.pods, 'default', 'p1b');
    // Without the annotation the spec's CIDR is back, and with it the old pod p1.
    await ann(null);
    await waitFor('node 3 routes the spec CIDR again', async () => {
      const r = await out('lab-node-3', 'ip route show proto 17');
      return r.includes('10.244.0.0/24 via 172.20.0.11') && !r.includes('10.244.10.0/24');
    }, 20_000, 200);
    await waitFor('p3 -> p1', () => lab.probe('default/p3', ips['default/p1']!, 80), 20_000, 200);
  }, 90_000);

  it('a deleted Node\'s routes go from the others while its own agent keeps its dataplane; created again, it is peered and routed again', async () => {
    const routes = () => out('lab-node-1', 'ip route show proto 17');
    const own = () => out('lab-node-3', 'ip route show proto 17');
    const router3 = async () => (await lab.health())['lab-node-3']?.controllers?.find((c) => c.name === 'router') as { degraded?: string | null; code?: string | null } | undefined;
    await waitFor('node 3 routes node 1 pods', async () => (await own()).includes('10.244.0.0/24 via 172.20.0.11'), 20_000, 200);
    // The firewall's fail-closed rules (one per KUBE-ROUTER-* chain) need this node's pod CIDR: they stay too.
    const failClosed = async () => (await out('lab-node-3', 'iptables-save -t filter')).split('\n').filter((l) => l.includes('not programmed yet')).length;
    const failClosedBefore = await waitFor('fail-closed rules on node 3', failClosed, 20_000, 200);
    const node = await lab.client.get(R.nodes, undefined, 'lab-node-3');
    // Watch node 3's learned route through the deletion: its peers close their sessions with it (Cease
    // "peer de-configured"), which may reach it before its own informer event; neither may withdraw it.
    let watching = true;
    const lost: string[] = [];
    const watcher = (async () => {
      while (watching) {
        if (!(await own()).includes('10.244.0.0/24 via 172.20.0.11')) lost.push(new Date().toISOString());
        await sleep(100);
      }
    })();
    await lab.client.delete(R.nodes, undefined, 'lab-node-3');
    await waitFor('node 1 drops the route to node 3 pods', async () => !(await routes()).includes('10.244.2.0/24'), 20_000, 200);
    // The route goes with the BGP session, the set with the router's next sync: either may come first.
    await waitFor('node 1 drops node 3 from kube-router-node-ips', async () => !(await out('lab-node-1', 'ipset list kube-router-node-ips')).includes('172.20.0.13'), 10_000, 200);
    // Node 3 keeps its bridge, CNI config, fail-closed rules and the routes it learned.
    await waitFor('node 3 degraded', async () => (await router3())?.code === 'KRT_ROUTER_OWN_NODE_MISSING', 10_000, 200);
    await sleep(1500);
    watching = false;
    await watcher;
    expect(lost, 'node 3 lost its route to node 1 pods while its own Node was deleted').toEqual([]);
    expect(await own()).toContain('10.244.0.0/24 via 172.20.0.11');
    expect(await out('lab-node-3', 'ip -4 -br addr show kube-bridge')).toContain('10.244.2.1/24');
    expect(cniConf('lab-node-3')).toContain('"subnet": "10.244.2.0/24"');
    expect(await failClosed()).toBe(failClosedBefore);
    expect((await lab.health())['lab-node-3']?.ok).toBe(true); // degraded, not failing: a restart would fix nothing
    expect((await router3())?.degraded).toMatch(/missing from the API/);
    const meta = node['metadata'] as { name: string; labels?: object; annotations?: object };
    const created = await lab.client.create(R.nodes, undefined, {
      apiVersion: 'v1', kind: 'Node', metadata: { name: meta.name, labels: meta.labels ?? {}, annotations: meta.annotations ?? {} }, spec: node['spec'], status: node['status'],
    });
    // An API server may drop status on create (as Kubernetes does for most kinds): the addresses are what matter here.
    if (!(created['status']?.['addresses'] as unknown[] | undefined)?.length) {
      await lab.client.update(R.nodes, undefined, { ...created, status: node['status'] }, 'status');
    }
    expect(await waitFor('node 1 routes to node 3 pods again', async () => {
      const r = await routes();
      return r.includes('10.244.2.0/24') && r;
    }, 20_000, 200)).toContain('10.244.2.0/24 via 172.20.0.13 dev eth0');
    await waitFor('node 3 no longer degraded', async () => (await router3())?.degraded === null, 10_000, 200);
    await waitFor('node 3 routes node 1 pods again', async () => (await own()).includes('10.244.0.0/24 via 172.20.0.11'), 20_000, 200);
  }, 60_000);
});
