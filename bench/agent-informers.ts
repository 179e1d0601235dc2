// How fast does an agent's cluster store get a complete model of a large cluster, and at what memory cost?
// Loads the project's API server (in its own child process) with 10k pods (with IPs), 5k services and 5k
// EndpointSlices x 10 endpoints = 50k endpoints, then starts createClusterStore in a third process (so the
// RSS printed is the agent's alone) and prints the time until whenSynced() and the model counts match.
// Targets: < 3 s and < 300 MB RSS.
//   npx tsx bench/agent-informers.ts [--pods N] [--services N] [--runs N]
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSyntheticCluster, serveIfAsked, spawnApiServer } from './lib/synthetic-cluster.js';

const args = process.argv.slice(2);
const num = (flag: string, d: number) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');

/**
 * The agent runs as compiled JavaScript under plain node, as in production: tsx would add ~170 MB of its own
 * (esbuild, transpile caches) to the RSS we want to measure. Compiles src/watch (and src/model) with tsc into
 * node_modules/.cache so package imports resolve, and writes a small entry script beside it.
 */
function buildAgent(): string {
  const out = join(root, 'node_modules', '.cache', 'krt-bench-agent');
  rmSync(out, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--outDir', out, '--rootDir', join(root, 'src'), '--target', 'ES2022',
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--strict', '--skipLibCheck', '--esModuleInterop', '--types', 'node',
      join(root, 'src', 'watch', 'index.ts')],
    { stdio: 'inherit' },
  );
  if (tsc.status !== 0) throw new Error('tsc failed for the agent build');
  const entry = join(out, 'agent.mjs');
  writeFileSync(entry, AGENT_JS);
  return entry;
}

/** The agent side, one JSON line on stdout. Plain JS because it runs without a TypeScript loader. */
const AGENT_JS = `
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createClusterStore, loadKubeConfig } from './watch/index.js';
const [url, pods, services, slices] = process.argv.slice(2);
const rssStart = process.memoryUsage().rss;
const t0 = performance.now();
const store = createClusterStore({
  kubeConfig: loadKubeConfig({ master: url }),
  log: pino({ level: 'warn' }),
  metrics: new Registry(),
  kinds: ['Pod', 'Service', 'EndpointSlice'],
});
await store.whenSynced();
const syncedMs = performance.now() - t0;
let snap = store.snapshot();
while (snap.pods.size < +pods || snap.services.size < +services || snap.endpointSlices.size < +slices) {
  await new Promise((r) => setTimeout(r, 5));
  snap = store.snapshot();
}
const completeMs = performance.now() - t0;
const t1 = performance.now();
store.snapshot();
const cachedSnapshotUs = (performance.now() - t1) * 1000;
let endpoints = 0;
for (const s of snap.endpointSlices.values()) endpoints += s.endpoints.length;
const rssSynced = process.memoryUsage().rss;
await new Promise((r) => setTimeout(r, 1000));
const mem = process.memoryUsage();
await store.stop();
const MB = (b) => Math.round(b / 1e6);
process.stdout.write(JSON.stringify({
  syncedMs: Math.round(syncedMs), completeMs: Math.round(completeMs), pods: snap.pods.size, services: snap.services.size,
  slices: snap.endpointSlices.size, endpoints, cachedSnapshotUs: Math.round(cachedSnapshotUs), rssStartMB: MB(rssStart),
  rssSyncedMB: MB(rssSynced), rssAfter1sMB: MB(mem.rss), heapUsedMB: MB(mem.heapUsed),
}) + '\\n');
process.exit(0);
`;

async function main(): Promise<void> {
  const PODS = num('--pods', 10_000);
  const SVCS = num('--services', 5_000);
  const RUNS = num('--runs', 3);
  const { url, child: server } = await spawnApiServer(self);
  await loadSyntheticCluster(url, { pods: PODS, services: SVCS });

  // Count what the server really holds (it may add default objects), so "complete" means complete.
  const count = async (path: string) => ((await (await fetch(`${url}${path}`)).json()) as { items: unknown[] }).items.length;
  const expectPods = await count('/api/v1/pods');
  const expectServices = await count('/api/v1/services');
  const expectSlices = await count('/apis/discovery.k8s.io/v1/endpointslices');
  console.log(`server holds ${expectPods} pods, ${expectServices} services, ${expectSlices} endpointslices`);
  const entry = buildAgent();
  for (let run = 1; run <= RUNS; run++) {
    const child = spawn(process.execPath, [entry, url, String(expectPods), String(expectServices), String(expectSlices)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const out = await new Promise<string>((resolve) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => (buf += d.toString()));
      child.on('exit', () => resolve(buf));
    });
    const r = JSON.parse(out.trim()) as Record<string, number>;
    console.log(
      `agent run ${run}: model complete in ${r['completeMs']} ms (whenSynced ${r['syncedMs']} ms); ` +
        `${r['pods']} pods, ${r['services']} services, ${r['slices']} slices / ${r['endpoints']} endpoints; ` +
        `RSS ${r['rssSyncedMB']} MB at sync, ${r['rssAfter1sMB']} MB 1 s later (heap ${r['heapUsedMB']} MB, ` +
        `process start ${r['rssStartMB']} MB); cached snapshot() ${r['cachedSnapshotUs']} us`,
    );
  }
  console.log('targets: complete < 3000 ms, RSS < 300 MB');
  server.kill('SIGTERM');
}

// Dispatch last: top-level await must not run before the constants above are initialized.
if (!(await serveIfAsked(args))) await main();
