// The applier with IPv6 on: the NAT chain in ip6tables beside iptables (same layout, each family's rules),
// IPv6 VIPs on kube-dummy-if, and cleanup of both families. The kernel's side is proven in UML
// (test/proxy-ipv6.uml.test.ts); this is the bookkeeping against the fake kernel.
import { describe, expect, it } from 'vitest';
import { FakeProxyKernel } from '../../../testing/proxy/fake-kernel.js';
import { EMPTY_DSR } from '../compile/dsr.js';
import { virtualServerKey, type ProxyPlan, type VirtualServer } from '../compile/plan.js';
import { ProxyApplier } from './applier.js';
import { NAT_CHAIN } from './nat-chain.js';

const vs = (address: string, ep: string): VirtualServer => ({
  protocol: 'tcp', address, port: 80, scheduler: 'rr', flags: [], realServers: [{ address: ep, port: 8080, weight: 1 }],
  service: { namespace: 'default', name: 'web', port: 'http', via: 'clusterIP' },
});

const plan = (servers: VirtualServer[]): ProxyPlan => ({
  virtualServers: new Map(servers.map((v) => [virtualServerKey(v), v])),
  vips: [...new Set(servers.map((v) => v.address))].sort(),
  nat: [
    { kind: 'masquerade', exceptCIDRs: ['10.244.0.0/24'], toSource: '172.20.0.11' },
    { kind: 'masquerade', exceptCIDRs: ['fd00:244::/64'], toSource: 'fd00:20::11' },
  ],
  skipped: [],
  dsr: EMPTY_DSR,
});

const opts = { nodePortAddresses: ['172.20.0.11', 'fd00:20::11'], nodeIP: '172.20.0.11', nodeIPs: ['172.20.0.11', 'fd00:20::11'] };
const make = (k: FakeProxyKernel, families: (4 | 6)[]) =>
  new ProxyApplier({ exec: k.exec, backend: 'legacy', nodePortRange: { min: 30000, max: 32767 }, excludedCIDRs: [], gracefulPeriodMs: 0, families });

describe('ProxyApplier, dual-stack', () => {
  it('keeps the NAT chain in both tables, each with its family\'s rules, and rewrites neither when nothing changed', async () => {
    const k = new FakeProxyKernel();
    const a = make(k, [4, 6]);
    const p = plan([vs('10.96.0.10', '10.244.0.7'), vs('fd00:10:96::a', 'fd00:244::7')]);
    await a.apply(p, { full: true, ...opts });
    expect(k.vips()).toEqual(['10.96.0.10', 'fd00:10:96::a', 'fe80::44c9:39ff:fef9:ad4a']);
    expect(k.nat.get(NAT_CHAIN)!.at(-1)).toMatch(/--to-source 172\.20\.0\.11$/);
    expect(k.nat6.get(NAT_CHAIN)).toEqual([
      '-s fd00:244::/64 -j RETURN', '-d fd00:244::/64 -j RETURN',
      '-m ipvs --vmethod MASQ -m comment --comment "masquerade IPVS traffic" -j SNAT --to-source fd00:20::11',
    ]);
    expect(k.nat6.get('POSTROUTING')).toEqual(k.nat.get('POSTROUTING'));
    const again = await a.apply(p, { full: true, ...opts });
    expect(again.natChanged).toBe(false);

    await a.cleanup(opts.nodePortAddresses);
    expect(k.nat6.has(NAT_CHAIN)).toBe(false);
    expect(k.nat.has(NAT_CHAIN)).toBe(false);
    expect(k.nat6.get('POSTROUTING')).toEqual([]);
  });

  it('IPv4 only (the default): ip6tables is never run, and cleanup still removes an IPv6 chain an earlier run left', async () => {
    const k = new FakeProxyKernel();
    await make(k, [4, 6]).apply(plan([vs('fd00:10:96::a', 'fd00:244::7')]), { full: true, ...opts });
    const only4 = make(k, [4]);
    k.runs.clear();
    await only4.apply(plan([]), { full: true, ...opts });
    expect([...k.runs.keys()].some((c) => c.startsWith('ip6tables'))).toBe(false);
    await only4.cleanup(opts.nodePortAddresses);
    expect(k.nat6.has(NAT_CHAIN)).toBe(false);
  });
});
