import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelChange, PodModel } from '../model/types.js';
import { createClusterStore, type ClusterStore } from './cluster-store.js';
import { loadKubeConfig } from './kubeconfig.js';
import { MiniApiServer, PATHS } from './testdata/mini-apiserver.js';
import { waitFor } from '../testing/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pod(name: string, ip: string, labels: Record<string, string> = { app: 'web' }) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ containerPort: 8080, name: 'http' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

const logLines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk, _enc, cb) {
    for (const line of String(chunk).split('\n')) if (line) logLines.push(JSON.parse(line));
    cb();
  },
});
const log = pino({ level: 'debug' }, logStream);

async function metric(reg: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('cluster store against a list+watch server', () => {
  const server = new MiniApiServer();
  const metrics = new Registry();
  let store: ClusterStore;
  const changes: ModelChange[] = [];

  beforeAll(async () => {
    await server.start();
    server.put(PATHS.Namespace, { metadata: { name: 'default', labels: { team: 'a' } } });
    server.put(PATHS.Pod, pod('a', '10.244.1.1'));
    server.put(PATHS.Pod, pod('b', '10.244.1.2'));
    server.put(PATHS.Pod, pod('bad', '10.244.1.999'));
    server.put(PATHS.Service, {
      metadata: { name: 'web', namespace: 'default' },
      spec: { clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
    });
    server.put(PATHS.NetworkPolicy, {
      metadata: { name: 'deny', namespace: 'default' },
      spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] },
    });
    store = createClusterStore({
      kubeConfig: loadKubeConfig({ master: server.url }),
      log,
      metrics,
      kinds: ['Namespace', 'Pod', 'Service', 'NetworkPolicy'],
      backoff: { initialMs: 50, maxMs: 400 },
    });
    store.subscribe(['Pod', 'Namespace', 'Service', 'NetworkPolicy'], (c) => changes.push(...c));
  });
  afterAll(async () => {
    await store?.stop();
    await server.stop();
  });

  it('syncs the initial lists, normalized, with the malformed object rejected and counted', async () => {
    await store.whenSynced();
    const snap = store.snapshot();
    expect([...snap.pods.keys()].sort()).toEqual(['default/a', 'default/b']);
    expect(snap.pods.get('default/a')).toMatchObject({ podIPs: ['10.244.1.1'], ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] });
    expect(snap.services.get('default/web')).toMatchObject({ clusterIPs: ['10.96.0.10'], ports: [{ port: 80, targetPort: 'http', protocol: 'TCP' }] });
    expect(snap.policies.get('default/deny')).toMatchObject({ policyTypes: ['Ingress'], ingress: [{ peers: [{ cidr: '10.0.0.0/8', except: [] }] }] });
    expect(snap.namespaces.get('default')?.labels).toEqual({ team: 'a' });
    expect(snap.endpointSlices.size).toBe(0); // not watched
    expect(await metric(metrics, 'kube_router_rejected_objects_total', { kind: 'Pod', reason: 'invalid_ip' })).toBe(1);
    expect(logLines.some((l) => l['key'] === 'default/bad' && String(l['reason']).includes('status.podIPs[0].ip'))).toBe(true);
    expect(logLines.some((l) => l['key'] === 'default/deny' && String(l['msg']).includes('parts ignored'))).toBe(true);
    expect(await metric(metrics, 'kube_router_cluster_objects', { kind: 'Pod' })).toBe(2);
  });

  it('delivers create, update and delete; an unchanged update emits nothing', async () => {
    changes.length = 0;
    server.put(PATHS.Pod, pod('c', '10.244.1.3'));
    await waitFor('add', () => changes.length >= 1, 8000, 10);
    expect(changes).toMatchObject([{ kind: 'Pod', key: 'default/c', type: 'added' }]);
    expect(store.snapshot().pods.has('default/c')).toBe(true);

    changes.length = 0;
    server.put(PATHS.Pod, pod('c', '10.244.1.3')); // new resourceVersion, same content
    server.put(PATHS.Pod, pod('c', '10.244.1.3', { app: 'api' }));
    await waitFor('update', () => changes.length >= 1, 8000, 10);
    await sleep(50);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ type: 'updated', key: 'default/c' });
    expect((changes[0]!.new as PodModel).labels).toEqual({ app: 'api' });

    changes.length = 0;
    server.put(PATHS.Pod, pod('c', '10.244.1.3', { app: 'api' }));
    await sleep(200);
    expect(changes).toEqual([]);

    server.remove(PATHS.Pod, 'default', 'c');
    await waitFor('delete', () => changes.length >= 1, 8000, 10);
    expect(changes).toMatchObject([{ type: 'deleted', key: 'default/c' }]);
    expect(store.snapshot().pods.has('default/c')).toBe(false);
  });

  it('keeps the last good version of an object whose update is malformed; others are unaffected', async () => {
    changes.length = 0;
    const before = await metric(metrics, 'kube_router_rejected_objects_total', { kind: 'Pod', reason: 'invalid_port' });
    const broken = pod('a', '10.244.1.1');
    broken.spec.containers[0]!.ports[0]!.containerPort = 70000;
    server.put(PATHS.Pod, broken);
    server.put(PATHS.Pod, broken); // same reason again: logged and counted once
    server.put(PATHS.Pod, pod('b', '10.244.1.22'));
    await waitFor('update of b', () => changes.length >= 1, 8000, 10);
    await sleep(50);
    expect(changes).toMatchObject([{ type: 'updated', key: 'default/b' }]);
    expect(store.snapshot().pods.get('default/a')?.ports[0]?.containerPort).toBe(8080);
    expect(await metric(metrics, 'kube_router_rejected_objects_total', { kind: 'Pod', reason: 'invalid_port' })).toBe(before + 1);
    const lines = logLines.filter((l) => l['key'] === 'default/a' && l['code'] === 'invalid_port');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ keptLastGood: true });

    // A fixed object is accepted again.
    changes.length = 0;
    server.put(PATHS.Pod, pod('a', '10.244.1.11'));
    await waitFor('fixed a', () => changes.length >= 1, 8000, 10);
    expect(store.snapshot().pods.get('default/a')?.podIPs).toEqual(['10.244.1.11']);
  });

  it('keeps the model while the server is down and catches up when it is back', async () => {
    const restartsBefore = await metric(metrics, 'kube_router_watch_restarts_total', { kind: 'Pod' });
    const snapBefore = store.snapshot();
    await server.stop();
    await waitFor('watch failure log', () => logLines.some((l) => String(l['msg']).includes('watch failed')), 8000, 10);
    await sleep(300);
    expect(await metric(metrics, 'kube_router_watch_restarts_total', { kind: 'Pod' })).toBeGreaterThan(restartsBefore);
    expect(store.snapshot()).toBe(snapBefore);
    expect(store.snapshot().pods.size).toBe(2);

    changes.length = 0;
    server.put(PATHS.Pod, pod('d', '10.244.1.4')); // happens while the agent cannot see it
    await server.start();
    await waitFor('catch-up after restart', () => store.snapshot().pods.has('default/d'), 10_000, 10);
    expect(changes).toMatchObject([{ type: 'added', key: 'default/d' }]);
    await waitFor('recovery log', () => logLines.some((l) => String(l['msg']).includes('re-established')), 8000, 10);
  });

  it('re-lists after 410 Gone and reconciles without spurious changes', async () => {
    await sleep(100);
    const listsBefore = server.listRequests;
    await server.stop();
    await sleep(100);
    changes.length = 0;
    server.remove(PATHS.Pod, 'default', 'd'); // deleted during the outage
    server.put(PATHS.Pod, pod('e', '10.244.1.5')); // created during the outage
    server.put(PATHS.Pod, pod('b', '10.244.1.22')); // same content, new resourceVersion
    server.put(PATHS.Namespace, { metadata: { name: 'default', labels: { team: 'b' } } });
    server.compact(); // the agent's resourceVersion is now too old
    await server.start();
    await waitFor('relist', () => store.snapshot().pods.has('default/e') && !store.snapshot().pods.has('default/d'), 10_000, 10);
    await waitFor('namespace relist', () => store.snapshot().namespaces.get('default')?.labels['team'] === 'b', 10_000, 10);
    await sleep(100);
    expect(server.listRequests).toBeGreaterThan(listsBefore);
    const summary = changes.map((c) => `${c.type} ${c.kind} ${c.key}`).sort();
    expect(summary).toEqual(['added Pod default/e', 'deleted Pod default/d', 'updated Namespace default']);
    expect(store.snapshot().pods.get('default/b')?.podIPs).toEqual(['10.244.1.22']);
  });
});

describe('cluster store initial list', () => {
  it('reads a paginated list completely and reaches whenSynced with every object', async () => {
    const server = new MiniApiServer();
    await server.start();
    for (let i = 0; i < 1234; i++) server.put(PATHS.Namespace, { metadata: { name: `ns-${i}`, labels: { i: String(i) } } });
    const store = createClusterStore({ kubeConfig: loadKubeConfig({ master: server.url }), log, metrics: new Registry(), kinds: ['Namespace'] });
    try {
      await store.whenSynced();
      expect(server.listRequests).toBe(3); // 500 + 500 + 234
      expect(store.snapshot().namespaces.size).toBe(1234);
      expect(store.snapshot().namespaces.get('ns-1233')?.labels).toEqual({ i: '1233' });
      server.put(PATHS.Namespace, { metadata: { name: 'ns-0', labels: { i: 'changed' } } });
      await waitFor('watch after paged list', () => store.snapshot().namespaces.get('ns-0')?.labels['i'] === 'changed', 8000, 10);
    } finally {
      await store.stop();
      await server.stop();
    }
  });
});
