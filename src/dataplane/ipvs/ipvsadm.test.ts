// ipvsadm's statistics listings as ipvsadm 1.31 prints them (the fallback's read for the service metrics).
import { describe, expect, it } from 'vitest';
import { parseIpvsadmStats } from './ipvsadm.js';

const STATS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.96.0.10:80                      12       80       64     5200    90120
  -> 10.244.0.7:8080                     6       40       32     2600    45060
UDP  10.96.0.10:53                       3        3        3      180      420
TCP  [fd00::10]:80                       1        2        3        4        5
FWM  4242                                7       21        0     1302        0
  -> 10.244.1.5:80                       7       21        0     1302        0
FWM  7 IPv6                              1        1        1        1        1
`;
const RATE = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  10.96.0.10:80                       2       13       11      866    15020
  -> 10.244.0.7:8080                     1        6        5      433     7510
UDP  10.96.0.10:53                       0        0        0        0        0
FWM  4242                                1        4        0      260        0
`;

describe('ipvsadm statistics listings', () => {
  it('joins totals and rates per service, address and fwmark ones alike, skipping real server lines', () => {
    const s = parseIpvsadmStats(STATS, RATE);
    expect(s.map((e) => e.service)).toEqual([
      { protocol: 'tcp', address: '10.96.0.10', port: 80 },
      { protocol: 'udp', address: '10.96.0.10', port: 53 },
      { protocol: 'tcp', address: 'fd00::10', port: 80 },
      { fwmark: 4242, family: 4 },
      { fwmark: 7, family: 6 },
    ]);
    expect(s[0]!.stats).toEqual({ conns: 12, inPkts: 80, outPkts: 64, inBytes: 5200, outBytes: 90120, cps: 2, inPps: 13, outPps: 11, inBps: 866, outBps: 15020 });
    expect(s[3]!.stats).toEqual({ conns: 7, inPkts: 21, outPkts: 0, inBytes: 1302, outBytes: 0, cps: 1, inPps: 4, outPps: 0, inBps: 260, outBps: 0 });
    // No rate line (IPv6 here): rates 0.
    expect(s[2]!.stats.cps).toBe(0);
    expect(s[4]!.stats).toMatchObject({ conns: 1, cps: 0 });
  });

  it('ignores headers, blank lines and lines it cannot read', () => {
    expect(parseIpvsadmStats('Prot LocalAddress:Port Conns\nTCP  10.96.0.10:80  x y z\nFWM  abc  1 2 3 4 5\n\n', '')).toEqual([]);
  });
});
