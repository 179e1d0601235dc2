import { describe, expect, it } from 'vitest';
import type { VirtualServer } from '../compile/plan.js';
import { ipvsadmLine } from '../../../dataplane/ipvs/ipvsadm.js';
import { diffIpvs as diffOps, parseIpvsSave, realServerKey } from './ipvs-table.js';

/** The diff with its operations as the `ipvsadm -R` lines the fallback writer would send. */
const diffIpvs = (...a: Parameters<typeof diffOps>) => {
  const d = diffOps(...a);
  return { ...d, commands: d.ops.map(ipvsadmLine) };
};

const SAVE = `-A -t 10.96.0.10:80 -s rr
-a -t 10.96.0.10:80 -r 10.244.0.7:8080 -m -w 1
-a -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 1
-A -u 10.96.0.10:53 -s mh -b mh-port,mh-fallback -p 60
-A -t 192.168.99.1:443 -s wlc
-a -t 192.168.99.1:443 -r 10.0.0.1:443 -g -w 3
`;

const vs = (over: Partial<VirtualServer> = {}): VirtualServer => ({
  protocol: 'tcp', address: '10.96.0.10', port: 80, scheduler: 'rr', flags: [],
  realServers: [{ address: '10.244.0.7', port: 8080, weight: 1 }, { address: '10.244.1.5', port: 8080, weight: 1 }],
  service: { namespace: 'default', name: 'web', port: 'http', via: 'clusterIP' }, ...over,
});

const ours = (v: { address: string }) => v.address.startsWith('10.96.');

describe('ipvsadm table', () => {
  it('parses services, flags, persistence and real servers with their method', () => {
    const t = parseIpvsSave(SAVE);
    expect([...t.keys()]).toEqual(['tcp/10.96.0.10:80', 'udp/10.96.0.10:53', 'tcp/192.168.99.1:443']);
    expect(t.get('udp/10.96.0.10:53')).toMatchObject({ scheduler: 'mh', flags: ['mh-fallback', 'mh-port'], persistenceSeconds: 60, realServers: [] });
    expect(t.get('tcp/192.168.99.1:443')!.realServers).toEqual([{ address: '10.0.0.1', port: 443, weight: 3, method: 'g' }]);
  });

  it('an unchanged table gives no command; one endpoint added is one command', () => {
    const cur = parseIpvsSave(SAVE);
    const keepOthers = new Map([['tcp/10.96.0.10:80', vs()], ['udp/10.96.0.10:53', vs({ protocol: 'udp', port: 53, scheduler: 'mh', flags: ['mh-fallback', 'mh-port'], persistenceSeconds: 60, realServers: [] })]]);
    expect(diffIpvs(keepOthers, cur, { owned: ours, graceful: false, keepDraining: new Set() }).commands).toEqual([]);
    const more = new Map(keepOthers);
    more.set('tcp/10.96.0.10:80', vs({ realServers: [...vs().realServers, { address: '10.244.2.3', port: 8080, weight: 1 }] }));
    expect(diffIpvs(more, cur, { owned: ours, graceful: false, keepDraining: new Set() }).commands).toEqual(['-a -t 10.96.0.10:80 -r 10.244.2.3:8080 -m -w 1']);
  });

  it('removes our stale services, never foreign ones; edits a changed scheduler in place', () => {
    const d = diffIpvs(new Map([['tcp/10.96.0.10:80', vs({ scheduler: 'sh' })]]), parseIpvsSave(SAVE), { owned: ours, graceful: false, keepDraining: new Set() });
    expect(d.commands).toEqual(['-E -t 10.96.0.10:80 -s sh', '-D -u 10.96.0.10:53']);
  });

  it('graceful: a removed endpoint drains at weight 0, stays while kept, then goes', () => {
    const one = new Map([['tcp/10.96.0.10:80', vs({ realServers: [{ address: '10.244.0.7', port: 8080, weight: 1 }] })]]);
    const cur = parseIpvsSave(SAVE.split('\n').slice(0, 3).join('\n'));
    const gone = realServerKey('tcp/10.96.0.10:80', { address: '10.244.1.5', port: 8080 });
    const first = diffIpvs(one, cur, { owned: ours, graceful: true, keepDraining: new Set() });
    expect(first.commands).toEqual(['-e -t 10.96.0.10:80 -r 10.244.1.5:8080 -m -w 0']);
    expect(first.drained).toEqual([gone]);
    const drainedNow = parseIpvsSave(SAVE.split('\n').slice(0, 3).join('\n').replace('10.244.1.5:8080 -m -w 1', '10.244.1.5:8080 -m -w 0'));
    expect(diffIpvs(one, drainedNow, { owned: ours, graceful: true, keepDraining: new Set([gone]) }).commands).toEqual([]);
    expect(diffIpvs(one, drainedNow, { owned: ours, graceful: true, keepDraining: new Set() }).commands).toEqual(['-d -t 10.96.0.10:80 -r 10.244.1.5:8080']);
  });
});
