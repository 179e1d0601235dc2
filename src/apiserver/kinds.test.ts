import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from './index.js';
import { request } from '../testing/apiserver.js';

let srv: ApiServerHandle;
const req = (m: string, p: string, b?: unknown, h?: Record<string, string>) => request(srv.url, m, p, b, h);
const SVC = '/api/v1/namespaces/default/services';
const NP = '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies';
const fields = (r: { body: { details?: { causes?: { field: string }[] } } }) => (r.body.details?.causes ?? []).map((c) => c.field);

beforeAll(async () => {
  srv = await startApiServer({ port: 0, serviceCIDR: '10.96.0.0/12', nodePortRange: '30000-30002' });
});
afterAll(async () => {
  await srv?.close();
});

describe('Service', () => {
  it('defaults a ClusterIP service and allocates from the service CIDR', async () => {
    const r = await req('POST', SVC, { metadata: { name: 'a' }, spec: { selector: { app: 'a' }, ports: [{ port: 80 }] } });
    expect(r.status).toBe(201);
    const s = r.body.spec;
    expect(s).toMatchObject({ type: 'ClusterIP', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
    expect(s.ports[0]).toEqual({ port: 80, protocol: 'TCP', targetPort: 80 });
    expect(s.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    expect(s.clusterIPs).toEqual([s.clusterIP]);
    expect(s.externalTrafficPolicy).toBeUndefined();
    expect(r.body.status).toEqual({ loadBalancer: {} });
  });

  it('allocates node ports for NodePort and LoadBalancer, and reports exhaustion', async () => {
    const np = await req('POST', SVC, { metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ name: 'a', port: 80, targetPort: 'http' }, { name: 'b', port: 81 }] } });
    expect(np.status).toBe(201);
    const ports = np.body.spec.ports.map((p: { nodePort: number }) => p.nodePort);
    expect(new Set(ports).size).toBe(2);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(30000);
    expect(np.body.spec.externalTrafficPolicy).toBe('Cluster');
    expect(np.body.spec.ports[0].targetPort).toBe('http');
    const lb = await req('POST', SVC, { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ port: 443 }] } });
    expect(lb.status).toBe(201);
    expect(lb.body.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    const full = await req('POST', SVC, { metadata: { name: 'full' }, spec: { type: 'NodePort', ports: [{ port: 1 }] } });
    expect(full.status).toBe(422);
    await req('DELETE', `${SVC}/lb`);
    const again = await req('POST', SVC, { metadata: { name: 'full' }, spec: { type: 'NodePort', ports: [{ port: 1 }] } });
    expect(again.status).toBe(201);
  });

  it('rejects a taken or out-of-range clusterIP and keeps the IP across a PUT that omits it', async () => {
    const a = (await req('GET', `${SVC}/a`)).body;
    const taken = await req('POST', SVC, { metadata: { name: 'b' }, spec: { clusterIP: a.spec.clusterIP, ports: [{ port: 80 }] } });
    expect(taken.status).toBe(422);
    expect(taken.body.message).toContain('provided IP is already allocated');
    const outside = await req('POST', SVC, { metadata: { name: 'b' }, spec: { clusterIP: '192.168.0.1', ports: [{ port: 80 }] } });
    expect(outside.status).toBe(422);
    const put = await req('PUT', `${SVC}/a`, { metadata: { name: 'a' }, spec: { ports: [{ port: 8080 }] } });
    expect(put.status).toBe(200);
    expect(put.body.spec.clusterIP).toBe(a.spec.clusterIP);
    const change = await req('PATCH', `${SVC}/a`, { spec: { clusterIP: '10.96.9.9', clusterIPs: ['10.96.9.9'] } }, { 'Content-Type': 'application/merge-patch+json' });
    expect(change.status).toBe(422);
    const headless = await req('POST', SVC, { metadata: { name: 'h' }, spec: { clusterIP: 'None', selector: { a: 'b' } } });
    expect(headless.status).toBe(201);
    expect(headless.body.spec.clusterIPs).toEqual(['None']);
  });

  it('validates ports, names and traffic policy', async () => {
    const r = await req('POST', SVC, {
      metadata: { name: '1bad' },
      spec: { ports: [{ port: 0 }, { port: 70000, protocol: 'ICMP' }], externalTrafficPolicy: 'Local' },
    });
    expect(r.status).toBe(422);
    expect(fields(r)).toEqual(expect.arrayContaining(['metadata.name', 'spec.ports[0].port', 'spec.ports[1].port', 'spec.ports[1].protocol', 'spec.ports[0].name', 'spec.externalTrafficPolicy']));
  });
});

describe('NetworkPolicy', () => {
  it('defaults policyTypes and port protocol', async () => {
    const ing = await req('POST', NP, { metadata: { name: 'ing' }, spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] } });
    expect(ing.status).toBe(201);
    expect(ing.body.spec.policyTypes).toEqual(['Ingress']);
    expect(ing.body.spec.ingress[0].ports[0]).toEqual({ port: 80, protocol: 'TCP' });
    const eg = await req('POST', NP, { metadata: { name: 'eg' }, spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] } });
    expect(eg.body.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const emptyEgress = await req('POST', NP, { metadata: { name: 'ee' }, spec: { podSelector: {}, egress: [] } });
    expect(emptyEgress.body.spec.policyTypes).toEqual(['Ingress']);
    const noSelector = await req('POST', NP, { metadata: { name: 'nosel' }, spec: {} });
    expect(noSelector.body.spec.podSelector).toEqual({});
  });

  it('accepts odd but valid input', async () => {
    const r = await req('POST', NP, {
      metadata: { name: 'odd' },
      spec: {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] },
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '10.1.2.3/8', except: ['10.1.0.0/16'] } },
              { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } },
              { namespaceSelector: {}, podSelector: { matchLabels: { a: 'b' } } },
            ],
            ports: [{ port: 'http' }, { protocol: 'UDP' }, { port: 1000, endPort: 2000 }, { port: 53, endPort: 53, protocol: 'SCTP' }],
          },
        ],
      },
    });
    expect(r.status).toBe(201);
  });

  it('rejects bad CIDRs, excepts outside the CIDR, bad ports and selector operators', async () => {
    const r = await req('POST', NP, {
      metadata: { name: 'bad' },
      spec: {
        podSelector: { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }, { key: 'b', operator: 'In', values: [] }] },
        policyTypes: ['Ingress', 'Sideways'],
        ingress: [
          {
            from: [
              { ipBlock: { cidr: '10.0.0.0/33' } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16', '10.0.0.0/8', 'x'] } },
              { ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} },
              {},
            ],
            ports: [{ port: 0 }, { port: 70000 }, { port: 100, endPort: 50 }, { port: 'http', endPort: 90 }, { endPort: 90 }, { port: 'Not_A_Name' }],
          },
        ],
      },
    });
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    expect(fields(r)).toEqual(
      expect.arrayContaining([
        'spec.podSelector.matchExpressions[0].operator',
        'spec.podSelector.matchExpressions[1].values',
        'spec.policyTypes[1]',
        'spec.ingress[0].from[0].ipBlock.cidr',
        'spec.ingress[0].from[1].ipBlock.except[0]',
        'spec.ingress[0].from[1].ipBlock.except[1]',
        'spec.ingress[0].from[1].ipBlock.except[2]',
        'spec.ingress[0].from[2]',
        'spec.ingress[0].from[3]',
        'spec.ingress[0].ports[0].port',
        'spec.ingress[0].ports[1].port',
        'spec.ingress[0].ports[2].endPort',
        'spec.ingress[0].ports[3].endPort',
        'spec.ingress[0].ports[4].port',
        'spec.ingress[0].ports[5].port',
      ]),
    );
    expect(r.body.message).toContain('must be a strict subset of `cidr`');
  });
});

describe('EndpointSlice and Node', () => {
  it('defaults and validates endpoint slices', async () => {
    const path = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
    const ok = await req('POST', path, {
      metadata: { name: 'a-1', labels: { 'kubernetes.io/service-name': 'a' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true }, nodeName: 'n1' }],
      ports: [{ port: 80 }],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.ports[0]).toEqual({ port: 80, protocol: 'TCP', name: '' });
    const bad = await req('POST', path, { metadata: { name: 'a-2' }, addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }, { addresses: [] }] });
    expect(bad.status).toBe(422);
    expect(fields(bad)).toEqual(expect.arrayContaining(['endpoints[0].addresses[0]', 'endpoints[1].addresses']));
  });

  it('keeps node status on create and syncs podCIDR/podCIDRs', async () => {
    const n = await req('POST', '/api/v1/nodes', {
      metadata: { name: 'node-a' },
      spec: { podCIDRs: ['10.244.1.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.1.10' }] },
    });
    expect(n.status).toBe(201);
    expect(n.body.spec.podCIDR).toBe('10.244.1.0/24');
    expect(n.body.status.addresses[0].address).toBe('192.168.1.10');
    const bad = await req('POST', '/api/v1/nodes', { metadata: { name: 'node-b' }, spec: { podCIDR: '10.244.1.0/33' } });
    expect(bad.status).toBe(422);
  });
});
