import { describe, expect, it } from 'vitest';
import type { EndpointSliceModel } from '../../../model/types.js';
import { testNode, testService } from '../../../testing/router/memory-cluster.js';
import { routerDefaults } from '../options.js';
import { compileAdvertisements, vipImportRejects } from './advertisements.js';

const self = testNode('n1', '10.0.0.1', ['10.244.1.0/24']);
const base = routerDefaults({}, {});
const slice = (svc: string, node: string, ready = true): EndpointSliceModel => ({
  namespace: 'default', name: `${svc}-abc`, serviceName: svc, addressType: 'IPv4', ports: [],
  endpoints: [{ addresses: ['10.244.1.5'], ready, serving: ready, terminating: false, nodeName: node }],
});
const run = (opts = base, services = [testService('default', 'web', { clusterIPs: ['10.96.0.10'], externalIPs: ['203.0.113.5'], loadBalancerIPs: ['198.51.100.7'] })], slices: EndpointSliceModel[] = []) =>
  compileAdvertisements({ self, podCidrs: ['10.244.1.0/24'], services, endpointSlices: slices, opts }).map((a) => `${a.type} ${a.prefix} ${String(a.to)}`);

describe('compileAdvertisements', () => {
  it('pod CIDR to everyone by default, VIPs off by default', () => {
    expect(run()).toEqual(['pod-cidr 10.244.1.0/24 all']);
  });
  it('pod CIDR only to iBGP with --advertise-pod-cidr=false', () => {
    expect(run({ ...base, advertisePodCidr: false })).toEqual(['pod-cidr 10.244.1.0/24 internal']);
  });
  it('VIPs per flag, as /32 to external peers only with the node IP as next hop', () => {
    const o = { ...base, advertiseClusterIp: true, advertiseExternalIp: true, advertiseLoadbalancerIp: true };
    expect(run(o)).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.10/32 external', 'loadbalancer-ip 198.51.100.7/32 external', 'external-ip 203.0.113.5/32 external']);
    const ads = compileAdvertisements({ self, podCidrs: [], services: [testService('d', 's', { clusterIPs: ['10.96.0.10'] })], endpointSlices: [], opts: o });
    expect(ads[0]!.nextHop).toBe('10.0.0.1');
  });
  it('per-service annotations override the flags both ways', () => {
    const on = testService('default', 'on', { clusterIPs: ['10.96.0.11'], annotations: { 'kube-router.io/service.advertise.clusterip': 'true' } });
    const off = testService('default', 'off', { externalIPs: ['203.0.113.9'], annotations: { 'kube-router.io/service.advertise.externalip': 'false' } });
    expect(run({ ...base, advertiseExternalIp: true }, [on, off])).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.11/32 external']);
  });
  it('withholds VIPs of Local-policy services without a ready local endpoint', () => {
    const o = { ...base, advertiseExternalIp: true, advertiseLoadbalancerIp: true, advertiseClusterIp: true };
    const svc = testService('default', 'web', { clusterIPs: ['10.96.0.10'], externalIPs: ['203.0.113.5'], externalTrafficPolicy: 'Local' });
    expect(run(o, [svc])).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.10/32 external']);
    expect(run(o, [svc], [slice('web', 'n2')])).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.10/32 external']);
    expect(run(o, [svc], [slice('web', 'n1', false)])).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.10/32 external']);
    expect(run(o, [svc], [slice('web', 'n1')])).toEqual(['pod-cidr 10.244.1.0/24 all', 'cluster-ip 10.96.0.10/32 external', 'external-ip 203.0.113.5/32 external']);
  });
  it('kube-router.io/service.local and internalTrafficPolicy Local withhold the cluster IP too', () => {
    const o = { ...base, advertiseClusterIp: true };
    expect(run(o, [testService('default', 'a', { clusterIPs: ['10.96.0.12'], annotations: { 'kube-router.io/service.local': 'true' } })])).toEqual(['pod-cidr 10.244.1.0/24 all']);
    expect(run(o, [testService('default', 'b', { clusterIPs: ['10.96.0.13'], internalTrafficPolicy: 'Local' })])).toEqual(['pod-cidr 10.244.1.0/24 all']);
  });
  it('skips ExternalName services and disabled families', () => {
    const o = { ...base, advertiseClusterIp: true };
    expect(run(o, [testService('d', 'x', { type: 'ExternalName', clusterIPs: ['10.96.0.14'] }), testService('d', 'v6', { clusterIPs: ['fd00::10'] })])).toEqual(['pod-cidr 10.244.1.0/24 all']);
  });
  it('VIPs and service ranges are import rejects', () => {
    expect(vipImportRejects([testService('d', 'x', { externalIPs: ['203.0.113.5'] })], base)).toEqual(['10.96.0.0/12', '203.0.113.5/32']);
  });
});
