// The VIP firewall on the real kernel, without IPVS (the host kernel has none): a node namespace holds a
// service address on kube-dummy-if and a plain listener on two ports of it, a client namespace connects
// over a veth. What the firewall must do is visible there: the service port answers, any other port of
// the VIP is refused, the node's own address is never cut off, and turning it off restores the leak.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaries } from '../../../dataplane/iptables/backend.js';
import type { Exec } from '../../../dataplane/exec.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import { Netns } from '../../../testing/firewall/netns.js';
import type { VirtualServer } from '../compile/plan.js';
import { compileVipFirewall } from '../compile/vip-firewall.js';
import { chainRules, inputJump, VipFirewallApplier } from './vip-firewall.js';

const netns = new Netns('krt-pxfw-');
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await netns.destroyAll();
});

const VIP = '10.96.0.10';
const NODE_IP = '192.168.77.2';
const vs = (address: string, port: number): VirtualServer => ({
  protocol: 'tcp', address, port, scheduler: 'rr', flags: [], realServers: [],
  service: { namespace: 'default', name: 'web', port: 'http', via: address === VIP ? 'clusterIP' : 'nodePort' },
});
const SERVERS = new Map([
  ['tcp/10.96.0.10:80', vs(VIP, 80)],
  ['tcp/192.168.77.2:30080', vs(NODE_IP, 30080)],
]);

describe.each(['nft', 'legacy'] as const)('VIP firewall on iptables-%s', (backend) => {
  let client: Exec, node: Exec, nodeNs: string;
  const connects = async (ip: string, port: number): Promise<boolean> => {
    const r = await client('socat', ['-T2', '-', `TCP:${ip}:${port},connect-timeout=2`], { okCodes: [1], input: '' });
    return r.code === 0 && r.stdout.trim() === 'hi';
  };
  const filter = async () => parseSave((await node(binaries(backend, 4).save, ['-t', 'filter'])).stdout).get('filter');

  beforeAll(async () => {
    const c = await netns.add(`${backend}-c`);
    nodeNs = await netns.add(`${backend}-n`);
    client = netns.exec(c);
    node = netns.exec(nodeNs);
    await client('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nodeNs]);
    await client('ip', ['-batch', '-'], { input: 'addr add 192.168.77.1/24 dev eth0\nlink set eth0 up\nroute add 10.96.0.0/16 via 192.168.77.2\n' });
    await node('ip', ['-batch', '-'], { input: `addr add ${NODE_IP}/24 dev eth0\nlink set eth0 up\nlink add kube-dummy-if type veth peer name kdi-peer\nlink set kube-dummy-if up\nlink set kdi-peer up\naddr add ${VIP}/32 dev kube-dummy-if\n` });
    // This kernel has no dummy links: a veth named like it holds the VIP (the firewall only cares that it is local).
    // A firewall controller's jump first in INPUT, as on a node running both: ours must go after it.
    await node(binaries(backend, 4).restore, ['--noflush'], { input: '*filter\n:KUBE-ROUTER-INPUT - [0:0]\n-A INPUT -j KUBE-ROUTER-INPUT\nCOMMIT\n' });
    // Node processes on every address: the "service" on 80, a host service (think sshd) on 2222.
    for (const port of [80, 2222]) {
      const p = spawn('ip', ['netns', 'exec', nodeNs, 'socat', `TCP-LISTEN:${port},fork,reuseaddr`, 'SYSTEM:echo hi'], { stdio: 'ignore' });
      children.push(p);
    }
    for (let i = 0; i < 50 && !(await connects(VIP, 2222)); i++) await new Promise((r) => setTimeout(r, 100));
  });

  it('without it, a host service leaks through the VIP (the reason it exists)', async () => {
    expect(await connects(VIP, 80)).toBe(true);
    expect(await connects(VIP, 2222)).toBe(true);
  });

  it('with it, only the service port of the VIP answers; the node address keeps every port', async () => {
    const a = new VipFirewallApplier({ exec: node, backend });
    const r = await a.apply(compileVipFirewall(SERVERS, [NODE_IP], [4], true), true);
    expect(r.chainWritten).toBe(true);
    expect(await connects(VIP, 80)).toBe(true);
    expect(await connects(VIP, 2222)).toBe(false);
    // The node IP serves a NodePort (so it is a service address) and is local: never rejected.
    expect(await connects(NODE_IP, 2222)).toBe(true);
    // Routing ICMP to a VIP still passes.
    expect((await client('ping', ['-c1', '-W2', VIP], { okCodes: [1] })).code).toBe(0);
    const f = await filter();
    expect(f?.chains.get('KUBE-ROUTER-SERVICES')?.rules).toEqual(chainRules(4));
    expect(f?.chains.get('INPUT')?.rules).toEqual(['-j KUBE-ROUTER-INPUT', inputJump(4)]);
  });

  it('a restarted agent finds it in place and writes nothing; a new service port is one set line', async () => {
    const a = new VipFirewallApplier({ exec: node, backend });
    const same = await a.apply(compileVipFirewall(SERVERS, [NODE_IP], [4], true), true);
    expect(same.changed).toBe(false);
    const more = new Map([...SERVERS, ['tcp/10.96.0.10:2222', vs(VIP, 2222)]]);
    const r = await a.apply(compileVipFirewall(more, [NODE_IP], [4], true), false);
    expect(r).toMatchObject({ changed: true, chainWritten: false, setStats: { added: 1, deleted: 0 } });
    expect(await connects(VIP, 2222)).toBe(true);
    await a.apply(compileVipFirewall(SERVERS, [NODE_IP], [4], true), false);
    expect(await connects(VIP, 2222)).toBe(false);
  });

  it('a full sync repairs a deleted jump; turned off, it leaves nothing behind', async () => {
    await node(binaries(backend, 4).restore, ['--noflush'], { input: `*filter\n-D INPUT ${inputJump(4)}\nCOMMIT\n` });
    expect(await connects(VIP, 2222)).toBe(true);
    const a = new VipFirewallApplier({ exec: node, backend });
    await a.apply(compileVipFirewall(SERVERS, [NODE_IP], [4], true), true);
    expect(await connects(VIP, 2222)).toBe(false);
    await a.apply(compileVipFirewall(SERVERS, [NODE_IP], [4], false), false);
    expect(await connects(VIP, 2222)).toBe(true);
    const f = await filter();
    expect(f?.chains.has('KUBE-ROUTER-SERVICES')).toBe(false);
    expect(f?.chains.get('INPUT')?.rules).toEqual(['-j KUBE-ROUTER-INPUT']);
    expect((await node('ipset', ['list', '-n'])).stdout.trim()).toBe('');
  });
});
