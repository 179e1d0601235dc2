// Lab figures: `up` of 3 nodes, the conformance cluster ready, a 9x9 matrix on 4 port/protocol pairs,
// 3 nodes x 50 pods (time and memory), and `down` (and that it leaves nothing).
//   npx tsx bench/lab.ts [--agents] [--uml] [--pods-per-node 50]
// With --agents each node runs dist/cli/main.js with --run-service-proxy=false (this kernel has no IPVS);
// --uml runs the default lab (all three controllers) in user-mode Linux (memory is then not broken down).
//
//   KRT_EXEC_TRACE=1 npx tsx bench/lab.ts --up-runs 3 [--nodes 3]
// only times the default `lab up` (all three controllers; user-mode Linux where the host lacks IPVS) to all
// nodes healthy, then `down`, run after run: min/median/max, the phases from the lab's logs, the UML
// kernel's CPU seconds and (with KRT_EXEC_TRACE=1) the commands the agents ran. Needs `npm run build`.
// KRT_BENCH_KEEP_LOGS=<dir> copies each agent's log there (as <node>.log) before `down` removes it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../src/lab/index.js';
import { runConformance } from '../src/lab/conformance.js';
import { downLab } from '../src/lab/down.js';
import { R } from '../src/lab/kube.js';
import { netnsList, netnsPids } from '../src/lab/sh.js';

import { printRuns, upRun, type UpRun } from './lib/lab-up.js';

const args = process.argv.slice(2);
const uml = args.includes('--uml');
const agents = args.includes('--agents') || uml;
const i = args.indexOf('--pods-per-node');
const perNode = i >= 0 ? Number(args[i + 1]) : 50;
const NAME = 'bench';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;

function pssKB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function labMemory(): Promise<{ processes: number; pssMB: number; byKind: Record<string, number> }> {
  const pids = new Set<number>([process.pid]);
  for (const ns of (await netnsList()).filter((n) => n.startsWith(PREFIX))) for (const p of await netnsPids(ns)) pids.add(p);
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const pid of pids) {
    const kb = pssKB(pid);
    total += kb;
    let kind = 'supervisor (this process: API server, kubelet, controllers)';
    if (pid !== process.pid) {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      kind = cmd.includes('pod-agent') ? 'pod agents' : cmd.includes('socat') ? 'socat forwarders' : cmd.includes('cli/main.js') ? 'node agents' : 'other';
    }
    byKind[kind] = (byKind[kind] ?? 0) + kb / 1024;
  }
  return { processes: pids.size, pssMB: total / 1024, byKind };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  await downLab({ stateDir: STATE, prefix: PREFIX });
  const t0 = Date.now();
  const lab = await Lab.up({ name: NAME, nodes: 3, agents, agentFlags: agents && !uml ? ['--run-service-proxy=false'] : [], kernel: uml ? 'uml' : 'host' });
  const tUp = Date.now() - t0;
  console.log(`up, 3 nodes${agents ? ' with agents' : ' without agents'} (${lab.state.kernel} kernel): ${fmt(tUp)}`);
  try {
    // The conformance cluster: 9 pods, 4 ports each. Pods on one node unless a router gives cross-node routes.
    const nodes = agents ? undefined : ['lab-node-1'];
    const rep = await runConformance(lab, join(import.meta.dirname ?? '.', '..', 'test', 'conformance', 'lab'), {
      ...(nodes ? { nodes } : {}),
      only: ['derived-no-policies-everything-reachable'],
      stepTimeoutMs: 20_000,
    });
    console.log(`conformance cluster ready (9 pods running with IPs): ${fmt(rep.setupMs)} after up; up + cluster: ${fmt(tUp + rep.setupMs)}`);
    console.log(`no-policy case (one 9x9 matrix x 4 port/protocol pairs, retried until match): ${rep.cases[0]?.status} in ${fmt(rep.cases[0]?.ms ?? 0)}`);
    const ips: Record<string, string> = {};
    for (const ns of ['x', 'y', 'z']) for (const p of ['a', 'b', 'c']) {
      const o = await lab.client.get(R.pods, ns, p);
      ips[`${ns}/${p}`] = o['status']['podIP'];
    }
    const pods = Object.keys(ips);
    for (const blocked of [false, true]) {
      const t1 = Date.now();
      const port = blocked ? 82 : 80; // 82 is served by nobody: every TCP probe is refused, UDP ones time out
      const res = await Promise.all(
        (['TCP', 'UDP'] as const).flatMap((proto) => [port, port + 1].map((p) => lab.matrix(pods, ips, p, proto, 1000))),
      );
      const ok = res.flatMap((m) => Object.values(m).flatMap((r) => Object.values(r))).filter(Boolean).length;
      console.log(`matrix 9x9 x 4 pairs (${blocked ? 'all refused/unanswered' : 'all reachable'}): ${fmt(Date.now() - t1)} (${ok}/324 allowed)`);
    }
    if (uml) return;
    const m0 = await labMemory();
    console.log(`memory with the 9-pod cluster: ${m0.pssMB.toFixed(0)} MB PSS in ${m0.processes} processes`);
    if (perNode <= 0) return;

    const t2 = Date.now();
    const keys: string[] = [];
    for (let n = 0; n < 3; n++) {
      for (let i = 0; i < perNode; i++) {
        const name = `s-${n + 1}-${i}`;
        keys.push(`default/${name}`);
        await lab.client.create(R.pods, 'default', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, labels: { app: 'scale' } },
          spec: { nodeName: `lab-node-${n + 1}`, containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'UDP' }] }] },
        });
      }
    }
    await lab.waitForPods(keys, 600_000);
    console.log(`3 nodes x ${perNode} pods running (plus the 9): ${fmt(Date.now() - t2)}`);
    const m = await labMemory();
    console.log(`memory, ${keys.length + 9} pods: ${m.pssMB.toFixed(0)} MB PSS in ${m.processes} processes`);
    for (const [k, v] of Object.entries(m.byKind)) console.log(`  ${k}: ${v.toFixed(0)} MB`);
    const t3 = Date.now();
    const first = keys[0] as string;
    const targets = keys.slice(0, 150).map((k) => ({ ip: '', key: k }));
    const st = await lab.status();
    const res = await lab.probeMany(first, targets.map((t) => ({ ip: st.state.pods[t.key]?.ip ?? '0.0.0.0', port: 80, proto: 'TCP' as const })), 2000);
    console.log(`one pod -> 150 pods (TCP 80, same and other nodes): ${fmt(Date.now() - t3)}, ${res.filter(Boolean).length} reached`);
  } finally {
    const t4 = Date.now();
    await lab.down();
    const left = (await netnsList()).filter((n) => n.startsWith(PREFIX));
    console.log(`down: ${fmt(Date.now() - t4)}; namespaces left: ${left.length}`);
  }
}

const upRuns = args.indexOf('--up-runs');
if (upRuns >= 0) {
  const n = Number(args[upRuns + 1] ?? 3);
  const ni = args.indexOf('--nodes');
  const nodes = ni >= 0 ? Number(args[ni + 1]) : 3;
  const runs: UpRun[] = [];
  for (let r = 0; r < n; r++) {
    const run = await upRun({ name: NAME, stateDir: STATE, prefix: PREFIX, nodes });
    console.log(`run ${r + 1}: up ${fmt(run.upMs)} (${run.healthy ? 'all healthy' : 'NOT all healthy'}), down ${fmt(run.downMs)}${run.umlCpuS !== undefined ? `, UML CPU ${run.umlCpuS.toFixed(1)} s` : ''}`);
    runs.push(run);
  }
  printRuns(runs, nodes);
} else await main();
