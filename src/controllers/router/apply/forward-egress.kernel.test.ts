// Real kernel, own netns: the router's iptables/ipset state is idempotent, tracks the cluster, leaves
// other rules alone, and --cleanup-config removes all of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteNetnsWithPrefix, nsRun, sh } from '../../../testing/router/netns.js';
import { execInNetns } from '../../../dataplane/exec.js';
import { cleanupForwardEgress, syncForwardEgress } from './forward-egress.js';

const NS = 'krt-rt-f-n1';
const exec = execInNetns(NS);
const inputs = { families: [4 as const], clusterPodCidrs: ['10.244.1.0/24', '10.244.2.0/24'], clusterNodeIPs: ['172.31.0.11', '172.31.0.12'], enablePodEgress: true };

beforeAll(() => {
  deleteNetnsWithPrefix('krt-rt-f-');
  sh('ip', ['netns', 'add', NS]);
  nsRun(NS, 'iptables', ['-A', 'FORWARD', '-s', '192.0.2.1', '-j', 'DROP']); // someone else's rule
});
afterAll(() => deleteNetnsWithPrefix('krt-rt-f-'));

describe('router firewall state', () => {
  it('is idempotent: one jump each, one masquerade rule, after repeated syncs', async () => {
    await syncForwardEgress(exec, 'nft', inputs);
    await syncForwardEgress(exec, 'nft', inputs);
    const fwd = nsRun(NS, 'iptables', ['-S', 'FORWARD']);
    expect(fwd.match(/-j KUBE-ROUTER-BRIDGE-FWD/g)).toHaveLength(1);
    expect(fwd.split('\n')[1]).toContain('KUBE-ROUTER-BRIDGE-FWD'); // inserted first
    expect(fwd).toContain('-s 192.0.2.1/32 -j DROP');
    expect(nsRun(NS, 'iptables', ['-t', 'nat', '-S', 'POSTROUTING']).match(/KUBE-ROUTER-POD-EGRESS/g)).toHaveLength(1);
    const egress = nsRun(NS, 'iptables', ['-t', 'nat', '-S', 'KUBE-ROUTER-POD-EGRESS']);
    expect(egress.match(/MASQUERADE/g)).toHaveLength(1);
    expect(egress).toContain('! --match-set kube-router-node-ips dst');
  });
  it('sets follow the cluster', async () => {
    await syncForwardEgress(exec, 'nft', { ...inputs, clusterPodCidrs: ['10.244.1.0/24', '10.244.3.0/24'] });
    const set = nsRun(NS, 'ipset', ['list', 'kube-router-pod-subnets']);
    expect(set).toContain('10.244.3.0/24');
    expect(set).not.toContain('10.244.2.0/24');
  });
  it('--enable-pod-egress=false leaves the chain empty', async () => {
    await syncForwardEgress(exec, 'nft', { ...inputs, enablePodEgress: false });
    expect(nsRun(NS, 'iptables', ['-t', 'nat', '-S', 'KUBE-ROUTER-POD-EGRESS'])).not.toContain('MASQUERADE');
  });
  it("goes after the firewall controller's KUBE-ROUTER-FORWARD jump, so policy sees bridged traffic first", async () => {
    await cleanupForwardEgress(exec, 'nft', [4]);
    nsRun(NS, 'iptables', ['-N', 'KUBE-ROUTER-FORWARD']);
    nsRun(NS, 'iptables', ['-I', 'FORWARD', '1', '-j', 'KUBE-ROUTER-FORWARD']);
    await syncForwardEgress(exec, 'nft', inputs);
    const rules = nsRun(NS, 'iptables', ['-S', 'FORWARD']).split('\n').filter((l) => l.startsWith('-A'));
    expect(rules[0]).toContain('-j KUBE-ROUTER-FORWARD');
    expect(rules[1]).toContain('-j KUBE-ROUTER-BRIDGE-FWD');
    nsRun(NS, 'iptables', ['-D', 'FORWARD', '-j', 'KUBE-ROUTER-FORWARD']);
    nsRun(NS, 'iptables', ['-X', 'KUBE-ROUTER-FORWARD']);
  });
  it('cleanup removes jumps, chains and sets, and nothing else', async () => {
    await cleanupForwardEgress(exec, 'nft', [4]);
    expect(nsRun(NS, 'iptables', ['-S'])).not.toContain('KUBE-ROUTER-BRIDGE-FWD');
    expect(nsRun(NS, 'iptables', ['-t', 'nat', '-S'])).not.toContain('KUBE-ROUTER-POD-EGRESS');
    expect(nsRun(NS, 'ipset', ['list', '-n'])).not.toContain('kube-router-');
    expect(nsRun(NS, 'iptables', ['-S', 'FORWARD'])).toContain('-s 192.0.2.1/32 -j DROP');
  });
});
