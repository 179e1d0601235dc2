// Routing convergence on a simulated cluster: N "nodes" (network namespaces on one L2 underlay), each
// running the routing controller against the real kernel. Two modes:
//   --speaker memory (default): every controller in this process, peered through the in-memory BGP
//     network (testing/memory-bgp.ts): measures the controller + kernel apply path alone;
//   --speaker real: every node's agent is its own process in its netns with the real src/bgp speaker
//     (TCP sessions, full iBGP mesh): the end-to-end figure, agent process start-up included.
// Prints: time from a node's agent start to every other node holding its route (kernel, proto 17), and
// from the node's deletion to its route gone everywhere.
// Run: npx tsx bench/routing.ts [--nodes 20] [--rounds 3] [--speaker memory|real]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBgpNetwork } from '../src/testing/router/memory-bgp.js';
import { TestClusterView, testNode } from '../src/testing/router/memory-cluster.js';
import { startNodeAgent } from '../src/testing/router/harness.js';
import { spawnAgent } from '../src/testing/router/agents.js';
import { writeClusterFile } from '../src/testing/router/file-cluster.js';
import type { NodeModel } from '../src/model/types.js';
import { createUnderlay, deleteNetnsWithPrefix, routesProto17, sh } from '../src/testing/router/netns.js';
import { waitFor } from '../src/testing/wait.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = Math.max(3, arg('nodes', 20));
const ROUNDS = arg('rounds', 3);
const REAL = process.argv.includes('real');
const P = 'krt-rt-b-';
const ip = (i: number) => `172.31.2.${10 + i}`;
const cidr = (i: number) => `10.246.${i}.0/24`;

interface Watch { proc: ChildProcess; seen: Map<string, number> }
/** Timestamps the first "add" and "Deleted" line of each prefix in one node's route monitor. */
function watchRoutes(ns: string): Watch {
  const proc = spawn('ip', ['-n', ns, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const seen = new Map<string, number>();
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const now = performance.now();
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const m = /^(Deleted )?(10\.246\.\d+\.0\/24) /.exec(l);
      if (m) {
        const key = `${m[1] ? 'del' : 'add'} ${m[2]}`;
        if (!seen.has(key)) seen.set(key, now);
      }
    }
  });
  return { proc, seen };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  deleteNetnsWithPrefix(P);
  const cluster = new TestClusterView();
  const net = new MemoryBgpNetwork();
  const ul = createUnderlay(P);
  const dir = mkdtempSync(join(tmpdir(), 'krt-rt-bench-'));
  const clusterFile = join(dir, 'cluster.json');
  const members = new Map<string, NodeModel>();
  const agents = new Map<number, { start(): Promise<void>; stop(): Promise<void>; cleanup(): Promise<void> }>();
  const watches = new Map<number, Watch>();
  const opts = { routesSyncPeriodMs: 300_000, injectedRoutesSyncPeriodMs: 60_000 };
  const setNode = (n: NodeModel) => {
    members.set(n.name, n);
    if (REAL) writeClusterFile(clusterFile, { nodes: [...members.values()] }); else cluster.setNode(n);
  };
  const deleteNode = (name: string) => {
    members.delete(name);
    if (REAL) writeClusterFile(clusterFile, { nodes: [...members.values()] }); else cluster.deleteNode(name);
  };
  const start = (i: number) => {
    if (REAL) {
      const a = spawnAgent(`${P}n${i}`, clusterFile, `n${i}`, dir, { ...opts, cniConfFile: join(dir, `n${i}`, '10-kuberouter.conflist') });
      const h = { start: async () => undefined, stop: () => a.stop(), cleanup: async () => undefined };
      agents.set(i, h);
      return h;
    }
    const a = startNodeAgent({ nodeName: `n${i}`, netns: `${P}n${i}`, cluster, speakerFactory: (o) => net.createSpeaker(o), cniDir: join(dir, `n${i}`), opts });
    const h = { start: () => a.controller.start(), stop: () => a.controller.stop(), cleanup: () => a.controller.cleanup() };
    agents.set(i, h);
    return h;
  };
  try {
    for (let i = 1; i <= N; i++) ul.addNode(`n${i}`, `${ip(i)}/24`);
    const t0 = performance.now();
    for (let i = 1; i < N; i++) setNode(testNode(`n${i}`, ip(i), [cidr(i)]));
    await Promise.all([...Array(N - 1).keys()].map((k) => start(k + 1).start()));
    await waitFor('initial mesh', () => [...agents.keys()].every((i) => routesProto17(`${P}n${i}`).length === N - 2), 180_000, 250);
    console.log(`cluster: ${N} nodes (${N - 1} initially), ${REAL ? 'real BGP speakers (one agent process per netns, full iBGP mesh)' : 'in-memory BGP, controllers in one process'}, real kernel routes; initial mesh converged in ${fmt(performance.now() - t0)}`);
    for (let i = 1; i < N; i++) watches.set(i, watchRoutes(`${P}n${i}`));
    await new Promise((r) => setTimeout(r, 300));

    const joinAll: number[] = [], joinP50: number[] = [], leaveAll: number[] = [], leaveP50: number[] = [], selfFull: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const target = cidr(N);
      for (const w of watches.values()) w.seen.clear();
      // Join: the node appears and its agent starts.
      const tj = performance.now();
      setNode(testNode(`n${N}`, ip(N), [cidr(N)]));
      const a = start(N);
      await a.start();
      await waitFor('route everywhere', () => [...watches.values()].every((w) => w.seen.has(`add ${target}`)), 60_000, 20);
      const joins = [...watches.values()].map((w) => w.seen.get(`add ${target}`)! - tj);
      joinAll.push(Math.max(...joins));
      joinP50.push(pct(joins, 50));
      await waitFor('new node has every route', () => routesProto17(`${P}n${N}`).length === N - 1, 60_000, 20);
      selfFull.push(performance.now() - tj);
      // Leave: the Node object is deleted (its agent goes with it).
      const tl = performance.now();
      deleteNode(`n${N}`);
      await a.stop();
      await waitFor('route gone everywhere', () => [...watches.values()].every((w) => w.seen.has(`del ${target}`)), 60_000, 20);
      const leaves = [...watches.values()].map((w) => w.seen.get(`del ${target}`)! - tl);
      leaveAll.push(Math.max(...leaves));
      leaveP50.push(pct(leaves, 50));
      await a.cleanup();
      agents.delete(N);
      // The next round's agent finds no leftovers of this one.
      for (const r of routesProto17(`${P}n${N}`)) sh('ip', ['-n', `${P}n${N}`, 'route', 'del', r.dst, 'proto', '17']);
      console.log(`round ${round}: join -> route on all ${N - 1} nodes ${fmt(joinAll.at(-1)!)} (p50 ${fmt(joinP50.at(-1)!)}); new node holds all ${N - 1} routes after ${fmt(selfFull.at(-1)!)}; delete -> route gone on all ${fmt(leaveAll.at(-1)!)} (p50 ${fmt(leaveP50.at(-1)!)})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const med = (xs: number[]) => pct(xs, 50);
    console.log(`\nsummary over ${ROUNDS} rounds (median of rounds):`);
    console.log(`  node agent start -> its route on every other node: ${fmt(med(joinAll))} (per-node p50 ${fmt(med(joinP50))})`);
    console.log(`  node agent start -> it holds every other node's route: ${fmt(med(selfFull))}`);
    console.log(`  node deletion -> its route gone on every node:     ${fmt(med(leaveAll))} (per-node p50 ${fmt(med(leaveP50))})`);
  } finally {
    for (const w of watches.values()) w.proc.kill();
    for (const a of agents.values()) await a.stop().catch(() => undefined);
    deleteNetnsWithPrefix(P);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  deleteNetnsWithPrefix(P);
  process.exit(1);
});
