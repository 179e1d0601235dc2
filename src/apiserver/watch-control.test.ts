// The server's hold on its watches, as a real kube-apiserver exercises a client: compaction (410 Gone on
// resume, as an ERROR event or an HTTP 410), watches it closes (timeout, admin), expiry inside an open
// stream, and requests held back so a client misses changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { openWatch, pod, request } from '../testing/apiserver.js';
import { waitFor } from '../testing/wait.js';

const PODS = '/api/v1/namespaces/default/pods';
let srv: ApiServerHandle;
let httpSrv: ApiServerHandle;
const rvOf = async (s: ApiServerHandle, h: Record<string, string> = {}) => (await request(s.url, 'GET', PODS, undefined, h)).body.metadata.resourceVersion as string;

beforeAll(async () => {
  srv = await startApiServer({ port: 0, token: 't0k', bookmarkIntervalMs: 60_000 });
  httpSrv = await startApiServer({ port: 0, expiredWatch: 'http', minRequestTimeoutMs: 150 });
});
afterAll(async () => {
  await srv?.close();
  await httpSrv?.close();
});

const auth = { Authorization: 'Bearer t0k' };
const req = (m: string, p: string, b?: unknown) => request(srv.url, m, p, b, auth);

describe('watch control', () => {
  it('compaction expires older resourceVersions: ERROR 410 in a 200 stream, or HTTP 410', async () => {
    const old = await rvOf(httpSrv);
    await request(httpSrv.url, 'POST', PODS, pod('c1'));
    const resumable = openWatch(httpSrv.url, `${PODS}?watch=true&resourceVersion=${old}`);
    await resumable.waitFor(1);
    expect(resumable.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'c1' } } });
    resumable.close();
    const to = httpSrv.compact();
    expect(to).toBe(httpSrv.resourceVersion());
    const gone = await request(httpSrv.url, 'GET', `${PODS}?watch=true&resourceVersion=${old}`);
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });

    const eventOld = await rvOf(srv, auth);
    await req('POST', PODS, pod('c1'));
    srv.compact();
    const w = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${eventOld}`, auth);
    expect(await w.status).toBe(200);
    await w.ended;
    expect(w.events).toMatchObject([{ type: 'ERROR', object: { code: 410, reason: 'Expired' } }]);
    // From the compaction point on, a resume still works.
    const fresh = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${srv.resourceVersion()}`, auth);
    await req('POST', PODS, pod('c2'));
    await fresh.waitFor(1);
    expect(fresh.events[0]!.type).toBe('ADDED');
    fresh.close();
  });

  it('closes watches on request, with a last BOOKMARK to resume from, only for the named resource', async () => {
    const rv = srv.resourceVersion();
    const pods = openWatch(srv.url, `${PODS}?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, auth);
    const nss = openWatch(srv.url, `/api/v1/namespaces?watch=true&resourceVersion=${rv}`, auth);
    await Promise.all([pods.status, nss.status]);
    await req('POST', PODS, pod('k1'));
    await pods.waitFor(1);
    const res = await req('POST', '/debug/krt/watches/close?resource=pods');
    expect(res.body.closed).toBe(1);
    await pods.ended;
    const last = pods.events.at(-1)!;
    expect(last.type).toBe('BOOKMARK');
    expect(last.object.metadata.resourceVersion).toBe(String(srv.resourceVersion()));
    // The namespaces watch is still open: it sees a new namespace.
    await req('POST', '/api/v1/namespaces', { metadata: { name: 'still-open' } });
    await nss.waitFor(1);
    expect(nss.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'still-open' } } });
    nss.close();
  });

  it('expires open watches: ERROR 410 inside the stream, and the old version is gone', async () => {
    const rv = srv.resourceVersion();
    const w = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${rv}`, auth);
    await w.status;
    await req('POST', PODS, pod('e1'));
    await w.waitFor(1);
    expect((await req('POST', '/debug/krt/watches/expire?resource=pods')).body.expired).toBe(1);
    await w.ended;
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'ERROR']);
    expect(w.events[1]!.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    // The history is compacted to now: resuming from where this watch started is refused too.
    const again = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${rv}`, auth);
    await again.ended;
    expect(again.events[0]?.object.code).toBe(410);
  });

  it('holds new watches unanswered until release, then serves them from the store as it is', async () => {
    const rv = srv.resourceVersion();
    await req('POST', '/debug/krt/watches/hold');
    const w = openWatch(srv.url, `${PODS}?watch=true&resourceVersion=${rv}`, auth);
    let answered = false;
    void w.status.then(() => (answered = true));
    await req('POST', PODS, pod('h1'));
    await req('POST', '/debug/krt/compact');
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    expect((await req('POST', '/debug/krt/watches/release')).body.released).toBe(1);
    await w.ended;
    expect(w.events).toMatchObject([{ type: 'ERROR', object: { code: 410 } }]);
  });

  it('ends a watch without timeoutSeconds after the server minimum request timeout', async () => {
    const w = openWatch(httpSrv.url, `${PODS}?watch=true&allowWatchBookmarks=true&resourceVersion=${httpSrv.resourceVersion()}`);
    expect(await w.status).toBe(200);
    await w.ended;
    expect(w.events.at(-1)?.type).toBe('BOOKMARK');
  });

  it('guards the admin endpoints like the API: token, POST, known operations', async () => {
    expect((await request(srv.url, 'POST', '/debug/krt/compact')).status).toBe(401);
    expect((await req('GET', '/debug/krt/compact')).status).toBe(405);
    expect((await req('POST', '/debug/krt/nothing')).status).toBe(404);
    expect((await req('POST', '/debug/krt/compact?resourceVersion=x')).status).toBe(400);
  });

  it('compacts on its own every compaction interval, to the version of the previous round', async () => {
    const s = await startApiServer({ port: 0, compactionIntervalMs: 50 });
    try {
      const old = await rvOf(s);
      await request(s.url, 'POST', PODS, pod('i1'));
      await waitFor('the old version to expire', async () => {
        const w = openWatch(s.url, `${PODS}?watch=true&resourceVersion=${old}`);
        await w.waitFor(1);
        w.close();
        return w.events[0]!.type === 'ERROR';
      }, 5000, 20);
    } finally {
      await s.close();
    }
  });
});
