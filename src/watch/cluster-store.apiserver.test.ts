// The cluster store against the project's own Kubernetes-API-compatible server (src/apiserver), reached
// through a TCP relay the test can cut, so a network partition, a server restart and 410 Gone are real.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../apiserver/index.js';
import type { ModelChange } from '../model/types.js';
import { createClusterStore, type ClusterStore } from './cluster-store.js';
import { loadKubeConfig } from './kubeconfig.js';
import { waitFor } from '../testing/wait.js';
import { restCall } from '../testing/apiserver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay in front of the API server; cut() drops every connection and stops accepting. */
class Relay {
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  port = 0;
  constructor(public target: number) {}
  async up(): Promise<void> {
    const srv = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.conns.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.conns.delete(client);
        this.conns.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => srv.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (srv.address() as { port: number }).port;
    this.server = srv;
  }
  async cut(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

describe('cluster store against the project API server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-watch-api-'));
  const dataFile = join(dir, 'data.json');
  let api: Awaited<ReturnType<typeof startApiServer>>;
  let relay: Relay;
  let store: ClusterStore;
  const metrics = new Registry();
  const changes: ModelChange[] = [];
  const logs: Record<string, unknown>[] = [];
  const podLists = () => logs.filter((l) => l['msg'] === 'list received' && l['kind'] === 'Pod').length;

  const rest = (method: string, path: string, body?: unknown, ct?: string) => restCall(api.url, method, path, body, ct);
  const createPod = async (name: string, ip: string, labels: Record<string, string> = { app: 'web' }) => {
    await rest('POST', '/api/v1/namespaces/default/pods', {
      metadata: { name, labels },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }] },
    });
    await rest('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, 'application/merge-patch+json');
  };
  const slice = (name: string, labels: Record<string, string>) => ({
    metadata: { name, labels },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.1.1'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });

  beforeAll(async () => {
    api = await startApiServer({ port: 0, dataFile, watchHistory: 20 });
    relay = new Relay(api.port);
    await relay.up();
    await createPod('a', '10.244.1.1');
    await createPod('b', '10.244.1.2');
    await rest('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } });
    await rest('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', slice('web-1', { 'kubernetes.io/service-name': 'web' }));
    // Valid for the API server (the label is optional there) but useless to a proxy: the store rejects it.
    await rest('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', slice('orphan', {}));
    await rest('POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', {
      metadata: { name: 'allow-web' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] },
    });
    const kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    const kc = loadKubeConfig({ kubeconfig, master: `http://127.0.0.1:${relay.port}` });
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    store = createClusterStore({ kubeConfig: kc, log, metrics, backoff: { initialMs: 50, maxMs: 300 } });
    store.subscribe(['Node', 'Namespace', 'Pod', 'Service', 'EndpointSlice', 'NetworkPolicy'], (c) => changes.push(...c));
  });
  afterAll(async () => {
    await store?.stop();
    await relay?.cut();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs every kind, with API defaults applied and the unlabeled slice rejected', async () => {
    await store.whenSynced();
    const snap = store.snapshot();
    expect(snap.pods.get('default/a')).toMatchObject({ podIPs: ['10.244.1.1'], phase: 'Running' });
    const svc = snap.services.get('default/web')!;
    expect(svc.clusterIPs).toHaveLength(1);
    expect(svc).toMatchObject({ type: 'ClusterIP', ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] });
    expect([...snap.endpointSlices.keys()]).toEqual(['default/web-1']);
    expect(snap.policies.get('default/allow-web')?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(snap.namespaces.has('default')).toBe(true);
    const rejected = (await metrics.getSingleMetricAsString('kube_router_rejected_objects_total')).split('\n');
    expect(rejected).toContain('kube_router_rejected_objects_total{kind="EndpointSlice",reason="missing_field"} 1');
  });

  it('delivers create/update/delete and nothing for changes outside the model', async () => {
    changes.length = 0;
    await createPod('c', '10.244.1.3');
    await waitFor('pod c with IP', () => store.snapshot().pods.get('default/c')?.podIPs.length === 1, 10_000, 10);
    await rest('PATCH', '/api/v1/namespaces/default/pods/c', { metadata: { labels: { app: 'api' } } }, 'application/merge-patch+json');
    await waitFor('label update', () => store.snapshot().pods.get('default/c')?.labels['app'] === 'api', 10_000, 10);
    await sleep(50);
    changes.length = 0;
    // Conditions are not part of the model: a new resourceVersion, but no change for controllers.
    await rest('PATCH', '/api/v1/namespaces/default/pods/c/status', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'application/merge-patch+json');
    await sleep(300);
    expect(changes).toEqual([]);
    await rest('DELETE', '/api/v1/namespaces/default/pods/c');
    await waitFor('delete', () => !store.snapshot().pods.has('default/c'), 10_000, 10);
    expect(changes).toMatchObject([{ type: 'deleted', key: 'default/c' }]);
  });

  it('keeps the model through a partition and re-lists after 410 Gone', async () => {
    await sleep(100);
    const before = store.snapshot();
    const listsBefore = podLists();
    await relay.cut();
    changes.length = 0;
    // More writes than the server's watch history (20) while the agent cannot see them.
    await rest('DELETE', '/api/v1/namespaces/default/pods/b');
    for (let i = 0; i < 15; i++) await createPod(`p${i}`, `10.244.2.${i}`);
    await sleep(200);
    expect(store.snapshot()).toBe(before);
    await relay.up();
    await waitFor('re-list', () => store.snapshot().pods.size === 16 && !store.snapshot().pods.has('default/b'), 15_000, 10);
    await sleep(100);
    expect(podLists()).toBe(listsBefore + 1); // the watch resume got 410 and the informer re-listed
    const summary = changes.map((c) => `${c.type} ${c.key}`);
    expect(summary).toContain('deleted default/b');
    expect(summary.filter((s) => s.startsWith('added'))).toHaveLength(15);
    expect(summary).toHaveLength(16); // nothing for the untouched pod a, service, slice, policy
    const restarts = await metrics.getSingleMetricAsString('kube_router_watch_restarts_total');
    expect(restarts).toMatch(/kind="Pod"} [1-9]/);
  });

  it('survives an API server restart (same data file) and catches up', async () => {
    await api.close();
    await relay.cut();
    await sleep(200);
    expect(store.snapshot().pods.size).toBe(16);
    api = await startApiServer({ port: 0, dataFile, watchHistory: 20 });
    relay.target = api.port;
    await relay.up();
    changes.length = 0;
    await createPod('after', '10.244.3.1');
    await waitFor('pod after restart', () => store.snapshot().pods.get('default/after')?.podIPs[0] === '10.244.3.1', 15_000, 10);
    expect(store.snapshot().pods.size).toBe(17);
    expect(changes.filter((c) => c.type === 'deleted')).toEqual([]);
  });

  it('reconciles deletions when the store itself is restarted', async () => {
    await store.stop();
    await rest('DELETE', '/api/v1/namespaces/default/pods/p0');
    changes.length = 0;
    store.start();
    await waitFor('p0 removed after store restart', () => !store.snapshot().pods.has('default/p0'), 10_000, 10);
    await sleep(100);
    expect(changes.map((c) => `${c.type} ${c.key}`)).toEqual(['deleted default/p0']);
  });
});
