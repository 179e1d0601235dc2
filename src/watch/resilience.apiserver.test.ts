// The agent's informers (client-node ListWatch through createClusterStore) against the project's API server
// doing what a real kube-apiserver does to long-running watches: bookmarks, closing streams (timeouts),
// compaction (410 Gone on resume, as an ERROR event or an HTTP 410) and ERROR 410 inside an open stream.
// Every batch the controllers would see is compiled into a firewall plan, which must never lose the pods
// and policy that exist throughout (a relist must converge, never pass through an empty model).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../apiserver/index.js';
import { compileFirewall } from '../controllers/firewall/compile/compiler.js';
import type { ClusterSnapshot, ModelChange } from '../model/types.js';
import { createClusterStore, type ClusterStore } from './cluster-store.js';
import { loadKubeConfig } from './kubeconfig.js';
import { waitFor } from '../testing/wait.js';
import { restCall } from '../testing/apiserver.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NODE = 'n1';
const RANGES = { clusterIPRanges: ['10.96.0.0/12'], externalIPRanges: [], loadBalancerIPRanges: [], nodePortRange: { min: 30000, max: 32767 } };

/** What a dataplane-facing callback would program from a snapshot, reduced to what the test checks. */
function programmed(snap: ClusterSnapshot): { pods: number; policies: number; setEntries: Set<string>; chains: number } {
  const plan = compileFirewall(snap, { nodeName: NODE, families: [4], podCIDRs: ['10.244.1.0/24'], ranges: RANGES });
  const setEntries = new Set([...plan.sets.values()].flatMap((s) => s.entries));
  const chains = [...plan.tables.values()].reduce((n, t) => n + t.chains.size, 0);
  return { pods: snap.pods.size, policies: snap.policies.size, setEntries, chains };
}

describe.each(['event', 'http'] as const)('informers through watch expiry (410 as %s)', (expiredWatch) => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-watch-res-'));
  let api: ApiServerHandle;
  let store: ClusterStore;
  const changes: ModelChange[] = [];
  /** Every batch the store delivered: what the firewall would have programmed right then. */
  const seen: ReturnType<typeof programmed>[] = [];
  const logs: Record<string, unknown>[] = [];

  const rest = (method: string, path: string, body?: unknown, ct?: string) => restCall(api.url, method, path, body, ct);
  const createPod = async (name: string, ip: string, labels: Record<string, string> = { app: 'web' }) => {
    await rest('POST', '/api/v1/namespaces/default/pods', { metadata: { name, labels }, spec: { nodeName: NODE, containers: [{ name: 'c', image: 'busybox' }] } });
    await rest('PATCH', `/api/v1/namespaces/default/pods/${name}/status`, { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, 'application/merge-patch+json');
  };
  const status = (kind: 'Pod' | 'NetworkPolicy' | 'Node') => store.watchStatus()[kind]!;
  const lists = () => Object.values(store.watchStatus()).reduce((n, s) => n + s.lists, 0);

  beforeAll(async () => {
    api = await startApiServer({ port: 0, expiredWatch, bookmarkIntervalMs: 100, minRequestTimeoutMs: 0 });
    await rest('POST', '/api/v1/nodes', { metadata: { name: NODE }, spec: { podCIDR: '10.244.1.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.1' }] } });
    await createPod('keep', '10.244.1.10');
    await createPod('gone', '10.244.1.11');
    await createPod('changed', '10.244.1.12');
    await rest('POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', {
      metadata: { name: 'web' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] },
    });
    const kubeconfig = join(dir, 'kubeconfig');
    await api.writeKubeconfig(kubeconfig);
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    store = createClusterStore({ kubeConfig: loadKubeConfig({ kubeconfig }), log, metrics: new Registry(), backoff: { initialMs: 50, maxMs: 300 } });
    store.subscribe(['Node', 'Namespace', 'Pod', 'Service', 'EndpointSlice', 'NetworkPolicy'], (c) => {
      changes.push(...c);
      seen.push(programmed(store.snapshot()));
    });
    await store.whenSynced();
  });
  afterAll(async () => {
    await store?.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for bookmarks and resumes from their resourceVersion after compaction, without a relist', async () => {
    const before = lists();
    await createPod('other', '10.244.1.20');
    // No NetworkPolicy changed, yet its watch position follows the cluster's through bookmarks.
    const rv = String(api.resourceVersion());
    await waitFor('a bookmark to the NetworkPolicy watch', () => status('NetworkPolicy').resourceVersion === rv, 5000, 10);
    expect(status('NetworkPolicy').bookmarks).toBeGreaterThan(0);
    api.compact();
    const watchesBefore = status('NetworkPolicy').watches;
    expect(api.closeWatches()).toBe(6);
    await waitFor('re-watches', () => status('NetworkPolicy').watches > watchesBefore && status('Pod').watches > watchesBefore, 5000, 10);
    await sleep(100);
    expect(lists()).toBe(before);
    expect(Object.values(store.watchStatus()).every((s) => s.expired === 0)).toBe(true);
  });

  it('re-establishes watches the server closes and keeps receiving changes', async () => {
    const w = status('Pod').watches;
    api.closeWatches('pods');
    await createPod('after-close', '10.244.1.21');
    await waitFor('pod after close', () => store.snapshot().pods.get('default/after-close')?.podIPs[0] === '10.244.1.21', 5000, 10);
    expect(status('Pod').watches).toBeGreaterThan(w);
  });

  it('after a gap ending in 410 Gone, relists and converges in one batch, never through an empty state', async () => {
    await sleep(50);
    const listsBefore = status('Pod').lists;
    changes.length = 0;
    seen.length = 0;
    // The agent's watches end and its re-watch requests go unanswered: it misses everything below.
    api.holdWatches();
    api.closeWatches();
    await rest('DELETE', '/api/v1/namespaces/default/pods/gone');
    await rest('PATCH', '/api/v1/namespaces/default/pods/changed', { metadata: { labels: { app: 'db' } } }, 'application/merge-patch+json');
    await createPod('new', '10.244.1.13');
    await sleep(100);
    expect(store.snapshot().pods.has('default/gone')).toBe(true);
    expect(changes).toEqual([]);
    // etcd compacts meanwhile: the agent's resourceVersions are gone, its re-watch gets 410.
    api.compact();
    expect(api.releaseWatches()).toBe(6);
    await waitFor('converged', () => !store.snapshot().pods.has('default/gone') && store.snapshot().pods.has('default/new'), 10_000, 10);
    await sleep(100);
    expect(status('Pod').lists).toBe(listsBefore + 1);
    expect(status('Pod').expired).toBeGreaterThan(0);
    expect(logs.some((l) => l['msg']?.toString().startsWith('resourceVersion expired') && l['how'] === expiredWatch)).toBe(true);
    expect(changes.map((c) => `${c.type} ${c.key}`).sort()).toEqual(['added default/new', 'deleted default/gone', 'updated default/changed']);
    expect(store.snapshot().pods.get('default/changed')?.labels['app']).toBe('db');
    expect(seen).toHaveLength(1); // one batch: deletions and additions of the relist land together
    for (const p of seen) {
      expect(p.policies).toBe(1);
      expect(p.setEntries.has('10.244.1.10')).toBe(true); // pod "keep" stayed programmed throughout
      expect(p.chains).toBeGreaterThan(0);
    }
  });

  it('relists after an ERROR 410 inside an open stream and changes nothing when nothing changed', async () => {
    await sleep(50);
    const listsBefore = lists();
    const pods = store.snapshot().pods;
    changes.length = 0;
    expect(api.expireWatches()).toBe(6);
    await waitFor('every kind relisted', () => lists() === listsBefore + 6, 5000, 10);
    await sleep(100);
    expect(changes).toEqual([]);
    expect(store.snapshot().pods).toBe(pods);
    await createPod('after-expiry', '10.244.1.22');
    await waitFor('pod after expiry', () => store.snapshot().pods.has('default/after-expiry'), 5000, 10);
  });
});
