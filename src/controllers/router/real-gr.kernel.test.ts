// Graceful restart with the real speaker: an agent is killed (SIGKILL, a crash) and restarted during a
// long pod-to-pod transfer. Neither node may lose a pod route at any moment, and the transfer completes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realSpeakerAvailable, spawnAgent, type AgentProcess } from '../../testing/router/agents.js';
import { writeClusterFile } from '../../testing/router/file-cluster.js';
import { testNode } from '../../testing/router/memory-cluster.js';
import { addPod, createUnderlay, deleteNetnsWithPrefix, nsTry, routesProto17, spawnIn } from '../../testing/router/netns.js';
import { waitFor } from '../../testing/wait.js';

const P = 'krt-rt-s-';
const available = await realSpeakerAvailable();
if (!available) console.warn('real-gr.kernel.test.ts skipped: src/bgp/index.ts does not export createSpeaker yet');
let dir = '';
const agents: AgentProcess[] = [];
const monitors: ChildProcess[] = [];
const opts = (n: string) => ({
  bgpGracefulRestart: true, bgpGracefulRestartTimeMs: 60_000, bgpGracefulRestartDeferralTimeMs: 30_000, bgpHoldtimeMs: 9000,
  injectedRoutesSyncPeriodMs: 500, cniConfFile: join(dir, n, '10-kuberouter.conflist'),
});
function monitor(ns: string): () => string {
  const proc = spawnIn(ns, 'ip', ['monitor', 'route']);
  monitors.push(proc);
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => { buf += d.toString(); });
  return () => buf;
}

describe.skipIf(!available)('real BGP graceful restart', () => {
  beforeAll(() => {
    deleteNetnsWithPrefix(P);
    dir = mkdtempSync(join(tmpdir(), P));
    const ul = createUnderlay(P);
    ul.addNode('n1', '172.31.4.11/24');
    ul.addNode('n2', '172.31.4.12/24');
    writeClusterFile(join(dir, 'cluster.json'), { nodes: [testNode('n1', '172.31.4.11', ['10.249.1.0/24']), testNode('n2', '172.31.4.12', ['10.249.2.0/24'])] });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    monitors.forEach((m) => m.kill());
    deleteNetnsWithPrefix(P);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a crashed and restarted agent drops no route and a long transfer survives', async () => {
    const cluster = join(dir, 'cluster.json');
    agents.push(spawnAgent(`${P}n1`, cluster, 'n1', dir, opts('n1')), spawnAgent(`${P}n2`, cluster, 'n2', dir, opts('n2')));
    await waitFor('routes both ways', () => routesProto17(`${P}n1`).length === 1 && routesProto17(`${P}n2`).length === 1, 30_000, 200);
    addPod(`${P}n1`, `${P}p1`, opts('n1').cniConfFile, join(dir, 'ipam1'));
    const b = addPod(`${P}n2`, `${P}p2`, opts('n2').cniConfFile, join(dir, 'ipam2'));
    const server = spawnIn(`${P}p2`, 'socat', ['-u', 'TCP-LISTEN:9000,reuseaddr', 'SYSTEM:wc -c']);
    let received = '';
    server.stdout!.on('data', (d: Buffer) => { received += d.toString(); });
    await new Promise((r) => setTimeout(r, 300));
    const m1 = monitor(`${P}n1`), m2 = monitor(`${P}n2`);
    // 100 x 10 kB over ~10 s.
    const client = spawnIn(`${P}p1`, 'sh', ['-c', `for i in $(seq 1 100); do head -c 10000 /dev/zero; sleep 0.1; done | nc -N ${b} 9000`]);
    const clientDone = new Promise<number>((r) => client.on('exit', (c) => r(c ?? 1)));
    await new Promise((r) => setTimeout(r, 1000));
    await agents[0]!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    agents.push(spawnAgent(`${P}n1`, cluster, 'n1', dir, opts('n1')));
    const restarted = agents[2]!;
    await waitFor('restarted agent peered again', () => restarted.status()?.peers.every((p) => p.state === 'Established') && restarted.status()!.peers.length === 1, 30_000, 200);
    expect(await clientDone).toBe(0);
    await waitFor('server done', () => received.trim() !== '', 5000);
    expect(Number(received.trim())).toBe(1_000_000);
    await waitFor('hold over', () => restarted.status()?.routesHeldForGracefulRestart === false, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(m1()).not.toMatch(/Deleted 10\.249\./);
    expect(m2()).not.toMatch(/Deleted 10\.249\./);
    expect(routesProto17(`${P}n1`).map((r) => r.dst)).toEqual(['10.249.2.0/24']);
    expect(routesProto17(`${P}n2`).map((r) => r.dst)).toEqual(['10.249.1.0/24']);
    expect(nsTry(`${P}p1`, 'ping', ['-c', '1', '-W', '2', b]).ok).toBe(true);
  });

  it('without graceful restart, a crashed agent restarted by hand keeps its own routes (no delete + re-add)', async () => {
    for (const a of agents.splice(0)) await a.stop('SIGKILL');
    const cluster = join(dir, 'cluster.json');
    const plain = (n: string) => ({ bgpHoldtimeMs: 9000, injectedRoutesSyncPeriodMs: 500, cniConfFile: join(dir, n, '10-kuberouter.conflist') });
    agents.push(spawnAgent(`${P}n1`, cluster, 'n1', dir, plain('n1')), spawnAgent(`${P}n2`, cluster, 'n2', dir, plain('n2')));
    await waitFor('peered', () => agents.every((a) => a.status()?.peers.every((p) => p.state === 'Established') && a.status()!.peers.length === 1), 30_000, 200);
    await waitFor('routes both ways', () => routesProto17(`${P}n1`).length === 1 && routesProto17(`${P}n2`).length === 1, 30_000, 200);
    const m1 = monitor(`${P}n1`);
    await agents[0]!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    agents.push(spawnAgent(`${P}n1`, cluster, 'n1', dir, plain('n1')));
    const restarted = agents[2]!;
    await waitFor('restarted agent peered again', () => restarted.status()?.peers.every((p) => p.state === 'Established') && restarted.status()!.peers.length === 1, 30_000, 200);
    await waitFor('hold over', () => restarted.status()?.routesHeldForGracefulRestart === false, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    // The peer (n2) drops n1's route while n1 is down: that is BGP without graceful restart. But n1's own
    // route to n2's pods was right all along and must not be deleted while the new speaker relearns it.
    expect(m1()).not.toMatch(/Deleted 10\.249\.2\.0\/24/);
    expect(routesProto17(`${P}n1`).map((r) => r.dst)).toEqual(['10.249.2.0/24']);
  });
});
