// The UDP conntrack flush on the real kernel, without IPVS: a node namespace DNATs UDP to a service
// address onto backends (as IPVS does with net.ipv4.vs.conntrack=1, the entries look the same: original
// destination the VIP, reply source the backend). Flushing one removed backend of one service deletes
// exactly its flows; the other backend's and another service's flows to the same backend stay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../../dataplane/exec.js';
import { Netns } from '../../../testing/firewall/netns.js';
import { flushUdpConntrack } from './conntrack.js';

const netns = new Netns('krt-pxct-');
afterAll(() => netns.destroyAll());

describe('UDP conntrack flush of a removed backend', () => {
  let client: Exec, node: Exec;
  /** The node's UDP flows as "vip:port sport -> backend". */
  const flows = async (): Promise<string[]> => {
    const { stdout, stderr } = await node('conntrack', ['-L', '-p', 'udp'], { okCodes: [1] });
    return (stdout + stderr)
      .split('\n')
      .map((l) => /dst=(\S+) sport=(\d+) dport=(\d+) .*?src=(\S+) dst=\S+ sport=(\d+)/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}:${m[3]} ${m[2]} -> ${m[4]}:${m[5]}`)
      .sort();
  };

  beforeAll(async () => {
    const c = await netns.add('c');
    const n = await netns.add('n');
    client = netns.exec(c);
    node = netns.exec(n);
    await client('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
    await client('ip', ['-batch', '-'], { input: 'addr add 192.168.77.1/24 dev eth0\nlink set eth0 up\nroute add 10.96.0.0/16 via 192.168.77.2\n' });
    await node('ip', ['-batch', '-'], {
      input: 'addr add 192.168.77.2/24 dev eth0\nlink set eth0 up\nlink add b0 type veth peer name b1\nlink set b0 up\nlink set b1 up\naddr add 192.168.78.1/24 dev b0\n' +
        'neigh add 192.168.78.5 lladdr 02:00:00:00:00:05 dev b0\nneigh add 192.168.78.6 lladdr 02:00:00:00:00:06 dev b0\n',
    });
    await node('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const dnat = (vip: string, sport: number, to: string) => `-A PREROUTING -d ${vip}/32 -p udp -m udp --sport ${sport} --dport 53 -j DNAT --to-destination ${to}:5353`;
    await node('iptables-restore', ['--noflush'], {
      input: ['*nat', dnat('10.96.0.10', 1001, '192.168.78.5'), dnat('10.96.0.10', 1002, '192.168.78.6'), dnat('10.96.0.11', 1003, '192.168.78.5'), 'COMMIT', ''].join('\n'),
    });
    for (const [vip, sport] of [['10.96.0.10', 1001], ['10.96.0.10', 1002], ['10.96.0.11', 1003]] as const) {
      await client('socat', ['-u', '-', `UDP:${vip}:53,sourceport=${sport}`], { input: 'query' });
    }
  });

  it('deletes the removed backend of that service only', async () => {
    expect(await flows()).toEqual([
      '10.96.0.10:53 1001 -> 192.168.78.5:5353',
      '10.96.0.10:53 1002 -> 192.168.78.6:5353',
      '10.96.0.11:53 1003 -> 192.168.78.5:5353',
    ]);
    const n = await flushUdpConntrack(node, [{ vip: '10.96.0.10', port: 53, address: '192.168.78.5', targetPort: 5353 }]);
    expect(n).toBe(1);
    expect(await flows()).toEqual(['10.96.0.10:53 1002 -> 192.168.78.6:5353', '10.96.0.11:53 1003 -> 192.168.78.5:5353']);
    // Nothing left to delete is no error.
    expect(await flushUdpConntrack(node, [{ vip: '10.96.0.10', port: 53, address: '192.168.78.5', targetPort: 5353 }])).toBe(0);
  });
});
