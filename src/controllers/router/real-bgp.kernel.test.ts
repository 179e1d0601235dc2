// Real speakers on a real kernel: each node's agent runs as its own process inside its netns (BGP sockets
// bind there), with a BIRD ToR in its own namespace peering with every node over eBGP. Skipped, with the
// reason printed, until src/bgp/index.ts exports createSpeaker.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realSpeakerAvailable, spawnAgent, type AgentProcess } from '../../testing/router/agents.js';
import { writeClusterFile } from '../../testing/router/file-cluster.js';
import { testNode, testService } from '../../testing/router/memory-cluster.js';
import { addPod, createUnderlay, deleteNetnsWithPrefix, nsRun, nsTry, routesProto17, spawnIn } from '../../testing/router/netns.js';
import type { NodeModel } from '../../model/types.js';
import { waitFor } from '../../testing/wait.js';

const P = 'krt-rt-r-';
const available = await realSpeakerAvailable();
if (!available) console.warn('real-bgp.kernel.test.ts skipped: src/bgp/index.ts does not export createSpeaker yet');
const TOR = '172.31.3.1';
const ip = (i: number) => `172.31.3.1${i}`;
const cidr = (i: number) => `10.247.${i}.0/24`;
let dir = '';
let clusterFile = '';
let bird: ChildProcess | undefined;
const agents = new Map<string, AgentProcess>();
let nodes: NodeModel[] = [];
const service = testService('default', 'web', { clusterIPs: ['10.96.7.7'] });
const agentOpts = {
  peerRouterIps: [TOR], peerRouterAsns: [65000], advertiseClusterIp: true,
  bgpHoldtimeMs: 9000, routesSyncPeriodMs: 60_000, injectedRoutesSyncPeriodMs: 1000,
};

function startAgent(name: string, ns: string): AgentProcess {
  const a = spawnAgent(ns, clusterFile, name, dir, { ...agentOpts, cniConfFile: join(dir, name, '10-kuberouter.conflist') });
  agents.set(name, a);
  return a;
}
const birdc = (cmd: string) => nsRun(`${P}tor`, 'birdc', ['-s', join(dir, 'bird.ctl'), ...cmd.split(' ')]);

describe.skipIf(!available)('real BGP: 3 nodes + BIRD ToR', () => {
  beforeAll(() => {
    deleteNetnsWithPrefix(P);
    dir = mkdtempSync(join(tmpdir(), P));
    clusterFile = join(dir, 'cluster.json');
    const ul = createUnderlay(P);
    ul.addNode('tor', `${TOR}/24`);
    for (const i of [1, 2, 3]) ul.addNode(`n${i}`, `${ip(i)}/24`);
    nodes = [1, 2, 3].map((i) => testNode(`n${i}`, ip(i), [cidr(i)]));
    writeClusterFile(clusterFile, { nodes, services: [service] });
    const conf = [
      `router id ${TOR};`, 'log stderr all;', 'protocol device { scan time 10; }',
      'protocol kernel { ipv4 { import none; export where source = RTS_BGP; }; merge paths on; }',
      `template bgp nodes { local ${TOR} as 65000; hold time 9; keepalive time 3; connect retry time 2; connect delay time 1; ipv4 { import all; export none; }; }`,
      ...[1, 2, 3].map((i) => `protocol bgp n${i} from nodes { neighbor ${ip(i)} as 64512; }`),
    ].join('\n');
    writeFileSync(join(dir, 'bird.conf'), conf);
    bird = spawnIn(`${P}tor`, 'bird', ['-f', '-c', join(dir, 'bird.conf'), '-s', join(dir, 'bird.ctl'), '-P', join(dir, 'bird.pid')]);
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.stop('SIGKILL').catch(() => undefined);
    bird?.kill('SIGKILL');
    deleteNetnsWithPrefix(P);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('no routes before the agents run; then every node routes to every other node\'s pods (proto 17)', async () => {
    expect(routesProto17(`${P}n1`)).toEqual([]);
    for (const i of [1, 2, 3]) startAgent(`n${i}`, `${P}n${i}`);
    for (const i of [1, 2, 3]) {
      await waitFor(`n${i} routes`, () => routesProto17(`${P}n${i}`).length === 2, 30_000, 200);
      for (const r of routesProto17(`${P}n${i}`)) expect(r.gateway).toBe(ip(Number(r.dst.split('.')[2])));
    }
  });

  it('pods on different nodes talk without NAT over the BGP-learned routes', async () => {
    const a = addPod(`${P}n1`, `${P}p1`, join(dir, 'n1', '10-kuberouter.conflist'), join(dir, 'ipam1'));
    const b = addPod(`${P}n3`, `${P}p3`, join(dir, 'n3', '10-kuberouter.conflist'), join(dir, 'ipam3'));
    const server = spawnIn(`${P}p3`, 'socat', ['TCP-LISTEN:8080,reuseaddr,fork', 'SYSTEM:echo $SOCAT_PEERADDR']);
    try {
      expect(await waitFor('reply', () => nsTry(`${P}p1`, 'nc', ['-w', '2', '-N', b, '8080']).out.trim())).toBe(a);
    } finally {
      server.kill();
    }
  });

  it('the BIRD ToR learns every pod CIDR and the cluster IP, and reaches pods through the owning node', async () => {
    await waitFor('bird routes', () => {
      const out = birdc('show route');
      return [1, 2, 3].every((i) => out.includes(cidr(i))) && out.includes('10.96.7.7/32');
    }, 30_000, 300);
    // Each pod CIDR only via its owning node (nodes do not re-export each other's CIDRs outside).
    const kernel = JSON.parse(nsRun(`${P}tor`, 'ip', ['-j', 'route', 'show', 'proto', 'bird'])) as { dst: string; gateway?: string }[];
    for (const i of [1, 2, 3]) expect(kernel.find((r) => r.dst === cidr(i))?.gateway).toBe(ip(i));
    // The cluster IP is ECMP over every node.
    expect(nsRun(`${P}tor`, 'ip', ['route', 'show', '10.96.7.7']).match(/nexthop via/g)).toHaveLength(3);
    expect(nsTry(`${P}tor`, 'ping', ['-c', '1', '-W', '2', '10.247.3.2']).ok).toBe(true);
    // Service VIPs go only to external peers: no node installs the cluster IP.
    for (const i of [1, 2, 3]) expect(routesProto17(`${P}n${i}`).map((r) => r.dst)).not.toContain('10.96.7.7/32');
  });

  it('a deleted node\'s routes disappear from every node and the ToR', async () => {
    await agents.get('n2')!.stop('SIGKILL');
    writeClusterFile(clusterFile, { nodes: nodes.filter((n) => n.name !== 'n2'), services: [service] });
    for (const n of ['n1', 'n3']) await waitFor(`${n} drops n2 route`, () => !routesProto17(`${P}${n}`).some((r) => r.dst === cidr(2)), 30_000, 200);
    await waitFor('tor drops n2 route', () => !birdc('show route').includes(cidr(2)), 30_000, 300);
    await new Promise((r) => setTimeout(r, 2500));
    expect(routesProto17(`${P}n1`).map((r) => r.dst)).toEqual([cidr(3)]);
  });

  it('route reflector roles: clients peer only with the reflector and still learn each other', async () => {
    const ann = (i: number): Record<string, string> => (i === 1 ? { 'kube-router.io/rr.server': '42' } : { 'kube-router.io/rr.client': '42' });
    nodes = [1, 2, 3].map((i) => testNode(`n${i}`, ip(i), [cidr(i)], ann(i)));
    writeClusterFile(clusterFile, { nodes, services: [service] });
    startAgent('n2', `${P}n2`);
    await waitFor('n2 peers only with n1 (and the ToR)', () => {
      const s = agents.get('n2')!.status();
      return s && s.peers.map((p) => p.address).sort().join() === [ip(1), TOR].sort().join() && s.peers.every((p) => p.state === 'Established');
    }, 30_000, 200);
    await waitFor('n3 drops its direct session to n2', () => !agents.get('n3')!.status()!.peers.some((p) => p.address === ip(2)), 30_000, 200);
    // n2 learns n3's CIDR only by reflection through n1; the next hop stays n3.
    const r = await waitFor('n2 route to n3 pods', () => routesProto17(`${P}n2`).find((x) => x.dst === cidr(3)), 30_000, 200);
    expect(r.gateway).toBe(ip(3));
  });
});
