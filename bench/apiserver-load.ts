// Loads the project's API server with 10k pods, 5k services and 5k EndpointSlices (10 endpoints each)
// over HTTP at concurrency 32, then prints creation rates, raw list times (whole and paged), and how long
// client-node informers take to sync all three. The server runs in a child process so client and server
// do not share an event loop.
//   npx tsx bench/apiserver-load.ts [--pods N] [--services N] [--no-status]
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { loadSyntheticCluster, serveIfAsked, spawnApiServer } from './lib/synthetic-cluster.js';

const args = process.argv.slice(2);
const num = (flag: string, d: number) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};

if (!(await serveIfAsked(args))) await main();

async function main(): Promise<void> {
  const PODS = num('--pods', 10_000);
  const SVCS = num('--services', 5_000);
  const withStatus = !args.includes('--no-status');
  const { url, child } = await spawnApiServer(fileURLToPath(import.meta.url));
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  await loadSyntheticCluster(url, { pods: PODS, services: SVCS, withStatus });

  const call = (method: string, path: string) =>
    new Promise<{ status: number; bytes: number }>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers: { Accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks).length }));
      });
      req.on('error', reject);
      req.end();
    });

  for (const [label, path] of [
    ['pods', '/api/v1/pods'],
    ['services', '/api/v1/services'],
    ['endpointslices', '/apis/discovery.k8s.io/v1/endpointslices'],
  ] as const) {
    for (let round = 0; round < 2; round++) {
      const t0 = performance.now();
      const r = await call('GET', path);
      const t1 = performance.now();
      let pages = 0;
      let cont = '';
      do {
        const resp = await new Promise<string>((resolve, reject) => {
          http.get({ host: u.hostname, port: u.port, path: `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks).toString()));
          }).on('error', reject);
        });
        pages++;
        cont = (JSON.parse(resp) as { metadata: { continue?: string } }).metadata.continue ?? '';
      } while (cont);
      const t2 = performance.now();
      console.log(
        `list ${label.padEnd(15)} ${round ? 'warm' : 'cold'}: whole ${(t1 - t0).toFixed(0)} ms (${(r.bytes / 1e6).toFixed(1)} MB), paged x500 ${(t2 - t1).toFixed(0)} ms (${pages} pages)`,
      );
    }
  }

  const kc = new k8s.KubeConfig();
  const { kubeconfigText } = await import('../src/apiserver/kubeconfig.js');
  kc.loadFromString(kubeconfigText(url));
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const disc = kc.makeApiClient(k8s.DiscoveryV1Api);
  const t0 = performance.now();
  const timed = async (name: string, inf: k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>) => {
    await inf.start();
    const ms = performance.now() - t0;
    console.log(`informer ${name.padEnd(15)} synced ${inf.list().length} objects after ${ms.toFixed(0)} ms`);
    return inf;
  };
  const infs = await Promise.all([
    timed('pods', k8s.makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces())),
    timed('services', k8s.makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces())),
    timed('endpointslices', k8s.makeInformer(kc, '/apis/discovery.k8s.io/v1/endpointslices', () => disc.listEndpointSliceForAllNamespaces())),
  ]);
  console.log(`all informers synced in ${(performance.now() - t0).toFixed(0)} ms (client-node deserialization included)`);
  await Promise.all(infs.map((i) => i.stop()));
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    console.log(`server process ${/VmRSS:\s+(\d+ kB)/.exec(status)?.[1] ?? '?'} resident (VmHWM ${/VmHWM:\s+(\d+ kB)/.exec(status)?.[1] ?? '?'})`);
  } catch {
    /* not Linux */
  }
  child.kill('SIGTERM');
  agent.destroy();
}
