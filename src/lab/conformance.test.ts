import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCases, needsServiceProxy, substitute } from './conformance.js';

const PROJECT = join(__dirname, '..', '..', 'test', 'conformance', 'netpol');

describe('conformance case placeholders', () => {
  const ips = { 'x/a': '10.244.1.7', 'y/b': '10.244.2.9' };
  it('replaces {{clusterip ns/svc}} beside {{ip}} and {{cidr}}, in every string', () => {
    const m = { to: '{{clusterip x/svc-a}}', except: ['{{ip y/b}}/32', '{{cidr x/a 16}}'], n: 80 };
    expect(substitute(m, ips, { 'x/svc-a': '10.96.0.42' })).toEqual({ to: '10.96.0.42', except: ['10.244.2.9/32', '10.244.0.0/16'], n: 80 });
  });
  it('a placeholder for an unknown service is the case error, not a silent literal', () => {
    expect(() => substitute('{{clusterip x/nope}}', ips, {})).toThrow(/unknown service x\/nope/);
  });
});

describe("the project's cases through a Service", () => {
  const cases = loadCases(PROJECT);
  it('load, and only those with a Service or {{clusterip}} need the proxy', () => {
    expect(cases.filter((c) => 'error' in c)).toEqual([]);
    const proxied = cases.filter((c) => !('error' in c) && needsServiceProxy(c)).map((c) => c.name).sort();
    expect(proxied).toEqual(['derived-clusterip-egress-deny-applies-after-dnat', 'derived-clusterip-ingress-deny-applies-after-dnat']);
  });
});
