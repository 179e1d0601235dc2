import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle } from './index.js';
import { openWatch, pod, request } from '../testing/apiserver.js';
import { parse as parseYAML } from 'yaml';

const dirs: string[] = [];
const servers: ApiServerHandle[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'krt-apiserver-persist-'));
  dirs.push(d);
  return d;
}
async function start(opts: Parameters<typeof startApiServer>[0]): Promise<ApiServerHandle> {
  const s = await startApiServer({ port: 0, ...opts });
  servers.push(s);
  return s;
}

describe('data file', () => {
  it('keeps objects, allocations and monotonic resourceVersions across a restart', async () => {
    const dataFile = join(tmp(), 'state.json');
    const a = await start({ dataFile });
    await request(a.url, 'POST', '/api/v1/namespaces/default/pods', pod('survivor', { k: 'v' }));
    const svc = (await request(a.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 's1' }, spec: { ports: [{ port: 80 }] } })).body;
    const lastRV = Number((await request(a.url, 'GET', '/api/v1/pods')).body.metadata.resourceVersion);
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    expect(JSON.parse(readFileSync(dataFile, 'utf8')).resourceVersion).toBe(lastRV);

    const b = await start({ dataFile });
    const got = await request(b.url, 'GET', '/api/v1/namespaces/default/pods/survivor');
    expect(got.status).toBe(200);
    expect(got.body.metadata.labels).toEqual({ k: 'v' });
    const s2 = (await request(b.url, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 's2' }, spec: { ports: [{ port: 80 }] } })).body;
    expect(s2.spec.clusterIP).not.toBe(svc.spec.clusterIP);
    expect(Number(s2.metadata.resourceVersion)).toBeGreaterThan(lastRV);
    // A client that saw the last version before the restart resumes without relisting.
    const w = openWatch(b.url, `/api/v1/services?watch=true&resourceVersion=${lastRV}`);
    await w.waitFor(1);
    expect(w.events[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 's2' } } });
    w.close();
    // One that claims a version the old process may have issued after the last save must relist.
    const lost = openWatch(b.url, `/api/v1/services?watch=true&resourceVersion=${lastRV + 1}`);
    await lost.ended;
    expect(lost.events[0]?.object.code).toBe(410);
  });

  it('starts empty (with default namespaces) when the data file is corrupt', async () => {
    const dataFile = join(tmp(), 'state.json');
    writeFileSync(dataFile, '{"truncated');
    const logs: string[] = [];
    const s = await start({ dataFile, log: (m) => logs.push(m) });
    const ns = await request(s.url, 'GET', '/api/v1/namespaces');
    expect(ns.body.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    expect(logs.some((l) => l.includes('unreadable'))).toBe(true);
  });
});

describe('listeners and kubeconfig', () => {
  it('serves the same API on a unix socket and writes a usable kubeconfig', async () => {
    const d = tmp();
    const sock = join(d, 'api.sock');
    const s = await start({ unixSocket: sock, token: 't0k' });
    const r = await request('http://localhost', 'GET', '/api/v1/namespaces/default', undefined, { Authorization: 'Bearer t0k' }, sock);
    expect(r.status).toBe(200);
    expect(r.body.metadata.name).toBe('default');
    await s.writeKubeconfig(join(d, 'kc'));
    const kc = parseYAML(readFileSync(join(d, 'kc'), 'utf8'));
    expect(kc.clusters[0].cluster.server).toBe(s.url);
    expect(kc.users[0].user.token).toBe('t0k');
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    expect(existsSync(sock)).toBe(false);
  });
});
