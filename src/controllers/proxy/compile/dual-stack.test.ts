// IPv6 and dual-stack services (--enable-ipv6): what the compile makes of each family, and that the IPv4
// half of a dual-stack plan is exactly the IPv4-only plan (turning IPv6 on changes nothing for IPv4).
import { describe, expect, it } from 'vitest';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../../model/normalize/index.js';
import type { ClusterSnapshot, EndpointSliceModel, ServiceModel } from '../../../model/types.js';
import { vipBatch } from '../apply/dummy-link.js';
import { natChainRules } from '../apply/nat-chain.js';
import { proxyConfigError } from '../options.js';
import { ProxyCompiler } from './incremental.js';
import { natRuleFamily, type ProxyPlan } from './plan.js';
import { compileProxyPlan, type ProxyInputs } from './services.js';
import { compileVipFirewall } from './vip-firewall.js';

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};

const V4 = '10.96.0.10';
const V6 = 'fd00:10:96::a';

const svc = (name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): ServiceModel =>
  ok(normalizeService({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name, annotations },
    spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }, { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP', nodePort: 30053 }], ...spec },
  }));

const slice = (service: string, family: 'IPv4' | 'IPv6', eps: { ip: string; node: string }[]): EndpointSliceModel =>
  ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
    metadata: { name: `${service}-${family}`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: true } })),
  }));

const node = ok(normalizeNode({
  apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: { podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'] },
  status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }, { type: 'InternalIP', address: 'fd00:20::11' }] },
}));

function snapshot(services: ServiceModel[], slices: EndpointSliceModel[]): ClusterSnapshot {
  return {
    nodes: new Map([['n1', node]]), namespaces: new Map(), pods: new Map(), policies: new Map(),
    services: new Map(services.map((s) => [`${s.namespace}/${s.name}`, s])),
    endpointSlices: new Map(slices.map((s) => [`${s.namespace}/${s.name}`, s])),
  };
}

const v4only: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'], families: [4],
  externalIPRanges: ['192.0.2.0/24', '2001:db8:1::/64'], loadBalancerIPRanges: [], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};
const dual: ProxyInputs = { ...v4only, nodeIPs: ['172.20.0.11', 'fd00:20::11'], nodePortAddresses: ['172.20.0.11', 'fd00:20::11'], families: [4, 6] };

const web = svc('web', { clusterIP: V4, clusterIPs: [V4, V6], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack', externalIPs: ['192.0.2.5', '2001:db8:1::5', '2001:db8:9::5'] }, { 'kube-router.io/service.hairpin': '' });
const slices = [
  slice('web', 'IPv4', [{ ip: '10.244.0.7', node: 'n1' }, { ip: '10.244.1.5', node: 'n2' }]),
  slice('web', 'IPv6', [{ ip: 'fd00:244::7', node: 'n1' }, { ip: 'fd00:244:0:1::5', node: 'n2' }]),
];
const cluster = snapshot([web], slices);

/** The plan's parts of one family: virtual servers, VIPs and NAT rules. */
function ofFamily(plan: ProxyPlan, f: 4 | 6) {
  const is = (ip: string) => ip.includes(':') === (f === 6);
  return {
    virtualServers: [...plan.virtualServers].filter(([, v]) => is(v.address)),
    vips: plan.vips.filter(is),
    nat: plan.nat.filter((r) => natRuleFamily(r) === f),
  };
}

describe('dual-stack services (--enable-ipv6)', () => {
  const plan = compileProxyPlan(cluster, dual);

  it('serves each family: ClusterIP, NodePort on the node address of that family, external IPs in range', () => {
    expect([...plan.virtualServers.keys()].filter((k) => k.includes('['))).toEqual([
      `tcp/[${V6}]:80`, 'tcp/[2001:db8:1::5]:80', 'tcp/[fd00:20::11]:30080', `udp/[${V6}]:53`, 'udp/[2001:db8:1::5]:53', 'udp/[fd00:20::11]:30053',
    ]);
    expect(plan.virtualServers.get(`tcp/[${V6}]:80`)!.realServers).toEqual([
      { address: 'fd00:244:0:1::5', port: 8080, weight: 1 }, { address: 'fd00:244::7', port: 8080, weight: 1 },
    ]);
    expect(plan.vips).toEqual(['10.96.0.10', '192.0.2.5', '2001:db8:1::5', V6]);
    expect(plan.skipped).toEqual(['service default/web: external IP 2001:db8:9::5 is outside --service-external-ip-range (strict external IP validation)']);
  });

  it('masquerades per family to the node address of that family, except that family\'s pod CIDRs; hairpin per family', () => {
    expect(plan.nat.filter((r) => r.kind === 'masquerade')).toEqual([
      { kind: 'masquerade', exceptCIDRs: ['10.244.0.0/24'], toSource: '172.20.0.11' },
      { kind: 'masquerade', exceptCIDRs: ['fd00:244::/64'], toSource: 'fd00:20::11' },
    ]);
    expect(natChainRules(plan.nat, 6)).toEqual([
      `-s fd00:244::7/128 -d fd00:244::7/128 -p tcp -m ipvs --vaddr ${V6}/128 --vport 80 -m comment --comment "hairpin ${V6}:80" -j SNAT --to-source ${V6}`,
      `-s fd00:244::7/128 -d fd00:244::7/128 -p udp -m ipvs --vaddr ${V6}/128 --vport 53 -m comment --comment "hairpin ${V6}:53" -j SNAT --to-source ${V6}`,
      '-s fd00:244::/64 -j RETURN', '-d fd00:244::/64 -j RETURN',
      '-m ipvs --vmethod MASQ -m comment --comment "masquerade IPVS traffic" -j SNAT --to-source fd00:20::11',
    ]);
    expect(natChainRules(plan.nat, 4).every((r) => !/fd00:|2001:/.test(r))).toBe(true);
  });

  it('its IPv4 half is exactly the IPv4-only plan, but for the note that IPv6 is off', () => {
    const only = compileProxyPlan(cluster, v4only);
    expect(ofFamily(plan, 4)).toEqual(ofFamily(only, 4));
    // One note for the family, not a second one about the range of an address that is not served anyway.
    expect(only.skipped).toEqual([`service default/web: IPv6 addresses ${V6}, 2001:db8:1::5, 2001:db8:9::5 not served (--enable-ipv6 is off)`]);
    expect(ofFamily(only, 6)).toEqual({ virtualServers: [], vips: [], nat: [] });
  });

  it('an IPv6-only service with IPv6 off is left out with a reason, not an error', () => {
    const v6svc = svc('v6', { clusterIP: 'fd00:10:96::b', clusterIPs: ['fd00:10:96::b'], ipFamilies: ['IPv6'] });
    const p = compileProxyPlan(snapshot([v6svc], [slice('v6', 'IPv6', [{ ip: 'fd00:244::9', node: 'n1' }])]), v4only);
    expect(p.virtualServers.size).toBe(0);
    expect(p.skipped).toEqual(['service default/v6: IPv6 addresses fd00:10:96::b not served (--enable-ipv6 is off)']);
  });

  it('a single-stack service is served in its family only: no NodePort of the other, its external IPs of the other said', () => {
    const one = svc('one', { clusterIP: V4, clusterIPs: [V4], ipFamilies: ['IPv4'], externalIPs: ['2001:db8:1::6'] });
    const p = compileProxyPlan(snapshot([one], [slices[0]!]), dual);
    expect([...p.virtualServers.keys()].some((k) => k.includes('['))).toBe(false);
    expect(p.skipped).toEqual(['service default/one: IPv6 addresses 2001:db8:1::6 not served (the service has no IPv6 cluster IP)']);
  });

  it('an IPv6-only node (--enable-ipv4=false) masquerades and serves NodePorts in IPv6 alone', () => {
    const p = compileProxyPlan(cluster, { ...dual, families: [6], nodeIP: 'fd00:20::11', nodeIPs: ['fd00:20::11'], nodePortAddresses: ['fd00:20::11'] });
    expect([...p.virtualServers.values()].every((v) => v.address.includes(':'))).toBe(true);
    expect(p.nat.filter((r) => r.kind === 'masquerade')).toEqual([{ kind: 'masquerade', exceptCIDRs: ['fd00:244::/64'], toSource: 'fd00:20::11' }]);
    expect(p.skipped[0]).toBe('service default/web: IPv4 addresses 10.96.0.10, 192.0.2.5 not served (--enable-ipv4 is off)');
  });

  it('the incremental compiler gives the full compile\'s plan, dual-stack, through changes of either family', () => {
    const c = new ProxyCompiler();
    expect(c.compile(cluster, dual)).toEqual(plan);
    const moved = [slices[0]!, slice('web', 'IPv6', [{ ip: 'fd00:244::8', node: 'n1' }])];
    expect(c.compile(snapshot([web], moved), dual)).toEqual(compileProxyPlan(snapshot([web], moved), dual));
    expect(c.compile(snapshot([], []), dual)).toEqual(compileProxyPlan(snapshot([], []), dual));
  });

  it('DSR over IPv6 is not built: the IPv6 addresses of a DSR service are served in NAT mode, and said so', () => {
    const d = svc('d', { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }], clusterIP: V4, clusterIPs: [V4, V6], externalIPs: ['2001:db8:1::5'] }, { 'kube-router.io/service.dsr': 'tunnel' });
    const p = compileProxyPlan(snapshot([d], []), dual);
    expect(p.virtualServers.get('tcp/[2001:db8:1::5]:80')?.fwmark).toBeUndefined();
    expect(p.skipped).toContain('service default/d port http: DSR is IPv4 only so far; its IPv6 addresses are served in NAT mode');
  });

  it('the VIP firewall sets are per family: inet6 entries for IPv6 services', () => {
    const fw = compileVipFirewall(plan.virtualServers, ['172.20.0.11', 'fd00:20::11'], [4, 6], true);
    expect(fw.servicePorts.get(6)).toEqual(['2001:db8:1::5,tcp:80', '2001:db8:1::5,udp:53', `${V6},tcp:80`, `${V6},udp:53`, 'fd00:20::11,tcp:30080', 'fd00:20::11,udp:30053']);
    expect(fw.localIPs.get(6)).toEqual(['fd00:20::11']);
    expect(fw.servicePorts.get(4)!.every((e) => !/fd00:|2001:/.test(e))).toBe(true);
  });
});

describe('kube-dummy-if lines for IPv6 VIPs', () => {
  it('adds without DAD, puts a route with the node IPv6 source in place of the kernel\'s, removes it by name', () => {
    expect(vipBatch([V6, V4], [], ['172.20.0.11', 'fd00:20::11'])).toEqual([
      `addr add ${V6}/128 dev kube-dummy-if nodad`,
      `route del local ${V6} dev kube-dummy-if table local`,
      `route replace local ${V6} dev kube-dummy-if table local proto kernel scope host src fd00:20::11`,
      `addr add ${V4}/32 dev kube-dummy-if`,
      `route replace local ${V4} dev kube-dummy-if table local proto kernel scope host src 172.20.0.11`,
    ]);
    expect(vipBatch([], [V6, V4], undefined)).toEqual([
      `route replace local ${V6} dev kube-dummy-if table local proto kernel scope host`,
      `route del local ${V6} dev kube-dummy-if table local proto kernel metric 1024`,
      `addr del ${V6}/128 dev kube-dummy-if`,
      `addr del ${V4}/32 dev kube-dummy-if`,
    ]);
  });

  it('an IPv6 VIP without a node IPv6 address keeps the kernel\'s route', () => {
    expect(vipBatch([V6], [], '172.20.0.11')).toEqual([`addr add ${V6}/128 dev kube-dummy-if nodad`]);
  });
});

describe('start-up checks', () => {
  it('--enable-ipv6 needs an IPv6 service range; IPv4 on needs an IPv4 one', () => {
    expect(proxyConfigError({ enableIpv4: true, enableIpv6: false, serviceClusterIpRange: ['10.96.0.0/12'] })).toBeUndefined();
    expect(proxyConfigError({ enableIpv4: true, enableIpv6: true, serviceClusterIpRange: ['10.96.0.0/12', 'fd00:10:96::/112'] })).toBeUndefined();
    expect(proxyConfigError({ enableIpv4: false, enableIpv6: true, serviceClusterIpRange: ['fd00:10:96::/112'] })).toBeUndefined();
    expect(proxyConfigError({ enableIpv4: true, enableIpv6: true, serviceClusterIpRange: ['10.96.0.0/12'] })).toBe(
      'service proxy: --enable-ipv6 needs an IPv6 --service-cluster-ip-range beside the IPv4 one (e.g. --service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/112); have 10.96.0.0/12',
    );
    expect(proxyConfigError({ enableIpv4: true, enableIpv6: true, serviceClusterIpRange: ['fd00:10:96::/112'] })).toMatch(/--enable-ipv4 \(on by default\) needs an IPv4 --service-cluster-ip-range/);
  });
});
