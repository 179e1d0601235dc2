// The real client: @kubernetes/client-node 1.4.0 informers against this server, including a server restart
// on the same port and a relist after 410 Gone.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startApiServer, kubeconfigText, type ApiServerHandle } from './index.js';
import { pod, request } from '../testing/apiserver.js';
import { sleep, waitFor } from '../testing/wait.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Recorder {
  informer: k8s.Informer<k8s.V1Pod> & k8s.ObjectCache<k8s.V1Pod>;
  log: string[];
  errors: unknown[];
  names(): string[];
}

async function podInformer(url: string, ns: string, restartOnError = false): Promise<Recorder> {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(kubeconfigText(url));
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/pods`, () => api.listNamespacedPod({ namespace: ns }));
  const log: string[] = [];
  const errors: unknown[] = [];
  const name = (p: k8s.V1Pod) => p.metadata?.name ?? '?';
  informer.on('add', (p) => log.push(`add:${name(p)}`));
  informer.on('update', (p) => log.push(`update:${name(p)}`));
  informer.on('delete', (p) => log.push(`delete:${name(p)}`));
  let stopped = false;
  informer.on('error', (e) => {
    errors.push(e);
    // The usual client-node pattern: an informer stops on a connection error until started again.
    if (restartOnError && !stopped) setTimeout(() => void informer.start().catch(() => {}), 100);
  });
  cleanups.push(() => {
    stopped = true;
    return informer.stop();
  });
  await informer.start();
  return { informer, log, errors, names: () => informer.list().map(name).sort() };
}

async function server(opts: Parameters<typeof startApiServer>[0] = {}): Promise<ApiServerHandle> {
  const s = await startApiServer({ port: 0, ...opts });
  cleanups.push(() => s.close());
  return s;
}

describe('client-node informer', () => {
  it('sees add, update and delete', async () => {
    const s = await server();
    await request(s.url, 'POST', '/api/v1/namespaces', { metadata: { name: 'inf' } });
    await request(s.url, 'POST', '/api/v1/namespaces/inf/pods', pod('before'));
    const r = await podInformer(s.url, 'inf');
    expect(r.names()).toEqual(['before']);
    await request(s.url, 'POST', '/api/v1/namespaces/inf/pods', pod('after'));
    await request(s.url, 'PATCH', '/api/v1/namespaces/inf/pods/before', { metadata: { labels: { x: 'y' } } }, { 'Content-Type': 'application/merge-patch+json' });
    await request(s.url, 'DELETE', '/api/v1/namespaces/inf/pods/after');
    await waitFor('informer events', () => r.log.length >= 4, 5000, 20);
    expect(r.log).toEqual(['add:before', 'add:after', 'update:before', 'delete:after']);
    expect(r.names()).toEqual(['before']);
    expect(r.informer.get('before', 'inf')?.metadata?.labels).toEqual({ x: 'y' });
    expect(r.errors).toEqual([]);
  });

  it('relists after 410 Gone and ends with the right cache', async () => {
    const s = await server({ watchHistory: 5 });
    await request(s.url, 'POST', '/api/v1/namespaces', { metadata: { name: 'gone' } });
    await request(s.url, 'POST', '/api/v1/namespaces/gone/pods', pod('keep'));
    await request(s.url, 'POST', '/api/v1/namespaces/gone/pods', pod('drop'));
    const r = await podInformer(s.url, 'gone');
    expect(r.names()).toEqual(['drop', 'keep']);
    const rvBefore = (r.informer as unknown as k8s.ListWatch<k8s.V1Pod>).latestResourceVersion();
    await r.informer.stop();
    // While it is away: more changes than the history holds, so its resourceVersion expires.
    await request(s.url, 'DELETE', '/api/v1/namespaces/gone/pods/drop');
    for (let i = 0; i < 8; i++) await request(s.url, 'POST', '/api/v1/namespaces/gone/pods', pod(`n-${i}`));
    await r.informer.start();
    await waitFor('relisted cache', () => r.names().length === 9, 5000, 20);
    expect(r.names()).toEqual(['keep', ...Array.from({ length: 8 }, (_, i) => `n-${i}`)]);
    expect(r.log).toContain('delete:drop');
    expect(Number((r.informer as unknown as k8s.ListWatch<k8s.V1Pod>).latestResourceVersion())).toBeGreaterThan(Number(rvBefore));
  });

  it('comes back after the server is stopped and started again on the same port (with a data file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'krt-apiserver-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dataFile = join(dir, 'state.json');
    const first = await startApiServer({ port: 0, dataFile });
    const port = first.port;
    await request(first.url, 'POST', '/api/v1/namespaces', { metadata: { name: 'rs' } });
    await request(first.url, 'POST', '/api/v1/namespaces/rs/pods', pod('old'));
    const r = await podInformer(first.url, 'rs', true);
    expect(r.names()).toEqual(['old']);
    await first.close();
    await sleep(300);
    const second = await server({ port, dataFile });
    await request(second.url, 'POST', '/api/v1/namespaces/rs/pods', pod('new'));
    await waitFor('pod created after restart', () => r.names().includes('new'), 8000, 20);
    expect(r.names()).toEqual(['new', 'old']);
    await request(second.url, 'DELETE', '/api/v1/namespaces/rs/pods/old');
    await waitFor('delete after restart', () => !r.names().includes('old'), 5000, 20);
  });

  it('relists against a restarted server that lost its state', async () => {
    const first = await startApiServer({ port: 0 });
    const port = first.port;
    await request(first.url, 'POST', '/api/v1/namespaces/default/pods', pod('ephemeral'));
    const r = await podInformer(first.url, 'default', true);
    expect(r.names()).toEqual(['ephemeral']);
    await first.close();
    const second = await server({ port });
    await request(second.url, 'POST', '/api/v1/namespaces/default/pods', pod('fresh'));
    await waitFor('cache to match the new server', () => r.names().join() === 'fresh', 8000, 20);
    expect(r.log).toContain('delete:ephemeral');
    expect(r.log).toContain('add:fresh');
  });
});
