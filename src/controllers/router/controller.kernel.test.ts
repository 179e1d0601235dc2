// Real kernel: three "nodes" (netns) on one L2 underlay, pods attached by the real CNI bridge plugin from
// the conflist the controller wrote, routes learned over BGP (the in-memory speaker network until src/bgp
// can peer; the wire-level interop is in bird.kernel.test.ts).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBgpNetwork } from '../../testing/router/memory-bgp.js';
import { TestClusterView, testNode } from '../../testing/router/memory-cluster.js';
import { startNodeAgent, type NodeAgent } from '../../testing/router/harness.js';
import { addPod, createUnderlay, deleteNetnsWithPrefix, nsRun, nsTry, routesProto17, spawnIn } from '../../testing/router/netns.js';
import { waitFor } from '../../testing/wait.js';

const P = 'krt-rt-a-';
const IP = { n1: '172.31.0.11', n2: '172.31.0.12', n3: '172.31.0.13', outside: '172.31.0.100' };
const cluster = new TestClusterView();
const net = new MemoryBgpNetwork();
const agents: NodeAgent[] = [];
const factory = (o: Parameters<MemoryBgpNetwork['createSpeaker']>[0]) => net.createSpeaker(o);
let ns: Record<'n1' | 'n2' | 'n3' | 'ul', string>;
let cniDir1: string;
let pod1Ip = '', pod2Ip = '';

function agent(name: string, opts = {}, cniDir?: string): NodeAgent {
  const a = startNodeAgent({ nodeName: name, netns: `${P}${name}`, cluster, speakerFactory: factory, opts, ...(cniDir ? { cniDir } : {}) });
  agents.push(a);
  return a;
}
const hasRoute = (node: string, dst: string) => routesProto17(node).find((r) => r.dst === dst);

beforeAll(() => {
  deleteNetnsWithPrefix(P);
  const ul = createUnderlay(P, [`${IP.outside}/24`]);
  ns = { ul: ul.ns, n1: ul.addNode('n1', `${IP.n1}/24`), n2: ul.addNode('n2', `${IP.n2}/24`), n3: ul.addNode('n3', `${IP.n3}/24`) };
  // The underlay host plays "the internet" for the egress test: nodes default-route to it.
  for (const n of ['n1', 'n2', 'n3'] as const) nsRun(ns[n], 'ip', ['route', 'add', 'default', 'via', IP.outside]);
  // An operator-edited config already present on n1: its extra fields must survive.
  cniDir1 = mkdtempSync(join(tmpdir(), 'krt-rt-a-cni-'));
  writeFileSync(join(cniDir1, '10-kuberouter.conflist'), JSON.stringify({
    cniVersion: '0.4.0', name: 'kubernetes', operatorNote: 'added by ops',
    plugins: [{ type: 'bridge', bridge: 'kube-bridge', ipam: { type: 'host-local', dataDir: join(cniDir1, 'ipam') } }],
  }));
  cluster.setNode(testNode('n1', IP.n1, ['10.244.1.0/24']));
  cluster.setNode(testNode('n2', IP.n2, ['10.244.2.0/24']));
  cluster.setNode(testNode('n3', IP.n3, []));
});

afterAll(async () => {
  for (const a of agents) await a.controller.stop().catch(() => undefined);
  deleteNetnsWithPrefix(P);
  for (const a of agents) rmSync(dirname(a.cniConfFile), { recursive: true, force: true });
  if (cniDir1) rmSync(cniDir1, { recursive: true, force: true });
});

describe('routing controller on a 3-node L2 lab', () => {
  it('there is no route to another node\'s pods before the agents run', () => {
    expect(nsTry(ns.n1, 'ip', ['route', 'get', '10.244.2.2']).out).not.toMatch(/via 172\.31\.0\.12/);
    expect(routesProto17(ns.n1)).toEqual([]);
  });

  it('agents start; the node without a pod CIDR reports it and writes no config', async () => {
    const a1 = agent('n1', {}, cniDir1), a2 = agent('n2'), a3 = agent('n3', { injectedRoutesSyncPeriodMs: 60_000 });
    await Promise.all([a1, a2, a3].map((a) => a.controller.start()));
    expect(a3.health.problem_).toContain('--allocate-node-cidrs');
    expect(a3.controller.status().problem).toContain('kube-router.io/pod-cidr');
    expect(() => statSync(a3.cniConfFile)).toThrow();
    expect(await a3.metrics.getSingleMetricAsString('kube_router_router_pod_cidr_missing')).toMatch(/kube_router_router_pod_cidr_missing 1/);
    expect(a1.health.beats).toBeGreaterThan(0);
    expect(a1.health.problem_).toBeUndefined();
  });

  it('routes learned over BGP land in the kernel with proto 17 via the owning node', async () => {
    const r = await waitFor('n1 route to n2 pods', () => hasRoute(ns.n1, '10.244.2.0/24'));
    expect(r.gateway).toBe(IP.n2);
    expect((await waitFor('n2 route to n1 pods', () => hasRoute(ns.n2, '10.244.1.0/24'))).gateway).toBe(IP.n1);
    expect(nsRun(ns.n1, 'ip', ['-br', 'addr', 'show', 'kube-bridge'])).toContain('10.244.1.1/24');
    expect(nsRun(ns.n1, 'sysctl', ['-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
    expect(nsRun(ns.n1, 'iptables', ['-S', 'FORWARD'])).toContain('-j KUBE-ROUTER-BRIDGE-FWD');
    expect(nsRun(ns.n1, 'ipset', ['list', 'kube-router-pod-subnets'])).toContain('10.244.2.0/24');
  });

  it('the conflist keeps operator fields, was renamed into place, and names existing plugins', () => {
    const a1 = agents[0]!;
    const conf = JSON.parse(readFileSync(a1.cniConfFile, 'utf8'));
    expect(conf.operatorNote).toBe('added by ops');
    expect(conf.plugins[0]).toMatchObject({ bridge: 'kube-bridge', isDefaultGateway: true, mtu: 1500, ipam: { dataDir: join(cniDir1, 'ipam'), ranges: [[{ subnet: '10.244.1.0/24' }]] } });
    expect(readdirSync(dirname(a1.cniConfFile)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(a1.controller.status().missingCniPlugins).toEqual([]);
  });

  it('pods on different nodes reach each other and the server sees the client pod IP (no NAT)', async () => {
    pod1Ip = addPod(ns.n1, `${P}p1`, agents[0]!.cniConfFile, join(cniDir1, 'ipam'));
    pod2Ip = addPod(ns.n2, `${P}p2`, agents[1]!.cniConfFile, join(cniDir1, 'ipam2'));
    expect(pod1Ip.startsWith('10.244.1.')).toBe(true);
    expect(pod2Ip.startsWith('10.244.2.')).toBe(true);
    nsRun(`${P}p1`, 'ping', ['-c', '2', '-W', '2', pod2Ip]);
    const server = spawnIn(`${P}p2`, 'socat', ['TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo $SOCAT_PEERADDR']);
    try {
      const seen = await waitFor('tcp reply', () => nsTry(`${P}p1`, 'nc', ['-w', '2', '-N', pod2Ip, '8080']).out.trim());
      expect(seen).toBe(pod1Ip);
    } finally {
      server.kill();
    }
  });

  it('pod egress leaving the cluster is masqueraded to the node IP', async () => {
    const server = spawnIn(ns.ul, 'socat', ['TCP-LISTEN:8081,reuseaddr,fork', 'SYSTEM:echo $SOCAT_PEERADDR']);
    try {
      const seen = await waitFor('egress reply', () => nsTry(`${P}p1`, 'nc', ['-w', '2', '-N', IP.outside, '8081']).out.trim());
      expect(seen).toBe(IP.n1);
    } finally {
      server.kill();
    }
  });

  it('the missing pod CIDR is picked up without a restart', async () => {
    const a3 = agents[2]!;
    cluster.setNode(testNode('n3', IP.n3, ['10.244.3.0/24']));
    await waitFor('n3 conflist', () => statSync(a3.cniConfFile, { throwIfNoEntry: false }));
    await waitFor('n3 healthy', () => a3.health.problem_ === undefined && a3.health.beats > 0);
    expect(JSON.parse(readFileSync(a3.cniConfFile, 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.244.3.0/24' }]]);
    expect((await waitFor('n1 route to n3 pods', () => hasRoute(ns.n1, '10.244.3.0/24'))).gateway).toBe(IP.n3);
    expect(await a3.metrics.getSingleMetricAsString('kube_router_router_pod_cidr_missing')).toMatch(/kube_router_router_pod_cidr_missing 0/);
  });

  it('a deleted node\'s routes disappear everywhere and the periodic sync never brings them back', async () => {
    const a2 = agents[1]!;
    await a2.controller.stop();
    cluster.deleteNode('n2');
    await waitFor('route to n2 pods gone on n1', () => !hasRoute(ns.n1, '10.244.2.0/24'));
    await waitFor('route to n2 pods gone on n3', () => !hasRoute(ns.n3, '10.244.2.0/24'));
    // Several injected-route sync periods (300 ms here) and a full sync later, still gone.
    await agents[0]!.controller.syncNow();
    await new Promise((r) => setTimeout(r, 1200));
    expect(hasRoute(ns.n1, '10.244.2.0/24')).toBeUndefined();
    expect(hasRoute(ns.n1, '10.244.3.0/24')).toBeDefined();
    expect(nsRun(ns.n1, 'ipset', ['list', 'kube-router-pod-subnets'])).not.toContain('10.244.2.0/24');
    expect(nsTry(`${P}p1`, 'ping', ['-c', '1', '-W', '1', pod2Ip]).ok).toBe(false);
  });

  it('route syncs on cluster events diff against what the last one left: no kernel read while ip monitor is quiet', async () => {
    // n3: 60 s periods, so only the node updates below make it sync.
    const a3 = agents[2]!;
    const value = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await a3.metrics.getSingleMetricAsString(name.replace(/_count$/, '')))?.[1] ?? 0);
    const syncs = () => value('kube_router_host_routes_sync_time_count');
    const reads = () => value('kube_router_router_route_reads_total');
    const poke = async (i: number) => {
      const n = await syncs();
      cluster.setNode(testNode('n3', IP.n3, ['10.244.3.0/24'], { 'example.com/poke': String(i) }));
      await waitFor(`route sync ${i}`, async () => (await syncs()) > n);
    };
    await new Promise((r) => setTimeout(r, 1100)); // the monitor has been listening long enough
    await poke(0); // may read (what earlier syncs left may predate the monitor)
    const r0 = await reads(), s0 = await syncs();
    for (let i = 1; i <= 4; i++) await poke(i);
    expect(await syncs()).toBeGreaterThanOrEqual(s0 + 4);
    expect(await reads()).toBe(r0);
    expect(hasRoute(ns.n3, '10.244.1.0/24')?.gateway).toBe(IP.n1);
    // An on-demand sync still reads.
    await a3.controller.syncNow();
    expect(await reads()).toBeGreaterThan(r0);
  });

  it('a link flap (which deletes every route through the link) is repaired at once from the current best paths', async () => {
    // The injected-route period is 60 s here, so only the kernel watch can restore it within 3 s.
    // n3 runs with a 60 s injected-route period.
    nsRun(ns.n3, 'ip', ['link', 'set', 'eth0', 'down']);
    expect(hasRoute(ns.n3, '10.244.1.0/24')).toBeUndefined();
    nsRun(ns.n3, 'ip', ['link', 'set', 'eth0', 'up']);
    await waitFor('route restored', () => hasRoute(ns.n3, '10.244.1.0/24'), 3000);
    nsRun(ns.n3, 'ip', ['route', 'del', '10.244.1.0/24', 'proto', '17']);
    await waitFor('route restored after manual delete', () => hasRoute(ns.n3, '10.244.1.0/24'), 3000);
  });

  it('routes of other protocols are never touched', async () => {
    nsRun(ns.n1, 'ip', ['route', 'add', '10.250.0.0/24', 'via', IP.n3, 'proto', 'static']);
    await agents[0]!.controller.syncNow();
    await new Promise((r) => setTimeout(r, 600));
    expect(nsRun(ns.n1, 'ip', ['route', 'show', '10.250.0.0/24'])).toContain('via 172.31.0.13');
  });
});
