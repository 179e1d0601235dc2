// Figures for the command line and the agent's start: flag parsing cost, process start for -V and
// --help, and time from runAgent() to a 200 from /healthz with an in-memory cluster.
// Run: npx tsx bench/cli.ts

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseAgentArgs } from '../src/cli/parse.js';
import { runAgent } from '../src/agent/agent.js';
import { emptySnapshot } from '../src/agent/cluster.js';
import { createLogger } from '../src/observe/logger.js';
import { freePort, MemoryLog } from '../src/testing/observe.js';

const ARGV = [
  '--kubeconfig=/etc/kube/config', '--run-router', '--run-firewall', '--run-service-proxy=false',
  '--bgp-graceful-restart', '--iptables-sync-period=1m', '--service-cluster-ip-range=10.96.0.0/12,fd00::/108',
  '--peer-router-ips=192.0.2.1,192.0.2.2', '--peer-router-asns=65001,65002', '-v', '1',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const N = 20_000;
let t = performance.now();
for (let i = 0; i < N; i++) parseAgentArgs(ARGV);
console.log(`parseAgentArgs (${ARGV.length} args): ${(((performance.now() - t) / N) * 1000).toFixed(1)} µs per call`);

const entry = existsSync('dist/cli/main.js') ? ['dist/cli/main.js'] : ['--import', 'tsx', 'src/cli/main.ts'];
for (const args of [['-V'], ['--help'], ['--bgp-holdtime=1s']]) {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = performance.now();
    spawnSync(process.execPath, [...entry, ...args]);
    runs.push(performance.now() - t);
  }
  console.log(`kube-router ${args.join(' ')} (${entry.at(-1)}): median ${median(runs).toFixed(0)} ms over 5 runs`);
}

const port = await freePort();
const out = parseAgentArgs(['--health-addr=127.0.0.1', `--health-port=${port}`, '--hostname-override=n1']);
if (out.kind !== 'run') throw new Error('no config');
const abort = new AbortController();
t = performance.now();
const done = runAgent(out.config, {
  log: createLogger({ verbosity: 0, destination: new MemoryLog() }),
  factories: {},
  signal: abort.signal,
  clusterStore: async () => ({
    snapshot: emptySnapshot,
    subscribe: () => () => {},
    whenSynced: async () => {},
    start: () => {},
    stop: async () => {},
  }),
});
for (;;) {
  const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
  if (ok) break;
  await new Promise((r) => setTimeout(r, 2));
}
console.log(`runAgent() to first 200 from /healthz: ${(performance.now() - t).toFixed(1)} ms`);
t = performance.now();
abort.abort();
await done;
console.log(`stop (abort to runAgent resolved): ${(performance.now() - t).toFixed(1)} ms`);
