// The firewall compile alone, cold: in each of RUNS fresh processes, one FirewallCompiler over the
// synthetic cluster (bench/netpol-cluster.ts), then the render of its plan as the iptables and nft
// appliers do it; printed as the median (and range) of the runs, wall and CPU time (CPU includes V8's
// compiler and GC threads). A fresh process because a second compile in the same one runs on warm code
// (and policies compiled once are remembered by object): the agent pays the cold one at start.
// Profile one: `node --cpu-prof --import tsx bench/netpol-compile.ts --child`.
// Run: npx tsx bench/netpol-compile.ts [--runs 7] [--pods 5000] [--namespaces 100] [--policies 1000]
import { execFileSync } from 'node:child_process';
import { buildCluster, OPTS } from './netpol-cluster.js';
import { FirewallCompiler } from '../src/controllers/firewall/compile/compiler.js';
import { renderChain } from '../src/controllers/firewall/apply/render.js';
import { nftChainRules, nftElements } from '../src/controllers/firewall/apply/nft-render.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}

interface Sample {
  compile: number;
  compileCpu: number;
  render: number;
  nft: number;
}

function child(): Sample {
  const s = buildCluster(Number(arg('pods', '5000')), Number(arg('namespaces', '100')), Number(arg('policies', '1000')));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const plan = new FirewallCompiler(OPTS).update(s).plan;
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  for (const rules of plan.tables.get(4)!.chains.values()) renderChain(rules);
  const t2 = performance.now();
  for (const rules of plan.tables.get(4)!.chains.values()) nftChainRules(rules, 4);
  for (const spec of plan.sets.values()) nftElements(spec);
  const t3 = performance.now();
  return { compile: t1 - t0, compileCpu: (c1.user + c1.system) / 1000, render: t2 - t1, nft: t3 - t2 };
}

if (process.argv.includes('--child')) console.log(JSON.stringify(child()));
else {
  const runs: Sample[] = [];
  for (let i = 0; i < Number(arg('runs', '7')); i++) {
    const out = execFileSync(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2), '--child'], { encoding: 'utf8' });
    runs.push(JSON.parse(out) as Sample);
  }
  const stat = (f: (s: Sample) => number): string => {
    const xs = runs.map(f).sort((a, b) => a - b);
    return `${xs[Math.floor(xs.length / 2)]!.toFixed(1)} ms [${xs[0]!.toFixed(0)}-${xs[xs.length - 1]!.toFixed(0)}]`;
  };
  console.log(`cold compile ${stat((r) => r.compile)} (CPU ${stat((r) => r.compileCpu)}), iptables render ${stat((r) => r.render)}, nft render ${stat((r) => r.nft)}; median [min-max] of ${runs.length} processes`);
}
