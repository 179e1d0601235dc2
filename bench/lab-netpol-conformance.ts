// NetworkPolicy conformance figures per iptables backend: a 3-node lab with real agents (router + firewall,
// proxy off), every case of ../shared/conformance/netpol and test/conformance/netpol, and where the time
// goes (lab up, cluster setup, per case: firewall sync waits, probing, probe rounds; down).
//   npm run build && npx tsx bench/lab-netpol-conformance.ts [--backend nft|legacy] [--probe-timeout 1000]
import { join } from 'node:path';
import { Lab } from '../src/lab/index.js';
import { runConformance, type CaseResult } from '../src/lab/conformance.js';
import { downLab } from '../src/lab/down.js';

const args = process.argv.slice(2);
const arg = (n: string): string | undefined => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : undefined);
const backends = arg('--backend') ? [arg('--backend') as 'nft' | 'legacy'] : (['nft', 'legacy'] as const);
const probeTimeoutMs = Number(arg('--probe-timeout') ?? 1000);
const ROOT = join(import.meta.dirname ?? '.', '..');
const DIRS = [join(ROOT, '..', 'shared', 'conformance', 'netpol'), join(ROOT, 'test', 'conformance', 'netpol')];
const NAME = 'bench';
const loc = { stateDir: `/run/kube-router-lab-${NAME}`, prefix: `krlab-${NAME}-` };
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

let total = 0;
for (const backend of backends) {
  await downLab(loc);
  const t0 = Date.now();
  const lab = await Lab.up({ name: NAME, nodes: 3, iptables: backend, agentFlags: ['--run-service-proxy=false'] });
  const tUp = Date.now() - t0;
  const cases: CaseResult[] = [];
  let setupMs = 0;
  try {
    for (const dir of DIRS) {
      const r = await runConformance(lab, dir, { probeTimeoutMs, stepTimeoutMs: 30_000 });
      setupMs += r.setupMs;
      cases.push(...r.cases);
    }
  } finally {
    const d0 = Date.now();
    await lab.down();
    const tDown = Date.now() - d0;
    const sum = (f: (c: CaseResult) => number) => cases.reduce((a, c) => a + f(c), 0);
    const all = Date.now() - t0;
    total += all;
    console.log(`iptables ${backend}: ${cases.filter((c) => c.status === 'pass').length}/${cases.length} cases pass`);
    console.log(`  up ${s(tUp)}, cluster setup ${s(setupMs)}, cases ${s(sum((c) => c.ms))} (sync waits ${s(sum((c) => c.timings?.syncWaitMs ?? 0))}, probing ${s(sum((c) => c.timings?.probeMs ?? 0))}, ${sum((c) => c.timings?.rounds ?? 0)} probe rounds), down ${s(tDown)}; total ${s(all)}`);
    const slow = [...cases].sort((a, b) => b.ms - a.ms).slice(0, 5);
    console.log(`  slowest: ${slow.map((c) => `${c.name} ${s(c.ms)} (${c.timings?.rounds ?? 0} rounds)`).join('; ')}`);
    for (const c of cases.filter((x) => x.status !== 'pass')) console.log(`  ${c.status.toUpperCase()} ${c.name}: ${c.error ?? `${c.diffs?.length} cells differ`}`);
  }
}
console.log(`both backends: ${s(total)}`);
