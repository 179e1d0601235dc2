import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { pod, request } from '../testing/apiserver.js';

let srv: ApiServerHandle;
let base: string;
const req = (m: string, p: string, b?: unknown, h?: Record<string, string>) => request(base, m, p, b, h);

beforeAll(async () => {
  srv = await startApiServer({ port: 0 });
  base = srv.url;
  await req('POST', '/api/v1/namespaces', { metadata: { name: 'rest' } });
  await req('POST', '/api/v1/namespaces', { metadata: { name: 'other' } });
});
afterAll(async () => {
  await srv?.close();
});

describe('create and get', () => {
  it('stamps server fields and pod defaults, resets pod status', async () => {
    const r = await req('POST', '/api/v1/namespaces/rest/pods', { ...pod('p1', { app: 'a' }), status: { phase: 'Running', podIP: '10.0.0.1' } });
    expect(r.status).toBe(201);
    const md = r.body.metadata;
    expect(md.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(md.resourceVersion).toMatch(/^\d+$/);
    expect(md.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(md.generation).toBe(1);
    expect(md.namespace).toBe('rest');
    expect(r.body.status.phase).toBe('Pending');
    expect(r.body.status.podIP).toBeUndefined();
    expect(r.body.spec.containers[0].ports[0].protocol).toBe('TCP');
    const g = await req('GET', '/api/v1/namespaces/rest/pods/p1');
    expect(g.status).toBe(200);
    expect(g.body.metadata.uid).toBe(md.uid);
  });

  it('gives namespaces the metadata.name label', async () => {
    const r = await req('GET', '/api/v1/namespaces/rest');
    expect(r.body.metadata.labels['kubernetes.io/metadata.name']).toBe('rest');
    expect(r.body.status.phase).toBe('Active');
  });

  it('returns Kubernetes Status bodies for errors', async () => {
    const missingNs = await req('POST', '/api/v1/namespaces/nope/pods', pod('x'));
    expect(missingNs.status).toBe(404);
    expect(missingNs.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404, message: 'namespaces "nope" not found', details: { name: 'nope', kind: 'namespaces' } });
    const dup = await req('POST', '/api/v1/namespaces/rest/pods', pod('p1'));
    expect(dup.status).toBe(409);
    expect(dup.body.reason).toBe('AlreadyExists');
    const bad = await req('POST', '/api/v1/namespaces/rest/pods', pod('Bad_Name'));
    expect(bad.status).toBe(422);
    expect(bad.body.reason).toBe('Invalid');
    expect(bad.body.details.causes[0]).toMatchObject({ reason: 'FieldValueInvalid', field: 'metadata.name' });
    const noContainers = await req('POST', '/api/v1/namespaces/rest/pods', { metadata: { name: 'e' }, spec: {} });
    expect(noContainers.status).toBe(422);
    expect(noContainers.body.details.causes.map((c: { field: string }) => c.field)).toContain('spec.containers');
    const garbage = await req('POST', '/api/v1/namespaces/rest/pods', '{not json');
    expect(garbage.status).toBe(400);
    expect(garbage.body.reason).toBe('BadRequest');
    const verb = await req('POST', '/api/v1/namespaces/rest/pods/p1');
    expect(verb.status).toBe(405);
    expect(verb.body.reason).toBe('MethodNotAllowed');
    const nf = await req('GET', '/api/v1/namespaces/rest/pods/zzz');
    expect(nf.body).toMatchObject({ reason: 'NotFound', message: 'pods "zzz" not found' });
    const unknownPatch = await req('PATCH', '/api/v1/namespaces/rest/pods/p1', '{}', { 'Content-Type': 'text/plain' });
    expect(unknownPatch.status).toBe(415);
  });
});

describe('list', () => {
  beforeAll(async () => {
    const specs: [string, Record<string, string>, string?][] = [
      ['l-a', { tier: 'web', env: 'prod' }, 'node-1'],
      ['l-b', { tier: 'web', env: 'dev' }, 'node-2'],
      ['l-c', { tier: 'db' }, 'node-1'],
      ['l-d', {}],
    ];
    for (const [name, labels, node] of specs) {
      const r = await req('POST', '/api/v1/namespaces/rest/pods', pod(name, labels, node ? { nodeName: node } : {}));
      expect(r.status).toBe(201);
    }
    await req('POST', '/api/v1/namespaces/other/pods', pod('l-a', { tier: 'web' }));
  });
  const names = async (q: string, path = '/api/v1/namespaces/rest/pods') => {
    const r = await req('GET', `${path}?${q}`);
    expect(r.status).toBe(200);
    return (r.body.items as { metadata: { name: string; namespace: string } }[]).map((i) => `${i.metadata.namespace}/${i.metadata.name}`).filter((n) => n.includes('/l-'));
  };
  const sel = (s: string) => `labelSelector=${encodeURIComponent(s)}`;

  it('filters by every label selector operator', async () => {
    expect(await names(sel('tier=web'))).toEqual(['rest/l-a', 'rest/l-b']);
    expect(await names(sel('tier==web,env=dev'))).toEqual(['rest/l-b']);
    expect(await names(sel('tier!=web'))).toEqual(['rest/l-c', 'rest/l-d']);
    expect(await names(sel('env in (prod, dev)'))).toEqual(['rest/l-a', 'rest/l-b']);
    expect(await names(sel('tier notin (web)'))).toEqual(['rest/l-c', 'rest/l-d']);
    expect(await names(sel('env'))).toEqual(['rest/l-a', 'rest/l-b']);
    expect(await names(sel('!tier'))).toEqual(['rest/l-d']);
    const bad = await req('GET', `/api/v1/pods?${sel('tier in web')}`);
    expect(bad.status).toBe(400);
  });

  it('filters by field selectors, cluster-wide and namespaced', async () => {
    expect(await names('fieldSelector=spec.nodeName%3Dnode-1')).toEqual(['rest/l-a', 'rest/l-c']);
    expect(await names('fieldSelector=metadata.name%3Dl-a', '/api/v1/pods')).toEqual(['other/l-a', 'rest/l-a']);
    expect(await names('fieldSelector=metadata.name%3Dl-a,metadata.namespace!%3Drest', '/api/v1/pods')).toEqual(['other/l-a']);
    expect(await names(sel('tier=web'), '/api/v1/pods')).toEqual(['other/l-a', 'rest/l-a', 'rest/l-b']);
  });

  it('pages with limit/continue at one resourceVersion', async () => {
    for (let i = 0; i < 23; i++) await req('POST', '/api/v1/namespaces/other/pods', pod(`page-${String(i).padStart(2, '0')}`));
    const seen: string[] = [];
    let cont = '';
    let pages = 0;
    let rv = '';
    do {
      const r = await req('GET', `/api/v1/namespaces/other/pods?limit=10${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      expect(r.status).toBe(200);
      pages++;
      if (!rv) rv = r.body.metadata.resourceVersion;
      expect(r.body.metadata.resourceVersion).toBe(rv);
      expect(r.body.items.length).toBeLessThanOrEqual(10);
      seen.push(...r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name));
      cont = r.body.metadata.continue ?? '';
    } while (cont);
    expect(pages).toBe(3);
    expect(seen.length).toBe(24);
    expect(new Set(seen).size).toBe(24);
    expect([...seen].sort()).toEqual(seen);
    const badToken = await req('GET', '/api/v1/pods?limit=1&continue=garbage');
    expect(badToken.status).toBe(400);
  });
});

describe('update, patch, status, delete', () => {
  it('rejects a stale resourceVersion with 409 Conflict and ignores status on the main resource', async () => {
    const created = (await req('POST', '/api/v1/namespaces/rest/pods', pod('u1', { a: '1' }))).body;
    const ok = await req('PUT', '/api/v1/namespaces/rest/pods/u1', {
      ...created,
      metadata: { ...created.metadata, labels: { a: '2' } },
      status: { phase: 'Running' },
    });
    expect(ok.status).toBe(200);
    expect(Number(ok.body.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(ok.body.status.phase).toBe('Pending');
    expect(ok.body.metadata.generation).toBe(1);
    const stale = await req('PUT', '/api/v1/namespaces/rest/pods/u1', created);
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    expect(stale.body.message).toContain('the object has been modified');
  });

  it('changes only status through /status', async () => {
    const cur = (await req('GET', '/api/v1/namespaces/rest/pods/u1')).body;
    const r = await req('PUT', '/api/v1/namespaces/rest/pods/u1/status', {
      ...cur,
      metadata: { ...cur.metadata, labels: { hacked: 'yes' } },
      spec: { ...cur.spec, nodeName: 'elsewhere' },
      status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] },
    });
    expect(r.status).toBe(200);
    expect(r.body.status.podIP).toBe('10.244.1.5');
    expect(r.body.metadata.labels).toEqual({ a: '2' });
    expect(r.body.spec.nodeName).toBeUndefined();
    const p = await req('PATCH', '/api/v1/namespaces/rest/pods/u1/status', { status: { podIP: 'not-an-ip' } }, { 'Content-Type': 'application/merge-patch+json' });
    expect(p.status).toBe(422);
    expect(p.body.details.causes[0].field).toBe('status.podIP');
  });

  it('applies merge, strategic and JSON patches', async () => {
    const merge = await req('PATCH', '/api/v1/namespaces/rest/pods/u1', { metadata: { labels: { a: null, b: 'x' } } }, { 'Content-Type': 'application/merge-patch+json' });
    expect(merge.status).toBe(200);
    expect(merge.body.metadata.labels).toEqual({ b: 'x' });
    const smp = await req(
      'PATCH',
      '/api/v1/namespaces/rest/pods/u1',
      { spec: { containers: [{ name: 'c', image: 'busybox:1.37' }] } },
      { 'Content-Type': 'application/strategic-merge-patch+json' },
    );
    expect(smp.status).toBe(200);
    expect(smp.body.spec.containers).toHaveLength(1);
    expect(smp.body.spec.containers[0]).toMatchObject({ image: 'busybox:1.37', ports: [{ containerPort: 8080, protocol: 'TCP' }] });
    expect(smp.body.metadata.generation).toBe(2);
    const jp = await req('PATCH', '/api/v1/namespaces/rest/pods/u1', [{ op: 'add', path: '/metadata/annotations', value: { note: 'n' } }], { 'Content-Type': 'application/json-patch+json' });
    expect(jp.body.metadata.annotations).toEqual({ note: 'n' });
    const before = jp.body.metadata.resourceVersion;
    const noop = await req('PATCH', '/api/v1/namespaces/rest/pods/u1', {}, { 'Content-Type': 'application/merge-patch+json' });
    expect(noop.body.metadata.resourceVersion).toBe(before);
    const missing = await req('PATCH', '/api/v1/namespaces/rest/pods/none', {}, { 'Content-Type': 'application/merge-patch+json' });
    expect(missing.status).toBe(404);
  });

  it('server-side apply creates and then merges', async () => {
    const yaml = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssa\n  labels: {x: "1"}\nspec:\n  containers:\n  - name: c\n    image: nginx:1\n';
    const h = { 'Content-Type': 'application/apply-patch+yaml' };
    const first = await req('PATCH', '/api/v1/namespaces/rest/pods/ssa?fieldManager=t', yaml, h);
    expect(first.status).toBe(201);
    const second = await req('PATCH', '/api/v1/namespaces/rest/pods/ssa?fieldManager=t', yaml.replace('x: "1"', 'x: "2"'), h);
    expect(second.status).toBe(200);
    expect(second.body.metadata.labels.x).toBe('2');
    const noManager = await req('PATCH', '/api/v1/namespaces/rest/pods/ssa', yaml, h);
    expect(noManager.status).toBe(400);
  });

  it('deletes with 200 + object, and a namespace takes its objects along', async () => {
    const d = await req('DELETE', '/api/v1/namespaces/rest/pods/ssa');
    expect(d.status).toBe(200);
    expect(d.body.metadata.name).toBe('ssa');
    expect((await req('GET', '/api/v1/namespaces/rest/pods/ssa')).status).toBe(404);
    await req('POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } });
    await req('POST', '/api/v1/namespaces/doomed/pods', pod('x'));
    await req('POST', '/api/v1/namespaces/doomed/services', { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } });
    expect((await req('DELETE', '/api/v1/namespaces/doomed')).status).toBe(200);
    expect((await req('GET', '/api/v1/namespaces/doomed/pods/x')).status).toBe(404);
    expect((await req('GET', '/api/v1/namespaces/doomed/services/s')).status).toBe(404);
    expect((await req('POST', '/api/v1/namespaces/doomed/pods', pod('y'))).status).toBe(404);
  });

  it('keeps objects with finalizers until the last finalizer is removed', async () => {
    await req('POST', '/api/v1/namespaces/rest/pods', { ...pod('fin'), metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const d = await req('DELETE', '/api/v1/namespaces/rest/pods/fin');
    expect(d.body.metadata.deletionTimestamp).toBeTruthy();
    expect((await req('GET', '/api/v1/namespaces/rest/pods/fin')).status).toBe(200);
    const p = await req('PATCH', '/api/v1/namespaces/rest/pods/fin', { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
    expect(p.status).toBe(200);
    expect((await req('GET', '/api/v1/namespaces/rest/pods/fin')).status).toBe(404);
  });
});

describe('discovery and auth', () => {
  it('serves legacy and aggregated discovery', async () => {
    const api = await req('GET', '/api/v1');
    const podsRes = api.body.resources.find((r: { name: string }) => r.name === 'pods');
    expect(podsRes).toMatchObject({ namespaced: true, kind: 'Pod', shortNames: ['po'] });
    expect(podsRes.verbs).toEqual(expect.arrayContaining(['list', 'watch', 'patch']));
    expect(api.body.resources.map((r: { name: string }) => r.name)).toContain('pods/status');
    const np = await req('GET', '/apis/networking.k8s.io/v1');
    expect(np.body.resources[0]).toMatchObject({ name: 'networkpolicies', shortNames: ['netpol'] });
    const groups = await req('GET', '/apis');
    expect(groups.body.groups.map((g: { name: string }) => g.name)).toEqual(expect.arrayContaining(['networking.k8s.io', 'discovery.k8s.io', 'coordination.k8s.io']));
    const agg = await req('GET', '/apis', undefined, { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    expect(agg.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(agg.body.kind).toBe('APIGroupDiscoveryList');
    expect((await req('GET', '/version')).body.minor).toBe('32');
  });

  it('requires the bearer token when one is configured', async () => {
    const s = await startApiServer({ port: 0, token: 'sekret' });
    try {
      expect((await request(s.url, 'GET', '/api/v1/pods')).status).toBe(401);
      expect((await request(s.url, 'GET', '/api/v1/pods', undefined, { Authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await request(s.url, 'GET', '/api/v1/pods', undefined, { Authorization: 'Bearer sekret' })).status).toBe(200);
      expect((await request(s.url, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('malformed input', () => {
  it('answers wrongly shaped objects with 4xx, never 500', async () => {
    const paths = ['/api/v1/namespaces/rest/pods', '/api/v1/namespaces/rest/services', '/api/v1/nodes', '/apis/networking.k8s.io/v1/namespaces/rest/networkpolicies', '/apis/discovery.k8s.io/v1/namespaces/rest/endpointslices'];
    const bodies: unknown[] = [
      null, 1, [], { metadata: 5 }, { metadata: { name: 5 } }, { metadata: { name: 'm', labels: 'x' } },
      { metadata: { name: 'm' }, spec: 'x' },
      { metadata: { name: 'm' }, spec: { containers: [null, { ports: 'x' }], ports: [null, { port: 'http', targetPort: {} }], podSelector: 'x', ingress: [{ from: [{ ipBlock: { cidr: 5 } }] }], podCIDRs: 'x' } },
      { metadata: { name: 'm' }, addressType: 'IPv4', endpoints: [{ addresses: [5] }, null], ports: 'x' },
    ];
    const statuses = new Set<number>();
    for (const p of paths)
      for (const b of bodies) {
        for (const [m, path, ct] of [['POST', p, 'application/json'], ['PATCH', `${p}/m`, 'application/merge-patch+json'], ['PUT', `${p}/m/status`, 'application/json']] as const) {
          const r = await req(m, path, JSON.stringify(b), { 'Content-Type': ct });
          statuses.add(r.status);
          expect(r.status, `${m} ${path} ${JSON.stringify(b)}`).toBeLessThan(500);
          if (r.status >= 400) expect(r.body.kind).toBe('Status');
        }
      }
    expect(statuses.has(422)).toBe(true);
    expect(statuses.has(400)).toBe(true);
  });
});
