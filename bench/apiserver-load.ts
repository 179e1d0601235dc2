// Loads the project's API server with 10k pods, 5k services and 5k EndpointSlices (10 endpoints each)
// over HTTP at concurrency 32, then prints creation rates, raw list times (whole and paged), and how long
// client-node informers take to sync all three. The server runs in a child process so client and server
// do not share an event loop.
//   npx tsx bench/apiserver-load.ts [--pods N] [--services N] [--no-status]
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';

const args = process.argv.slice(2);
const num = (flag: string, d: number) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : d;
};

if (args[0] === '--serve') {
  const { startApiServer } = await import('../src/apiserver/index.js');
  const s = await startApiServer({ port: 0, watchHistory: 1000 });
  process.stdout.write(`${s.url}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const PODS = num('--pods', 10_000);
  const SVCS = num('--services', 5_000);
  const SLICES = SVCS;
  const withStatus = !args.includes('--no-status');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  const call = (method: string, path: string, body?: unknown, ct = 'application/json') =>
    new Promise<{ status: number; bytes: number; text: string }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers: { 'Content-Type': ct, Accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, bytes: b.length, text: res.statusCode! >= 300 ? b.toString() : '' });
        });
      });
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });

  async function phase(label: string, n: number, make: (i: number) => [string, string, unknown, string?]): Promise<void> {
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const [m, p, b, ct] = make(i);
        const r = await call(m, p, b, ct);
        if (r.status >= 300 && failed++ < 3) console.error(`${label} #${i}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const s = (performance.now() - t0) / 1000;
    console.log(`${label.padEnd(28)} ${String(n).padStart(6)} in ${s.toFixed(2)} s  = ${Math.round(n / s)}/s${failed ? `  (${failed} failed)` : ''}`);
  }

  const nsCount = 50;
  await phase('create namespaces', nsCount, (i) => ['POST', '/api/v1/namespaces', { metadata: { name: `ns-${i}` } }]);
  const podIP = (i: number) => `10.${244 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
  await phase('create pods', PODS, (i) => [
    'POST',
    `/api/v1/namespaces/ns-${i % nsCount}/pods`,
    {
      metadata: { name: `pod-${i}`, labels: { app: `app-${i % SVCS}`, tier: i % 2 ? 'web' : 'db' } },
      spec: { nodeName: `node-${i % 100}`, containers: [{ name: 'c', image: 'busybox:1.36', ports: [{ containerPort: 8080 }] }] },
    },
  ]);
  if (withStatus)
    await phase('pod status (podIP)', PODS, (i) => [
      'PATCH',
      `/api/v1/namespaces/ns-${i % nsCount}/pods/pod-${i}/status`,
      { status: { phase: 'Running', podIP: podIP(i), podIPs: [{ ip: podIP(i) }], hostIP: `192.168.0.${i % 100}` } },
      'application/merge-patch+json',
    ]);
  await phase('create services', SVCS, (i) => [
    'POST',
    `/api/v1/namespaces/ns-${i % nsCount}/services`,
    { metadata: { name: `svc-${i}` }, spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  ]);
  await phase('create endpointslices (x10)', SLICES, (i) => [
    'POST',
    `/apis/discovery.k8s.io/v1/namespaces/ns-${i % nsCount}/endpointslices`,
    {
      metadata: { name: `svc-${i}-abcde`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 10 }, (_, j) => ({
        addresses: [podIP((i * 10 + j) % 60000)],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: `node-${j}`,
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  ]);

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
