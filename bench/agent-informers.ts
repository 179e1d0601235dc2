// How fast does an agent's cluster store get a complete model of a large cluster, and at what memory cost?
// Loads the project's API server (in its own child process) with 10k pods (with IPs), 5k services and 5k
// EndpointSlices x 10 endpoints = 50k endpoints, then starts createClusterStore in a third process (so the
// RSS printed is the agent's alone) and prints the time until whenSynced() and the model counts match.
// Targets: < 3 s and < 300 MB RSS.
//   npx tsx bench/agent-informers.ts [--pods N] [--services N] [--runs N]
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const server = spawn(process.execPath, ['--import', 'tsx', self, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  process.on('exit', () => server.kill('SIGTERM'));
  const u = new URL(url);
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const call = (method: string, path: string, body: unknown, ct = 'application/json') =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: u.hostname, port: u.port, method, path, agent: httpAgent, headers: { 'Content-Type': ct } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  async function phase(label: string, n: number, make: (i: number) => [string, string, unknown, string?]): Promise<void> {
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < n) {
        const [m, p, b, ct] = make(next++);
        if ((await call(m, p, b, ct)) >= 300) failed++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    console.log(`load ${label.padEnd(26)} ${n} in ${((performance.now() - t0) / 1000).toFixed(1)} s${failed ? ` (${failed} FAILED)` : ''}`);
  }

  const nsCount = 50;
  const podIP = (i: number) => `10.${244 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
  await phase('namespaces', nsCount, (i) => ['POST', '/api/v1/namespaces', { metadata: { name: `ns-${i}` } }]);
  await phase('pods', PODS, (i) => [
    'POST',
    `/api/v1/namespaces/ns-${i % nsCount}/pods`,
    {
      metadata: { name: `pod-${i}`, labels: { app: `app-${i % SVCS}`, tier: i % 2 ? 'web' : 'db' } },
      spec: { nodeName: `node-${i % 100}`, containers: [{ name: 'c', image: 'busybox:1.36', ports: [{ name: 'http', containerPort: 8080 }] }] },
    },
  ]);
  await phase('pod status (IPs)', PODS, (i) => [
    'PATCH',
    `/api/v1/namespaces/ns-${i % nsCount}/pods/pod-${i}/status`,
    { status: { phase: 'Running', podIP: podIP(i), podIPs: [{ ip: podIP(i) }], hostIP: `192.168.0.${i % 100}` } },
    'application/merge-patch+json',
  ]);
  await phase('services', SVCS, (i) => [
    'POST',
    `/api/v1/namespaces/ns-${i % nsCount}/services`,
    { metadata: { name: `svc-${i}` }, spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  ]);
  await phase('endpointslices (x10)', SVCS, (i) => [
    'POST',
    `/apis/discovery.k8s.io/v1/namespaces/ns-${i % nsCount}/endpointslices`,
    {
      metadata: { name: `svc-${i}-abcde`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 10 }, (_, j) => ({
        addresses: [podIP((i * 10 + j) % PODS)],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: `node-${j}`,
        targetRef: { kind: 'Pod', namespace: `ns-${i % nsCount}`, name: `pod-${(i * 10 + j) % PODS}` },
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  ]);
  httpAgent.destroy();

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
if (args[0] === '--serve') {
  const { startApiServer } = await import('../src/apiserver/index.js');
  const s = await startApiServer({ port: 0, watchHistory: 1000 });
  process.stdout.write(`${s.url}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
} else {
  await main();
}
