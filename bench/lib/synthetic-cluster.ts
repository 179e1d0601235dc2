// The synthetic cluster the API-server and informer benchmarks share: the project's API server in a child
// process (so loader and server do not share an event loop), and a loader that creates namespaces, pods
// (with IPs), services and one EndpointSlice of 10 endpoints per service over HTTP at concurrency 32.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';

/** In the child started by spawnApiServer: serve and print the URL. Returns false when not the child. */
export async function serveIfAsked(args: readonly string[]): Promise<boolean> {
  if (args[0] !== '--serve') return false;
  const { startApiServer } = await import('../../src/apiserver/index.js');
  const s = await startApiServer({ port: 0, watchHistory: 1000 });
  process.stdout.write(`${s.url}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
  return true;
}

/** Starts `script --serve` (a bench that calls serveIfAsked first) and waits for the server's URL. */
export async function spawnApiServer(script: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.on('exit', () => child.kill('SIGTERM'));
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { url, child };
}

export interface SyntheticCluster {
  readonly pods: number;
  readonly services: number;
  /** Patch pod status with IPs as a kubelet would (default true). */
  readonly withStatus?: boolean;
}

export const podIP = (i: number): string => `10.${244 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`;

/** Loads the cluster, printing one line per phase with its time and any failed requests. */
export async function loadSyntheticCluster(url: string, c: SyntheticCluster): Promise<void> {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const call = (method: string, path: string, body: unknown, ct = 'application/json') =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, method, path, agent, headers: { 'Content-Type': ct } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  const phase = async (label: string, n: number, make: (i: number) => [string, string, unknown, string?]): Promise<void> => {
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
    const s = (performance.now() - t0) / 1000;
    console.log(`load ${label.padEnd(26)} ${n} in ${s.toFixed(1)} s (${Math.round(n / s)}/s)${failed ? ` (${failed} FAILED)` : ''}`);
  };

  const nsCount = 50;
  const ns = (i: number) => `ns-${i % nsCount}`;
  await phase('namespaces', nsCount, (i) => ['POST', '/api/v1/namespaces', { metadata: { name: `ns-${i}` } }]);
  await phase('pods', c.pods, (i) => [
    'POST',
    `/api/v1/namespaces/${ns(i)}/pods`,
    {
      metadata: { name: `pod-${i}`, labels: { app: `app-${i % c.services}`, tier: i % 2 ? 'web' : 'db' } },
      spec: { nodeName: `node-${i % 100}`, containers: [{ name: 'c', image: 'busybox:1.36', ports: [{ name: 'http', containerPort: 8080 }] }] },
    },
  ]);
  if (c.withStatus !== false) {
    await phase('pod status (IPs)', c.pods, (i) => [
      'PATCH',
      `/api/v1/namespaces/${ns(i)}/pods/pod-${i}/status`,
      { status: { phase: 'Running', podIP: podIP(i), podIPs: [{ ip: podIP(i) }], hostIP: `192.168.0.${i % 100}` } },
      'application/merge-patch+json',
    ]);
  }
  await phase('services', c.services, (i) => [
    'POST',
    `/api/v1/namespaces/${ns(i)}/services`,
    { metadata: { name: `svc-${i}` }, spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
  ]);
  await phase('endpointslices (x10)', c.services, (i) => [
    'POST',
    `/apis/discovery.k8s.io/v1/namespaces/${ns(i)}/endpointslices`,
    {
      metadata: { name: `svc-${i}-abcde`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: 10 }, (_, j) => ({
        addresses: [podIP((i * 10 + j) % c.pods)],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: `node-${j}`,
        targetRef: { kind: 'Pod', namespace: ns(i), name: `pod-${(i * 10 + j) % c.pods}` },
      })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  ]);
  agent.destroy();
}
