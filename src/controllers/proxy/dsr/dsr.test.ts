import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ipvsadmLine } from '../../../dataplane/ipvs/ipvsadm.js';
import { diffIpvs, kernelTable, parseIpvsSave } from '../apply/ipvs-table.js';
import type { DsrPlan, VirtualServer } from '../compile/plan.js';
import { desiredRoutes, desiredRules, dsrChainRules, parseRoutes, parseRules, policyBatch } from './node-rules.js';
import { listNetns, parseNetnsView } from './pod-netns.js';
import { tunnelBatch } from './pod-tunnel.js';

const plan: DsrPlan = {
  marks: [
    { vip: '192.0.2.20', protocol: 'tcp', port: 80, fwmark: 0x7b, service: 'default/web' },
    { vip: '192.0.2.20', protocol: 'udp', port: 53, fwmark: 0x7c, service: 'default/dns' },
  ],
  tcpMss: 1440,
  bridgeRoutes: ['192.0.2.20'],
  pods: [{ podIP: '10.244.0.7', vips: ['192.0.2.20'] }],
};

describe('DSR on the node', () => {
  it('renders the mangle chain exactly as iptables-save prints it (checked against iptables 1.8.9)', () => {
    expect(dsrChainRules(plan)).toEqual([
      '-d 192.0.2.20/32 -p tcp -m tcp --dport 80 -m comment --comment "DSR default/web" -j MARK --set-xmark 0x7b/0xffffffff',
      '-s 192.0.2.20/32 -i kube-bridge -p tcp -m tcp --sport 80 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1440',
      '-d 192.0.2.20/32 -p udp -m udp --dport 53 -m comment --comment "DSR default/dns" -j MARK --set-xmark 0x7c/0xffffffff',
    ]);
  });

  it('reads back only its own policy rules and converges by difference', () => {
    const shown = `0:\tfrom all lookup local
100:\tfrom all fwmark 0x7b lookup 78
32764:\tfrom all fwmark 0x7b lookup 78
32764:\tfrom all fwmark 0x99 lookup 78
32765:\tfrom all lookup 79
32766:\tfrom all lookup main
`;
    const have = { rules: parseRules(shown), routes: [...parseRoutes(78, 'local default dev lo scope host \n'), ...parseRoutes(79, '192.0.2.99 dev kube-bridge scope link linkdown\n')] };
    expect(have.rules).toEqual([{ priority: 32764, fwmark: 0x7b, table: 78 }, { priority: 32764, fwmark: 0x99, table: 78 }, { priority: 32765, table: 79 }]);
    expect(policyBatch({ rules: desiredRules(plan), routes: desiredRoutes(plan) }, have)).toEqual([
      'route replace 192.0.2.20 dev kube-bridge scope link table 79',
      'rule add prio 32764 fwmark 0x7c table 78',
      'rule del prio 32764 fwmark 0x99 table 78',
      'route del 192.0.2.99 dev kube-bridge scope link table 79',
    ]);
    // Applied: nothing more to do (a restart converges without churn).
    const now = { rules: desiredRules(plan), routes: desiredRoutes(plan) };
    expect(policyBatch(now, { rules: parseRules('32764:\tfrom all fwmark 0x7b lookup 78\n32764:\tfrom all fwmark 0x7c lookup 78\n32765:\tfrom all lookup 79\n'), routes: [...parseRoutes(78, 'local default dev lo scope host'), ...parseRoutes(79, '192.0.2.20 dev kube-bridge scope link')] })).toEqual([]);
    // No DSR service: every rule and route goes.
    const none: DsrPlan = { marks: [], tcpMss: 1440, bridgeRoutes: [], pods: [] };
    expect(policyBatch({ rules: desiredRules(none), routes: desiredRoutes(none) }, now)).toEqual([
      'rule del prio 32764 fwmark 0x7b table 78', 'rule del prio 32764 fwmark 0x7c table 78', 'rule del prio 32765 table 79',
      'route del local default dev lo scope host table 78', 'route del 192.0.2.20 dev kube-bridge scope link table 79',
    ]);
  });

  it('diffs fwmark services with tunnel destinations into typed operations and ipvsadm -R lines, and reads them back', () => {
    const v: VirtualServer = {
      fwmark: 0x7b, protocol: 'tcp', address: '192.0.2.20', port: 80, scheduler: 'rr', flags: [],
      realServers: [{ address: '10.244.0.7', port: 80, weight: 1, forward: 'tunnel', localPod: true }, { address: '10.244.1.5', port: 80, weight: 1, forward: 'tunnel' }],
      service: { namespace: 'default', name: 'web', port: 'http', via: 'externalIP' },
    };
    const o = { owned: () => true, graceful: false, keepDraining: new Set<string>() };
    const d = diffIpvs(new Map([['fwmark/123', v]]), new Map(), o);
    // What both writers get: an IPv4 fwmark service (no protocol, address or port) and IPIP destinations on the service port.
    expect(d.ops[0]).toEqual({ op: 'add-service', service: { fwmark: 123, family: 4, scheduler: 'rr', flags: [] } });
    expect(d.ops[1]).toEqual({ op: 'add-dest', service: { fwmark: 123, family: 4 }, dest: { address: '10.244.0.7', port: 80, weight: 1, method: 'i' } });
    expect(d.ops.map(ipvsadmLine)).toEqual(['-A -f 123 -s rr', '-a -f 123 -r 10.244.0.7:80 -i -w 1', '-a -f 123 -r 10.244.1.5:80 -i -w 1']);
    const kernel = parseIpvsSave('-A -f 123 -s rr\n-a -f 123 -r 10.244.0.7:80 -i -w 1\n-a -f 123 -r 10.244.1.5:80 -m -w 1\n-A -f 999 -s rr\n');
    expect([...kernel.keys()]).toEqual(['fwmark/123', 'fwmark/999']);
    // A destination in the wrong method is edited; a fwmark service that is not ours is left alone.
    const again = diffIpvs(new Map([['fwmark/123', v]]), kernel, { ...o, owned: (k) => k.fwmark === 123 });
    expect(again.ops.map(ipvsadmLine)).toEqual(['-e -f 123 -r 10.244.1.5:80 -i -w 1']);
    const gone = diffIpvs(new Map(), kernel, { ...o, owned: (k) => k.fwmark === 123 });
    expect(gone.ops.map(ipvsadmLine)).toEqual(['-D -f 123']);
    // Applied as planned (a netlink dump): nothing to do. An IPv6 fwmark service is never ours, not even read.
    const dumped = kernelTable([
      { fwmark: 123, family: 4, scheduler: 'rr', flags: [], dests: [{ address: '10.244.0.7', port: 80, weight: 1, method: 'i' }, { address: '10.244.1.5', port: 80, weight: 1, method: 'i' }] },
      { fwmark: 123, family: 6, scheduler: 'rr', flags: [], dests: [] },
    ]);
    expect([...dumped.keys()]).toEqual(['fwmark/123']);
    expect(diffIpvs(new Map([['fwmark/123', v]]), dumped, { ...o, owned: () => true }).ops).toEqual([]);
  });
});

describe('DSR in the pod', () => {
  it('finds addresses and the tunnel interface in `ip -o -batch` output', () => {
    const out = `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ipip 0.0.0.0 brd 0.0.0.0
3: kube-tunnel-if@NONE: <NOARP,UP,LOWER_UP> mtu 1480 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/ipip 10.244.0.7 brd 0.0.0.0
4: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 3e:1c:55:aa:01:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
3: kube-tunnel-if    inet 192.0.2.20/32 scope global kube-tunnel-if\\       valid_lft forever preferred_lft forever
4: eth0    inet 10.244.0.7/24 brd 10.244.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
`;
    expect(parseNetnsView('/run/netns/p', out)).toEqual({ path: '/run/netns/p', addresses: ['10.244.0.7'], tunnelVips: ['192.0.2.20'] });
    // An interface without addresses is still seen (so it is not created twice).
    expect(parseNetnsView('/p', out.split('\n').filter((l) => !l.includes('192.0.2.20')).join('\n')).tunnelVips).toEqual([]);
    expect(parseNetnsView('/p', out.split('\n').filter((l) => !l.includes('kube-tunnel-if')).join('\n')).tunnelVips).toBeUndefined();
  });

  it('changes a pod tunnel by difference: create, add and remove VIPs, delete', () => {
    expect(tunnelBatch('10.244.0.7', undefined, ['192.0.2.20'])).toEqual([
      'link add kube-tunnel-if type ipip local 10.244.0.7', 'link set kube-tunnel-if up', 'addr add 192.0.2.20/32 dev kube-tunnel-if',
    ]);
    expect(tunnelBatch('10.244.0.7', ['192.0.2.20'], ['192.0.2.20'])).toEqual([]);
    expect(tunnelBatch('10.244.0.7', ['192.0.2.20'], ['192.0.2.21'])).toEqual(['addr add 192.0.2.21/32 dev kube-tunnel-if', 'addr del 192.0.2.20/32 dev kube-tunnel-if']);
    expect(tunnelBatch('10.244.0.7', ['192.0.2.20'], undefined)).toEqual(['link del kube-tunnel-if']);
    expect(tunnelBatch('10.244.0.7', undefined, undefined)).toEqual([]);
  });

  it('lists each network namespace once, named ones first, never its own', async () => {
    const root = await mkdtemp(join(tmpdir(), 'krt-netns-'));
    try {
      await mkdir(join(root, 'netns'));
      await writeFile(join(root, 'netns', 'pod-a'), '');
      for (const [pid, ns] of [['self', '1'], ['10', '1'], ['11', '2'], ['12', '2'], ['13', '3']] as const) {
        await mkdir(join(root, 'proc', pid, 'ns'), { recursive: true });
        await symlink(`net:[${ns}]`, join(root, 'proc', pid, 'ns', 'net'));
      }
      await writeFile(join(root, 'proc', 'stat'), '');
      const got = await listNetns({ netnsDirs: [join(root, 'netns'), join(root, 'missing')], procRoot: join(root, 'proc') });
      expect(got).toEqual([join(root, 'netns', 'pod-a'), join(root, 'proc', '11', 'ns', 'net'), join(root, 'proc', '13', 'ns', 'net')]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
