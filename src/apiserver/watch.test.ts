import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { openWatch, pod, request } from '../testing/apiserver.js';

let srv: ApiServerHandle;
const req = (m: string, p: string, b?: unknown, h?: Record<string, string>) => request(srv.url, m, p, b, h);
const PODS = '/api/v1/namespaces/w/pods';
const merge = { 'Content-Type': 'application/merge-patch+json' };

beforeAll(async () => {
  srv = await startApiServer({ port: 0, watchHistory: 20, bookmarkIntervalMs: 100 });
  await req('POST', '/api/v1/namespaces', { metadata: { name: 'w' } });
});
afterAll(async () => {
  await srv?.close();
});

describe('watch', () => {
  it('starts with synthetic ADDED events when no resourceVersion is given', async () => {
    await req('POST', PODS, pod('pre-1'));
    await req('POST', PODS, pod('pre-2'));
    const w = openWatch(srv.url, `${PODS}?watch=true`);
    await w.waitFor(2);
    expect(w.events.map((e) => `${e.type}:${e.object.metadata.name}`).sort()).toEqual(['ADDED:pre-1', 'ADDED:pre-2']);
    await req('POST', PODS, pod('live'));
    await w.waitFor(3);
    expect(w.events[2]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'live' } } });
    w.close();
    for (const n of ['pre-1', 'pre-2', 'live']) await req('DELETE', `${PODS}/${n}`);
  });

  it('resumes from a resourceVersion with every later change, in order, on the /watch/ path too', async () => {
    const start = (await req('GET', PODS)).body.metadata.resourceVersion;
    const a = (await req('POST', PODS, pod('r-a'))).body;
    const mod = (await req('PATCH', `${PODS}/r-a`, { metadata: { labels: { v: '2' } } }, merge)).body;
    const del = (await req('DELETE', `${PODS}/r-a`)).body;
    const w = openWatch(srv.url, `/api/v1/watch/namespaces/w/pods?resourceVersion=${start}`);
    await w.waitFor(3);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    const rvs = w.events.map((e) => e.object.metadata.resourceVersion);
    expect(rvs).toEqual([a.metadata.resourceVersion, mod.metadata.resourceVersion, del.metadata.resourceVersion]);
    // The DELETED object carries the deletion's own resourceVersion, newer than the last update.
    expect(Number(rvs[2])).toBeGreaterThan(Number(rvs[1]));
    const fromMod = openWatch(srv.url, `${PODS}?watch=1&resourceVersion=${mod.metadata.resourceVersion}`);
    await fromMod.waitFor(1);
    expect(fromMod.events.map((e) => e.type)).toEqual(['DELETED']);
    w.close();
    fromMod.close();
  });

  it('turns label changes into ADDED/DELETED for a filtered watch', async () => {
    const w = openWatch(srv.url, `${PODS}?watch=true&labelSelector=${encodeURIComponent('role in (db)')}`);
    await w.status;
    await req('POST', PODS, pod('f-1', { role: 'web' }));
    await req('PATCH', `${PODS}/f-1`, { metadata: { labels: { role: 'db' } } }, merge);
    await req('PATCH', `${PODS}/f-1`, { metadata: { labels: { role: 'db', x: '1' } } }, merge);
    await req('PATCH', `${PODS}/f-1`, { metadata: { labels: { role: 'web' } } }, merge);
    await w.waitFor(3);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    w.close();
    await req('DELETE', `${PODS}/f-1`);
  });

  it('answers a resourceVersion older than the history with an ERROR 410 event and ends the stream', async () => {
    const old = (await req('GET', PODS)).body.metadata.resourceVersion;
    for (let i = 0; i < 25; i++) await req('POST', PODS, pod(`h-${i}`));
    const w = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${old}`);
    expect(await w.status).toBe(200);
    await w.ended;
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    // A version from the future (e.g. from before a restart without a data file) must relist too.
    const future = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${Number(old) * 2}`);
    await future.ended;
    expect(future.events[0]?.object.code).toBe(410);
    const bad = await req('GET', `${PODS}?watch=true&resourceVersion=abc`);
    expect(bad.status).toBe(400);
  });

  it('sends BOOKMARK events carrying the current resourceVersion when allowed', async () => {
    const w = openWatch(srv.url, `${PODS}?watch=true&allowWatchBookmarks=true&resourceVersion=${(await req('GET', PODS)).body.metadata.resourceVersion}`);
    await req('POST', PODS, pod('bm'));
    await w.waitFor(2, 3000);
    const bm = w.events.find((e) => e.type === 'BOOKMARK');
    expect(bm?.object).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
    expect(Number(bm!.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(w.events[0]!.object.metadata.resourceVersion));
    const plain = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${bm!.object.metadata.resourceVersion}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(plain.events.filter((e) => e.type === 'BOOKMARK')).toHaveLength(0);
    w.close();
    plain.close();
  });

  it('ends the stream after timeoutSeconds', async () => {
    const t0 = Date.now();
    const w = openWatch(srv.url, `${PODS}?watch=true&timeoutSeconds=1&resourceVersion=${(await req('GET', PODS)).body.metadata.resourceVersion}`);
    await w.ended;
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    // Far below any server-side default (30 min): the 1 s asked for ended it, with room for a loaded machine.
    expect(took).toBeLessThan(10_000);
  }, 15_000);

  it('watches one object through its /watch/ item path and cluster-wide paths', async () => {
    const rv = (await req('GET', PODS)).body.metadata.resourceVersion;
    const one = openWatch(srv.url, `/api/v1/watch/namespaces/w/pods/target?resourceVersion=${rv}`);
    const all = openWatch(srv.url, `/api/v1/pods?watch=true&resourceVersion=${rv}`);
    await req('POST', PODS, pod('other'));
    await req('POST', PODS, pod('target'));
    await one.waitFor(1);
    await all.waitFor(2);
    expect(one.events.map((e) => e.object.metadata.name)).toEqual(['target']);
    expect(all.events.map((e) => e.object.metadata.name)).toEqual(['other', 'target']);
    one.close();
    all.close();
  });
});
