// The pure pieces around the core compile: the VIP firewall's sets, topology hints, UDP destinations
// that leave a plan, and the healthCheckNodePort answers. Built from API objects through the real
// normalizers, so what the API server sends is what is tested.
import { describe, expect, it } from 'vitest';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../../model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, NodeModel, ServiceModel } from '../../../model/types.js';
import { compileHealthChecks } from './health-checks.js';
import type { VirtualServer } from './plan.js';
import { compileProxyPlan, type ProxyInputs } from './services.js';
import { preferClose, preferZone } from './topology.js';
import { removedUdpDestinations } from './udp-flush.js';
import { compileVipFirewall, familySet } from './vip-firewall.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

const svc = (name: string, spec: Record<string, unknown>): ServiceModel =>
  ok(normalizeService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name }, spec: { type: 'ClusterIP', ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }], ...spec } }));

type Ep = { ip: string; node: string; ready?: boolean; zones?: string[]; nodes?: string[] };
const slice = (service: string, eps: Ep[], name = `${service}-x`): EndpointSliceModel =>
  ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true },
      ...(e.zones || e.nodes ? { hints: { ...(e.zones ? { forZones: e.zones.map((z) => ({ name: z })) } : {}), ...(e.nodes ? { forNodes: e.nodes.map((n) => ({ name: n })) } : {}) } } : {}),
    })),
  }));

const node: NodeModel = ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1', labels: { 'topology.kubernetes.io/zone': 'a' } }, spec: { podCIDR: '10.244.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }] } }));

const snapshot = (services: ServiceModel[], slices: EndpointSliceModel[]): ClusterSnapshot => ({
  nodes: new Map([['n1', node]]), namespaces: new Map(), pods: new Map(),
  services: new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])),
  endpointSlices: new Map(slices.map((s) => [`${s.namespace}/${s.name}`, s])),
  policies: new Map(),
});

const inputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: ['192.0.2.0/24'], loadBalancerIPRanges: [], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};

const rsOf = (plan: ReturnType<typeof compileProxyPlan>, key: string) => plan.virtualServers.get(key)?.realServers.map((r) => r.address);

describe('VIP firewall compile', () => {
  const plan = compileProxyPlan(snapshot([
    svc('dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }),
    svc('web', { type: 'NodePort', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.10'], ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }),
  ], []), inputs);

  it('accepts exactly the served address/protocol/port triples, and lists every served address', () => {
    const fw = compileVipFirewall(plan.virtualServers, ['172.20.0.11', '127.0.0.1'], [4], true);
    expect(fw.servicePorts.get(4)).toEqual(['10.96.0.10,tcp:53', '10.96.0.10,udp:53', '10.96.0.20,tcp:80', '172.20.0.11,tcp:30080', '192.0.2.10,tcp:80']);
    expect(fw.serviceIPs.get(4)).toEqual(['10.96.0.10', '10.96.0.20', '172.20.0.11', '192.0.2.10']);
    // The node's own address serves a NodePort, yet is never rejected: it is in the local set.
    expect(fw.localIPs.get(4)).toEqual(['127.0.0.1', '172.20.0.11']);
  });

  it('is empty when turned off, and names IPv6 sets as kube-router does', () => {
    const fw = compileVipFirewall(plan.virtualServers, ['172.20.0.11'], [4], false);
    expect(fw.enabled).toBe(false);
    expect(fw.serviceIPs.get(4)).toEqual([]);
    expect(familySet('kube-router-svip', 6)).toBe('inet6:kube-router-svip');
    expect(familySet('kube-router-svip', 4)).toBe('kube-router-svip');
  });
});

describe('topology hints (trafficDistribution: PreferClose)', () => {
  const dns = svc('dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], trafficDistribution: 'PreferClose' });
  const zoned = (zones: (string[] | undefined)[]) => slice('dns', zones.map((z, i) => ({ ip: `10.244.${i}.5`, node: `n${i}`, ...(z ? { zones: z } : {}) })));

  it('uses the endpoints hinted for the node zone', () => {
    const p = compileProxyPlan(snapshot([dns], [zoned([['a'], ['b'], ['a', 'c']])]), { ...inputs, zone: 'a' });
    expect(rsOf(p, 'udp/10.96.0.10:53')).toEqual(['10.244.0.5', '10.244.2.5']);
  });

  it('falls back to every endpoint when one lacks hints, when none is for this zone, or when the node has no zone', () => {
    expect(rsOf(compileProxyPlan(snapshot([dns], [zoned([['a'], undefined, ['b']])]), { ...inputs, zone: 'a' }), 'udp/10.96.0.10:53')).toHaveLength(3);
    expect(rsOf(compileProxyPlan(snapshot([dns], [zoned([['b'], ['c']])]), { ...inputs, zone: 'a' }), 'udp/10.96.0.10:53')).toHaveLength(2);
    expect(rsOf(compileProxyPlan(snapshot([dns], [zoned([['a'], ['b']])]), inputs), 'udp/10.96.0.10:53')).toHaveLength(2);
  });

  it('leaves Local traffic policies alone: node-local beats zone-local', () => {
    const local = svc('dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], internalTrafficPolicy: 'Local' });
    const s = slice('dns', [{ ip: '10.244.0.5', node: 'n1', zones: ['b'] }, { ip: '10.244.1.5', node: 'n2', zones: ['a'] }]);
    expect(rsOf(compileProxyPlan(snapshot([local], [s]), { ...inputs, zone: 'a' }), 'udp/10.96.0.10:53')).toEqual(['10.244.0.5']);
  });

  it('preferZone keeps the input when it cannot trust the hints', () => {
    const e = [{ zoneHints: ['a'] }, { zoneHints: [] as string[] }];
    expect(preferZone(e, 'a')).toBe(e);
    expect(preferZone([], 'a')).toEqual([]);
  });
});

describe('UDP destinations removed between two plans', () => {
  const v = (rs: string[], protocol: 'udp' | 'tcp' = 'udp', address = '10.96.0.10'): VirtualServer => ({
    protocol, address, port: 53, scheduler: 'rr', flags: [], service: { namespace: 'default', name: 'dns', port: 'dns', via: 'clusterIP' },
    realServers: rs.map((a) => ({ address: a, port: 5353, weight: 1 })),
  });
  const m = (...vs: VirtualServer[]) => new Map(vs.map((x) => [`${x.protocol}/${x.address}:${x.port}`, x]));

  it('names each UDP backend the new plan drops, never TCP ones, nothing on the first plan', () => {
    const prev = m(v(['10.244.0.5', '10.244.1.5']), v(['10.244.0.5'], 'tcp'), v(['10.244.2.5'], 'udp', '10.96.0.11'));
    const next = m(v(['10.244.1.5']), v([], 'tcp'));
    expect(removedUdpDestinations(prev, next)).toEqual([
      { vip: '10.96.0.10', port: 53, address: '10.244.0.5', targetPort: 5353 },
      // The whole service went: its backend's flows go too.
      { vip: '10.96.0.11', port: 53, address: '10.244.2.5', targetPort: 5353 },
    ]);
    expect(removedUdpDestinations(undefined, next)).toEqual([]);
    expect(removedUdpDestinations(next, next)).toEqual([]);
  });
});

describe('healthCheckNodePort answers', () => {
  const lb = (name: string, hc: number, etp = 'Local') =>
    svc(name, { type: 'LoadBalancer', clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.30'], externalTrafficPolicy: etp, healthCheckNodePort: hc, ports: [{ name: 'dns', port: 53, nodePort: 30053, protocol: 'UDP' }] });

  it('counts the ready endpoints on this node, for Local LoadBalancer services only', () => {
    const s = snapshot([lb('a', 32001), lb('b', 32002), lb('c', 32003, 'Cluster')], [
      slice('a', [{ ip: '10.244.0.5', node: 'n1' }, { ip: '10.244.0.6', node: 'n1' }, { ip: '10.244.0.7', node: 'n1', ready: false }, { ip: '10.244.1.5', node: 'n2' }]),
      slice('b', [{ ip: '10.244.1.6', node: 'n2' }]),
    ]);
    const hc = compileHealthChecks(s, 'n1');
    expect([...hc]).toEqual([
      [32001, { namespace: 'default', name: 'a', localEndpoints: 2 }],
      [32002, { namespace: 'default', name: 'b', localEndpoints: 0 }],
    ]);
  });

  it('keeps the first service on a port two claim, and says so', () => {
    const said: string[] = [];
    const hc = compileHealthChecks(snapshot([lb('a', 32001), lb('b', 32001)], []), 'n1', (m) => said.push(m));
    expect(hc.get(32001)?.name).toBe('a');
    expect(said).toEqual(['service default/b: healthCheckNodePort 32001 is already served for default/a']);
  });
});

describe('node hints (trafficDistribution: PreferSameNode)', () => {
  const dns = svc('dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], trafficDistribution: 'PreferSameNode' });
  // Endpoint i runs on node n(i+1) in zone z, hinted for its own node and zone, as the EndpointSlice controller writes them.
  const hinted = (eps: { node: string; zone: string; nodes?: string[] }[]) =>
    slice('dns', eps.map((e, i) => ({ ip: `10.244.${i}.5`, node: e.node, zones: [e.zone], ...(e.nodes ? { nodes: e.nodes } : {}) })));
  const rs = (s: EndpointSliceModel, zone = 'a') => rsOf(compileProxyPlan(snapshot([dns], [s]), { ...inputs, zone }), 'udp/10.96.0.10:53');

  it('uses the endpoints hinted for this node, before the zone', () => {
    expect(rs(hinted([{ node: 'n1', zone: 'a', nodes: ['n1'] }, { node: 'n2', zone: 'a', nodes: ['n2'] }, { node: 'n1', zone: 'a', nodes: ['n1'] }]))).toEqual(['10.244.0.5', '10.244.2.5']);
  });

  it('falls back to the zone hints when no endpoint is for this node or one lacks node hints, then to all', () => {
    // None for n1: zone a's.
    expect(rs(hinted([{ node: 'n2', zone: 'a', nodes: ['n2'] }, { node: 'n3', zone: 'b', nodes: ['n3'] }]))).toEqual(['10.244.0.5']);
    // One without node hints: the zone decides (both in a).
    expect(rs(hinted([{ node: 'n1', zone: 'a', nodes: ['n1'] }, { node: 'n2', zone: 'a' }]))).toEqual(['10.244.0.5', '10.244.1.5']);
    // No zone on the node either: every endpoint.
    expect(rsOf(compileProxyPlan(snapshot([dns], [hinted([{ node: 'n2', zone: 'a', nodes: ['n2'] }, { node: 'n3', zone: 'b', nodes: ['n3'] }])]), inputs), 'udp/10.96.0.10:53')).toHaveLength(2);
  });

  it('preferClose works without a zone and keeps the input when nothing is hinted', () => {
    const e = [{ nodeHints: ['n1'] }, { nodeHints: ['n2'] }];
    expect(preferClose(e, 'n1', undefined)).toEqual([{ nodeHints: ['n1'] }]);
    const none = [{}, {}];
    expect(preferClose(none, 'n1', 'a')).toBe(none);
    expect(preferClose([], 'n1', 'a')).toEqual([]);
  });
});
