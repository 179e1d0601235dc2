// Dual-stack Services on the lab API server (two --service-cluster-ip-range ranges), as the real one
// allocates and validates them: ipFamilyPolicy, ipFamilies (order = clusterIPs order), clusterIPs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { request } from '../testing/apiserver.js';

let srv: ApiServerHandle;
const SVC = '/api/v1/namespaces/default/services';
const create = (name: string, spec: Record<string, unknown>) => request(srv.url, 'POST', SVC, { metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });
const causes = (r: { body: { details?: { causes?: { field: string; message: string }[] } } }) => (r.body.details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);

beforeAll(async () => {
  srv = await startApiServer({ port: 0, serviceCIDR: '10.96.0.0/12,fd00:10:96::/112', nodePortRange: '30000-30100' });
});
afterAll(async () => {
  await srv?.close();
});

describe('dual-stack Services', () => {
  it('SingleStack (the default) takes the first range; PreferDualStack and RequireDualStack take one IP of each, primary first', async () => {
    const single = await create('single', {});
    expect(single.body.spec).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] });
    expect(single.body.spec.clusterIPs).toHaveLength(1);

    const prefer = await create('prefer', { ipFamilyPolicy: 'PreferDualStack' });
    expect(prefer.status).toBe(201);
    expect(prefer.body.spec.ipFamilies).toEqual(['IPv4', 'IPv6']);
    const [v4, v6] = prefer.body.spec.clusterIPs;
    expect(v4).toMatch(/^10\./);
    expect(v6).toMatch(/^fd00:10:96::/);
    expect(prefer.body.spec.clusterIP).toBe(v4);

    const v6first = await create('v6first', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] });
    expect(v6first.body.spec.ipFamilies).toEqual(['IPv6', 'IPv4']);
    expect(v6first.body.spec.clusterIP).toMatch(/^fd00:10:96::/);
    expect(v6first.body.spec.clusterIPs[1]).toMatch(/^10\./);

    const only6 = await create('only6', { ipFamilies: ['IPv6'] });
    expect(only6.body.spec).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] });
    expect(only6.body.spec.clusterIPs).toEqual([only6.body.spec.clusterIP]);
  });

  it('requested clusterIPs give the families in their order', async () => {
    const r = await create('asked', { ipFamilyPolicy: 'PreferDualStack', clusterIPs: ['fd00:10:96::100', '10.96.1.100'] });
    expect(r.status).toBe(201);
    expect(r.body.spec).toMatchObject({ clusterIP: 'fd00:10:96::100', clusterIPs: ['fd00:10:96::100', '10.96.1.100'], ipFamilies: ['IPv6', 'IPv4'] });
  });

  it('refuses what the real server refuses: two families with SingleStack, a duplicate family, an IP of the wrong family', async () => {
    const two = await create('two', { clusterIPs: ['10.96.1.101', 'fd00:10:96::101'] });
    expect(two.status).toBe(422);
    expect(causes(two)).toEqual([expect.stringMatching(/^spec\.ipFamilyPolicy: .*must be RequireDualStack or PreferDualStack/)]);
    const dup = await create('dup', { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv4'] });
    expect(dup.status).toBe(422);
    expect(causes(dup)[0]).toMatch(/^spec\.ipFamilies\[1\]: Duplicate value/);
    const wrong = await create('wrong', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], clusterIPs: ['10.96.1.102', '10.96.1.103'] });
    expect(wrong.status).toBe(422);
    expect(causes(wrong)).toContainEqual(expect.stringMatching(/^spec\.clusterIPs\[1\]: .*expected an IPv6 value as indicated by `ipFamilies\[1\]`/));
  });
});
