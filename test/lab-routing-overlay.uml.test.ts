// Nodes on two subnets, inside user-mode Linux (this host kernel has no ipip): the router builds a `tun-*`
// ipip tunnel to each node of the other subnet and routes that node's pod CIDR through it, routes a node of
// its own subnet directly (`via`), and pod traffic crosses the underlay router (which knows no pod CIDR, so
// only encapsulated traffic can cross) with the client's pod IP intact. Policy routing (table 77) keeps
// pod -> remote-node traffic symmetric, which strict rp_filter requires. One lab for every assertion (UML
// costs ~100x per syscall); the --enable-overlay=false variant runs on the host kernel in
// lab-routing-underlay.test.ts, and --overlay-type=full (tunnels on one subnet too) in its own smaller UML
// lab in lab-routing-overlay-full.uml.test.ts.
//
// Layout (segments: 2): lab-node-1 172.20.0.11 and lab-node-3 172.20.0.13 on segment 0, lab-node-2
// 172.20.1.12 on segment 1; pod CIDRs 10.244.0.0/24, 10.244.1.0/24, 10.244.2.0/24.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { R } from '../src/lab/kube.js';
import { tunnelName } from '../src/controllers/router/compile/routes.js';
import { labSh, peerSeen as seen, pinnedPod, reaches } from './lab-helpers.js';
import { waitFor } from '../src/testing/wait.js';

const NAME = 'lr1';
const PREFIX = `krt-rt2-${NAME}-`;
const STATE = `/run/kube-router-lab-${NAME}`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');
const haveUml = existsSync('/usr/bin/linux.uml');
const N = { n1: '172.20.0.11', n2: '172.20.1.12', n3: '172.20.0.13' };
const CIDR = { n1: '10.244.0.0/24', n2: '10.244.1.0/24', n3: '10.244.2.0/24' };

describe.skipIf(!haveUml || !existsSync(AGENT))('overlay between subnets (user-mode Linux lab)', () => {
  let lab: Lab;
  let ips: Record<string, string> = {};
  const sh = (target: string, script: string) => lab.exec(target, ['sh', '-c', script]);
  const out = (target: string, script: string) => labSh(lab, target, script);
  const reach = (from: string, to: string) => reaches(lab, from, ips[to]!);

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({
      name: NAME, prefix: PREFIX, nodes: 3, segments: 2, kernel: 'uml',
      agentFlags: ['--run-service-proxy=false', '--run-firewall=true', '--run-router=true'],
    });
    for (const [p, n] of [['p1', 'lab-node-1'], ['p2', 'lab-node-2'], ['p3', 'lab-node-3']] as const) {
      await lab.client.create(R.pods, 'default', pinnedPod(p, n));
    }
    ips = await lab.waitForPods(['default/p1', 'default/p2', 'default/p3'], 180_000);
  }, 360_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  }, 120_000);

  it('routes another subnet\'s pod CIDR through an ipip tunnel and its own subnet\'s directly', async () => {
    const t12 = tunnelName(N.n2), t21 = tunnelName(N.n1), t23 = tunnelName(N.n3);
    const r1 = await waitFor('node 1 routes', async () => {
      const r = await out('lab-node-1', 'ip route show proto 17');
      return r.includes(CIDR.n2) && r.includes(CIDR.n3) && r;
    }, 30_000, 500);
    expect(r1).toContain(`${CIDR.n2} dev ${t12} scope link src ${N.n1}`);
    expect(r1).toContain(`${CIDR.n3} via ${N.n3} dev eth0`);
    const link = await out('lab-node-1', `ip -d link show ${t12}`);
    expect(link).toMatch(new RegExp(`ipip .*remote ${N.n2.replace(/\./g, '\\.')} local ${N.n1.replace(/\./g, '\\.')}`));
    // Only one tunnel on node 1 (node 3 shares its subnet), two on node 2.
    expect((await out('lab-node-1', 'ip -br link show type ipip')).match(/tun-[0-9a-f]{11}/g)).toEqual([t12]);
    const r2 = await waitFor('node 2 routes', async () => {
      const r = await out('lab-node-2', 'ip route show proto 17; ip -br link show type ipip');
      return r.includes(CIDR.n1) && r.includes(CIDR.n3) && r;
    }, 30_000, 500);
    expect(r2).toContain(`${CIDR.n1} dev ${t21} scope link src ${N.n2}`);
    expect(r2).toContain(`${CIDR.n3} dev ${t23} scope link src ${N.n2}`);
    // The underlay router knows no pod CIDR: what crosses it must be encapsulated.
    expect(await out('tor', 'ip route show')).not.toContain('10.244.');
  }, 60_000);

  it('carries TCP, ping and a bulk transfer across the subnets, through the tunnel, without NAT', async () => {
    const before = await out('lab-node-1', `cat /sys/class/net/${tunnelName(N.n2)}/statistics/tx_packets`);
    expect(await reach('default/p1', 'default/p2')).toBe(true);
    expect(await reach('default/p2', 'default/p1')).toBe(true);
    expect(await reach('default/p3', 'default/p2')).toBe(true);
    expect(await reach('default/p1', 'default/p3')).toBe(true);
    expect((await sh('default/p1', `ping -c 2 -W 2 ${ips['default/p2']}`)).code).toBe(0);
    expect((await sh('default/p2', `ping -c 2 -W 2 ${ips['default/p3']}`)).code).toBe(0);
    const after = await out('lab-node-1', `cat /sys/class/net/${tunnelName(N.n2)}/statistics/tx_packets`);
    expect(Number(after)).toBeGreaterThan(Number(before));
    // The server on the other subnet sees the client pod's own address.
    expect(await seen(lab, 'default/p2', 'default/p1', ips['default/p2']!, 9000)).toBe(ips['default/p1']);
    expect(await seen(lab, 'default/p1', 'default/p2', ips['default/p1']!, 9001)).toBe(ips['default/p2']);
    // 300 kB through a 1480-byte tunnel from 1500-byte pods: path MTU discovery has to work.
    const srv = sh('default/p2', `timeout 20 socat -T5 -u TCP-LISTEN:9002,reuseaddr SYSTEM:'wc -c'`);
    const cli = sh('default/p1', `for i in $(seq 1 25); do head -c 300000 /dev/urandom | socat -u - TCP:${ips['default/p2']}:9002,connect-timeout=1 2>/dev/null && exit 0; sleep 0.2; done; exit 1`);
    const [s, c] = await Promise.all([srv, cli]);
    expect(c.code).toBe(0);
    expect(s.stdout.trim()).toBe('300000');
  }, 90_000);

  it('policy routing: pod traffic to another subnet\'s node address goes through the tunnel too (strict rp_filter)', async () => {
    const t12 = tunnelName(N.n2);
    expect(await out('lab-node-1', 'ip rule show')).toMatch(new RegExp(`from ${CIDR.n1.replace(/\./g, '\\.')} lookup (77|kube-router)`));
    expect(await out('lab-node-1', 'ip route show table 77')).toContain(`${N.n2} dev ${t12} proto 17`);
    const t2 = await out('lab-node-2', 'ip route show table 77');
    expect(t2).toContain(`${N.n1} dev ${tunnelName(N.n1)}`);
    expect(t2).toContain(`${N.n3} dev ${tunnelName(N.n3)}`);
    // Strict reverse-path filtering on node 1: a reply from node 2's address must arrive where node 1 would
    // send to it. Node 2 answers pod 1 through its tunnel, so the request has to go through the tunnel too.
    await out('lab-node-1', 'sysctl -qw net.ipv4.conf.all.rp_filter=1');
    expect(await seen(lab, 'lab-node-2', 'default/p1', N.n2, 9010)).toBe(ips['default/p1']);
    // Control: without the rule the request leaves by the underlay, the reply comes back through the tunnel
    // and is dropped. (The test puts the rule back; the agent would at its next periodic sync.)
    await out('lab-node-1', `ip rule del from ${CIDR.n1} lookup 77`);
    expect(await seen(lab, 'lab-node-2', 'default/p1', N.n2, 9011, 4)).toMatch(/^no answer/);
    await out('lab-node-1', `ip rule add from ${CIDR.n1} lookup 77`);
    expect(await seen(lab, 'lab-node-2', 'default/p1', N.n2, 9012)).toBe(ips['default/p1']);
  }, 90_000);
});
