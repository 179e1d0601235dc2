// The node side of DSR on the real kernel (the host has no IPVS or ipip; the whole path, pod tunnels
// included, runs in test/uml-cases/dsr.ts): a node namespace with kube-bridge, a client namespace over a
// veth routing the VIP to the node. The marking chain and policy routing must deliver the client's packets
// to VIP:80 to the node's local input, where IPVS takes them (counted there by a rule of the test's own:
// no local socket can answer from an address the node does not hold), a new applier (a restarted agent)
// must find nothing to change, and an empty plan must leave no trace.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../../dataplane/exec.js';
import { Netns } from '../../../testing/firewall/netns.js';
import type { DsrPlan } from '../compile/plan.js';
import { DsrApplier } from './applier.js';

const netns = new Netns('krt-dsr-');
afterAll(async () => {
  await netns.destroyAll();
});

const VIP = '192.0.2.20';
const PLAN: DsrPlan = {
  marks: [{ vip: VIP, protocol: 'tcp', port: 80, fwmark: 0x7b, service: 'default/web' }],
  tcpMss: 1440,
  bridgeRoutes: [VIP],
  pods: [],
};
const NONE: DsrPlan = { marks: [], tcpMss: 1440, bridgeRoutes: [], pods: [] };
const log = pino({ level: 'silent' });
const POD_CIDRS = ['10.244.0.0/24'];
// No pods here: the scan looks in an empty directory, never at the host's other namespaces.
const NO_NETNS = { netnsDirs: ['/nonexistent-krt-dsr'], procRoot: '/nonexistent-krt-dsr' };

// nft only: the host's default backend; legacy runs end to end in the UML DSR case (UML has no nf_tables).
describe.each(['nft'] as const)('DSR node rules on iptables-%s', (backend) => {
  let client: Exec, node: Exec;
  /** Sends one SYN to VIP:port; whether it reached the node's local input (the INPUT counting rule for the port). */
  const delivered = async (port: number): Promise<boolean> => {
    const count = async () => {
      const line = (await node(`iptables-${backend}-save`, ['-c', '-t', 'filter'])).stdout.split('\n').find((l) => l.includes(`--dport ${port}`));
      return Number(/^\[(\d+):/.exec(line ?? '')?.[1] ?? NaN);
    };
    const before = await count();
    await client('socat', ['-T0.3', '-', `TCP:${VIP}:${port},connect-timeout=0.3`], { okCodes: [1], input: '' });
    return (await count()) > before;
  };
  const traces = async () => {
    const mangle = (await node(`iptables-${backend}-save`, ['-t', 'mangle'])).stdout.split('\n').filter((l) => /DSR|MARK|TCPMSS/.test(l));
    const rules = (await node('ip', ['rule', 'show'])).stdout.split('\n').filter((l) => /lookup (78|79)/.test(l));
    const routes = [78, 79].map(async (t) => (await node('ip', ['route', 'show', 'table', String(t)], { okCodes: [2] })).stdout.trim());
    return [...mangle, ...rules, ...(await Promise.all(routes)).filter(Boolean)];
  };
  const apply = async (a: DsrApplier, plan: DsrPlan, full = true) => {
    const pre = await a.prepare(plan, { full, podCIDRs: POD_CIDRS });
    return { pre, report: await a.finish(plan, { podCIDRs: POD_CIDRS }) };
  };

  beforeAll(async () => {
    const n = await netns.add(`n-${backend}`);
    const c = await netns.add(`c-${backend}`);
    node = netns.exec(n);
    client = netns.exec(c);
    await node('ip', ['-batch', '-'], {
      input: [
        `link add eth0 type veth peer name eth0 netns ${c}`, 'addr add 192.168.78.1/24 dev eth0', 'link set eth0 up',
        'link add kube-bridge type bridge', 'addr add 10.244.0.1/24 dev kube-bridge', 'link set kube-bridge up', '',
      ].join('\n'),
    });
    await client('ip', ['-batch', '-'], { input: `addr add 192.168.78.2/24 dev eth0\nlink set eth0 up\nroute add ${VIP}/32 via 192.168.78.1\n` });
    await node(`iptables-${backend}-restore`, ['--noflush'], { input: `*filter\n-A INPUT -d ${VIP}/32 -p tcp -m tcp --dport 80\n-A INPUT -d ${VIP}/32 -p tcp -m tcp --dport 81\nCOMMIT\n` });
  });

  it('marks packets to the VIP port and delivers them locally; other ports are not taken', async () => {
    expect(await delivered(80)).toBe(false);
    const { pre, report } = await apply(new DsrApplier({ exec: node, backend, log, netns: NO_NETNS }), PLAN);
    expect([...pre.fwmarks]).toEqual([0x7b]);
    expect(report).toMatchObject({ changed: true, chainWritten: true, policyCommands: 4 });
    expect(await delivered(80)).toBe(true);
    expect(await delivered(81)).toBe(false);
    expect(await traces()).toEqual([
      ':KUBE-ROUTER-DSR - [0:0]',
      '-A PREROUTING -m comment --comment "kube-router-ts DSR" -j KUBE-ROUTER-DSR',
      '-A OUTPUT -m comment --comment "kube-router-ts DSR" -j KUBE-ROUTER-DSR',
      '-A KUBE-ROUTER-DSR -d 192.0.2.20/32 -p tcp -m tcp --dport 80 -m comment --comment "DSR default/web" -j MARK --set-xmark 0x7b/0xffffffff',
      '-A KUBE-ROUTER-DSR -s 192.0.2.20/32 -i kube-bridge -p tcp -m tcp --sport 80 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1440',
      '32764:\tfrom all fwmark 0x7b lookup 78',
      '32765:\tfrom all lookup 79',
      'local default dev lo scope host',
      '192.0.2.20 dev kube-bridge scope link',
    ]);
  });

  it('a new applier (an agent restart) adopts the state without a change, and owns the marks it finds', async () => {
    const { pre, report } = await apply(new DsrApplier({ exec: node, backend, log, netns: NO_NETNS }), PLAN);
    expect(report.changed).toBe(false);
    // With the annotation gone while the agent was down, the old mark is still known as ours (its IPVS service goes).
    const fresh = new DsrApplier({ exec: node, backend, log, netns: NO_NETNS });
    expect([...(await fresh.prepare(NONE, { full: true, podCIDRs: POD_CIDRS })).fwmarks]).toEqual([0x7b]);
    expect(pre.fwmarks.has(0x7b)).toBe(true);
  });

  it('an empty plan removes every trace, and a foreign rule of the same table stays', async () => {
    await node('ip', ['rule', 'add', 'prio', '100', 'fwmark', '0x99', 'table', '78']);
    const { report } = await apply(new DsrApplier({ exec: node, backend, log, netns: NO_NETNS }), NONE);
    expect(report.changed).toBe(true);
    expect(await traces()).toEqual(['100:\tfrom all fwmark 0x99 lookup 78']);
    expect(await delivered(80)).toBe(false);
  });
});
