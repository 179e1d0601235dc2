// The install-manifest kinds (ServiceAccount, ConfigMap, DaemonSet, ClusterRole, ClusterRoleBinding):
// stored and served like the others, refused where a real API server refuses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { request } from '../testing/apiserver.js';

let srv: ApiServerHandle;
const req = (m: string, p: string, b?: unknown) => request(srv.url, m, p, b);
const fields = (r: { body: { details?: { causes?: { field: string }[] } } }) => (r.body.details?.causes ?? []).map((c) => c.field);

beforeAll(async () => {
  srv = await startApiServer({ port: 0 });
});
afterAll(async () => {
  await srv?.close();
});

const DS = '/apis/apps/v1/namespaces/default/daemonsets';
const ds = (labels: Record<string, string>, mountName = 'v') => ({
  metadata: { name: 'agent' },
  spec: {
    selector: { matchLabels: { app: 'agent' } },
    template: {
      metadata: { labels },
      spec: { containers: [{ name: 'a', image: 'img', volumeMounts: [{ name: mountName, mountPath: '/x' }] }], volumes: [{ name: 'v', hostPath: { path: '/x' } }] },
    },
  },
});

describe('install-manifest kinds', () => {
  it('are in discovery', async () => {
    const apps = await req('GET', '/apis/apps/v1');
    expect(apps.body.resources.map((r: { name: string }) => r.name)).toContain('daemonsets');
    const rbac = await req('GET', '/apis/rbac.authorization.k8s.io/v1');
    expect(rbac.body.resources.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['clusterroles', 'clusterrolebindings']));
    const core = await req('GET', '/api/v1');
    expect(core.body.resources.map((r: { name: string }) => r.name)).toEqual(expect.arrayContaining(['configmaps', 'serviceaccounts']));
  });

  it('store a DaemonSet with defaults, and refuse one whose selector misses its template or whose mount has no volume', async () => {
    const ok = await req('POST', DS, ds({ app: 'agent' }));
    expect(ok.status).toBe(201);
    expect(ok.body.spec.updateStrategy.type).toBe('RollingUpdate');
    expect(ok.body.status.desiredNumberScheduled).toBe(0);
    expect((await req('GET', `${DS}/agent`)).body.metadata.uid).toBe(ok.body.metadata.uid);
    const bad = await req('POST', DS, { ...ds({ app: 'other' }, 'nope'), metadata: { name: 'bad' } });
    expect(bad.status).toBe(422);
    expect(fields(bad)).toEqual(['spec.template.metadata.labels', 'spec.template.spec.containers[0].volumeMounts[0].name']);
  });

  it('dry-run creates nothing', async () => {
    const r = await req('POST', `${DS}?dryRun=All`, { ...ds({ app: 'agent' }), metadata: { name: 'dry' } });
    expect(r.status).toBe(201);
    expect((await req('GET', `${DS}/dry`)).status).toBe(404);
  });

  it('check ConfigMap data, ClusterRole rules and ClusterRoleBinding roleRef', async () => {
    const cm = await req('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'c' }, data: { 'ok.json': '{}', 'bad key': 1 } });
    expect(cm.status).toBe(422);
    expect(fields(cm)).toEqual(['data[bad key]', 'data[bad key]']);
    const role = await req('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { metadata: { name: 'r' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: [] }] });
    expect(fields(role)).toEqual(['rules[0].verbs']);
    const B = '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings';
    const binding = { metadata: { name: 'b' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'ServiceAccount', name: 's', namespace: 'default' }] };
    expect((await req('POST', B, binding)).status).toBe(201);
    const changed = await req('PUT', `${B}/b`, { ...binding, roleRef: { ...binding.roleRef, name: 'other' } });
    expect(changed.status).toBe(422);
    expect(fields(changed)).toEqual(['roleRef']);
    const noNs = await req('POST', B, { ...binding, metadata: { name: 'c' }, subjects: [{ kind: 'ServiceAccount', name: 's' }] });
    expect(fields(noNs)).toEqual(['subjects[0].namespace']);
  });
});
