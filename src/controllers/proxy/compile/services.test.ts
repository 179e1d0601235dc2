import { describe, expect, it } from 'vitest';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../../model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, NodeModel, ServiceModel } from '../../../model/types.js';
import { compileProxyPlan, type ProxyInputs } from './services.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

const svc = (name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}, status: Record<string, unknown> = {}): ServiceModel =>
  ok(normalizeService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name, ...meta }, spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ...spec }, status }));

type Ep = { ip: string; node: string; ready?: boolean; serving?: boolean; terminating?: boolean };
const slice = (service: string, eps: Ep[], port = 8080): EndpointSliceModel =>
  ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `${service}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false } })),
  }));

const node: NodeModel = ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: { podCIDR: '10.244.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }] } }));

function snapshot(services: ServiceModel[], slices: EndpointSliceModel[]): ClusterSnapshot {
  return {
    nodes: new Map([['n1', node]]),
    namespaces: new Map(),
    pods: new Map(),
    services: new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])),
    endpointSlices: new Map(slices.map((s) => [`${s.namespace}/${s.name}`, s])),
    policies: new Map(),
  };
}

const inputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: ['192.0.2.0/24'], loadBalancerIPRanges: ['198.51.100.0/24'], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};

const eps: Ep[] = [{ ip: '10.244.1.5', node: 'n2' }, { ip: '10.244.0.7', node: 'n1' }];

describe('compileProxyPlan', () => {
  it('serves a ClusterIP port with every ready endpoint, round robin, NAT, and holds the VIP', () => {
    const plan = compileProxyPlan(snapshot([svc('web', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] })], [slice('web', eps)]), inputs);
    expect([...plan.virtualServers.keys()]).toEqual(['tcp/10.96.0.10:80']);
    const v = plan.virtualServers.get('tcp/10.96.0.10:80')!;
    expect(v.scheduler).toBe('rr');
    expect(v.realServers).toEqual([{ address: '10.244.0.7', port: 8080, weight: 1 }, { address: '10.244.1.5', port: 8080, weight: 1 }]);
    expect(plan.vips).toEqual(['10.96.0.10']);
    expect(plan.nat).toEqual([{ kind: 'masquerade', exceptCIDRs: ['10.244.0.0/24'], toSource: '172.20.0.11' }]);
  });

  it('skips headless, ExternalName and services for another proxy', () => {
    const s = snapshot([
      svc('headless', { clusterIP: 'None' }),
      svc('ext', { type: 'ExternalName', externalName: 'example.com' }),
      svc('other', { clusterIP: '10.96.0.11', clusterIPs: ['10.96.0.11'] }, { labels: { 'service.kubernetes.io/service-proxy-name': 'cilium' } }),
      svc('ours', { clusterIP: '10.96.0.12', clusterIPs: ['10.96.0.12'] }, { labels: { 'service.kubernetes.io/service-proxy-name': 'kube-router' } }),
    ], []);
    const plan = compileProxyPlan(s, inputs);
    expect([...plan.virtualServers.keys()]).toEqual(['tcp/10.96.0.12:80']);
    expect(plan.vips).toEqual(['10.96.0.12']);
  });

  it('NodePort on the node address, external and LoadBalancer IPs only inside their ranges (strict)', () => {
    const plan = compileProxyPlan(snapshot([svc('lb', {
      type: 'LoadBalancer', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.5', '203.0.113.9'],
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
    }, {}, { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } })], [slice('lb', eps)]), inputs);
    expect([...plan.virtualServers.keys()].sort()).toEqual(['tcp/10.96.0.20:80', 'tcp/172.20.0.11:30080', 'tcp/192.0.2.5:80', 'tcp/198.51.100.7:80']);
    expect(plan.vips).toEqual(['10.96.0.20', '192.0.2.5', '198.51.100.7']);
    expect(plan.skipped.join('\n')).toContain('203.0.113.9 is outside --service-external-ip-range');
  });

  it('traffic policies Local keep only this node\'s endpoints (and none when it has none)', () => {
    const local = svc('loc', {
      type: 'NodePort', clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30'], externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30030, protocol: 'TCP' }],
    });
    const plan = compileProxyPlan(snapshot([local], [slice('loc', eps)]), inputs);
    expect(plan.virtualServers.get('tcp/10.96.0.30:80')!.realServers.map((r) => r.address)).toEqual(['10.244.0.7']);
    expect(plan.virtualServers.get('tcp/172.20.0.11:30030')!.realServers.map((r) => r.address)).toEqual(['10.244.0.7']);
    const remoteOnly = compileProxyPlan(snapshot([local], [slice('loc', [eps[0]!])]), inputs);
    expect(remoteOnly.virtualServers.get('tcp/10.96.0.30:80')!.realServers).toEqual([]);
  });

  it('uses serving terminating endpoints only when none is ready', () => {
    const s = svc('t', { clusterIP: '10.96.0.40', clusterIPs: ['10.96.0.40'] });
    const draining = { ip: '10.244.0.9', node: 'n1', ready: false, serving: true, terminating: true };
    expect(compileProxyPlan(snapshot([s], [slice('t', [draining, eps[0]!])]), inputs).virtualServers.get('tcp/10.96.0.40:80')!.realServers.map((r) => r.address)).toEqual(['10.244.1.5']);
    expect(compileProxyPlan(snapshot([s], [slice('t', [draining])]), inputs).virtualServers.get('tcp/10.96.0.40:80')!.realServers.map((r) => r.address)).toEqual(['10.244.0.9']);
    const gone = { ...draining, serving: false };
    expect(compileProxyPlan(snapshot([s], [slice('t', [gone])]), inputs).virtualServers.get('tcp/10.96.0.40:80')!.realServers).toEqual([]);
  });

  it('scheduler, flags and ClientIP affinity from the service; a bad scheduler is a warning and rr', () => {
    const a = svc('mh', { clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50'], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } },
      { annotations: { 'kube-router.io/service.scheduler': 'mh', 'kube-router.io/service.schedflags': 'flag-1,flag-2' } });
    const b = svc('bad', { clusterIP: '10.96.0.51', clusterIPs: ['10.96.0.51'] }, { annotations: { 'kube-router.io/service.scheduler': 'fastest' } });
    const plan = compileProxyPlan(snapshot([a, b], []), inputs);
    const v = plan.virtualServers.get('tcp/10.96.0.50:80')!;
    expect([v.scheduler, v.flags, v.persistenceSeconds]).toEqual(['mh', ['mh-fallback', 'mh-port'], 60]);
    expect(plan.virtualServers.get('tcp/10.96.0.51:80')!.scheduler).toBe('rr');
    expect(plan.skipped.join('\n')).toContain('"fastest" is not one of rr, lc, dh, sh, mh');
  });

  it('hairpin NAT for local endpoints of services annotated (present, not false) for it; --masquerade-all drops the pod exception', () => {
    const h = svc('hp', { clusterIP: '10.96.0.60', clusterIPs: ['10.96.0.60'] }, { annotations: { 'kube-router.io/service.hairpin': '' } });
    const h2 = svc('hp2', { clusterIP: '10.96.0.61', clusterIPs: ['10.96.0.61'] }, { annotations: { 'kube-router.io/service.hairpin': 'false' } });
    const plan = compileProxyPlan(snapshot([h, h2], [slice('hp', eps), slice('hp2', eps)]), { ...inputs, masqueradeAll: true });
    expect(plan.nat).toEqual([
      { kind: 'masquerade', exceptCIDRs: [], toSource: '172.20.0.11' },
      { kind: 'hairpin', endpoint: '10.244.0.7', vip: '10.96.0.60', port: 80, protocol: 'tcp' },
    ]);
  });
});
