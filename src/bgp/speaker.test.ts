import { afterEach, describe, expect, it } from 'vitest';
import { createSpeaker, type BgpSpeaker } from './index.js';
import { established, freePort, peerState, route } from '../testing/bgp/helpers.js';
import { waitFor } from '../testing/wait.js';

const running: BgpSpeaker[] = [];
afterEach(async () => { await Promise.all(running.splice(0).map((s) => s.stop())); });

function speaker(asn: number, addr: string, port: number, extra: object = {}): BgpSpeaker {
  const s = createSpeaker({ asn, routerId: addr, listenAddresses: [addr], listenPort: port, holdTimeSec: 9, connectRetrySec: 1, ...extra });
  running.push(s);
  return s;
}

describe('two speakers on loopback', () => {
  it('iBGP: session up, routes both ways with next-hop self, withdrawals, communities', async () => {
    const pa = freePort(), pb = freePort();
    const a = speaker(65000, '127.0.0.11', pa), b = speaker(65000, '127.0.0.12', pb);
    a.setPeers([{ address: '127.0.0.12', asn: 65000, port: pb, localAddress: '127.0.0.11' }]);
    b.setPeers([{ address: '127.0.0.11', asn: 65000, port: pa, localAddress: '127.0.0.12' }]);
    a.setAdvertisements([{ prefix: '10.1.0.0/24', communities: ['65000:7'] }, { prefix: '10.1.1.0/24' }]);
    b.setAdvertisements([{ prefix: '10.2.0.0/24', largeCommunities: ['65000:1:2'] }]);
    await Promise.all([a.start(), b.start()]);
    await established(a, '127.0.0.12');
    const r = await waitFor('10.1.0.0/24 at b', () => route(b, '10.1.0.0/24'), 10_000, 20);
    expect(r).toMatchObject({ nextHop: '127.0.0.11', peer: '127.0.0.11', asPath: [], localPref: 100, communities: ['65000:7'], stale: false });
    const r2 = await waitFor('10.2.0.0/24 at a', () => route(a, '10.2.0.0/24'), 10_000, 20);
    expect(r2.largeCommunities).toEqual(['65000:1:2']);
    a.setAdvertisements([{ prefix: '10.1.0.0/24', communities: ['65000:7'] }]);
    await waitFor('withdrawal of 10.1.1.0/24', () => !route(b, '10.1.1.0/24'), 10_000, 20);
    expect(route(b, '10.1.0.0/24')).toBeDefined();
    expect(peerState(b, '127.0.0.11')).toMatchObject({ receivedPrefixes: 1, advertisedPrefixes: 1 });
    // a removes b from its configuration: b learns why (Cease 6/3), which the router's own-Node hold reads.
    a.setPeers([]);
    const down = await waitFor('b sees the de-configuration', () => {
      const p = peerState(b, '127.0.0.11');
      return p && p.state !== 'Established' ? p.lastDown : undefined;
    }, 10_000, 20);
    expect(down).toMatchObject({ kind: 'notification-received', code: 6, subcode: 3 });
    expect(down.agoMs).toBeGreaterThanOrEqual(0);
  });

  it('eBGP: AS path, prepend and export communities; wrong ASN gets OPEN error 2/2', async () => {
    const pa = freePort(), pb = freePort();
    const a = speaker(65001, '127.0.0.21', pa), b = speaker(4200000002, '127.0.0.22', pb);
    a.setPeers([{ address: '127.0.0.22', asn: 4200000002, port: pb, localAddress: '127.0.0.21', exportPolicy: { asPathPrepend: { asn: 65001, count: 2 }, addCommunities: ['no-export', '65001:5'] } }]);
    b.setPeers([{ address: '127.0.0.21', asn: 65001, port: pa, localAddress: '127.0.0.22' }]);
    a.setAdvertisements([{ prefix: '10.3.0.0/16', med: 5 }, { prefix: 'fd00:3::/48', nextHop: 'fd00::21' }]);
    a.setPeers([{ address: '127.0.0.22', asn: 4200000002, port: pb, localAddress: '127.0.0.21', families: ['ipv4-unicast', 'ipv6-unicast'], exportPolicy: { asPathPrepend: { asn: 65001, count: 2 }, addCommunities: ['no-export', '65001:5'] } }]);
    b.setPeers([{ address: '127.0.0.21', asn: 65001, port: pa, localAddress: '127.0.0.22', families: ['ipv4-unicast', 'ipv6-unicast'] }]);
    await Promise.all([a.start(), b.start()]);
    const r = await waitFor('10.3.0.0/16 at b', () => route(b, '10.3.0.0/16'), 10_000, 20);
    expect(r).toMatchObject({ asPath: [65001, 65001, 65001], med: 5, communities: ['65535:65281', '65001:5'], nextHop: '127.0.0.21' });
    expect(r.localPref).toBeUndefined();
    const r6 = await waitFor('fd00:3::/48 at b', () => route(b, 'fd00:3::/48'), 10_000, 20);
    expect(r6).toMatchObject({ nextHop: 'fd00::21', family: 'ipv6-unicast' });

    b.setPeers([{ address: '127.0.0.21', asn: 65009, port: pa, localAddress: '127.0.0.22' }]);
    await waitFor('Bad Peer AS', () => peerState(b, '127.0.0.21')?.lastError?.includes('2/2'), 10_000, 20);
    await waitFor('a sees the NOTIFICATION', () => peerState(a, '127.0.0.22')?.lastError?.includes('received 2/2'), 10_000, 20);
    await waitFor('routes gone', () => !route(b, '10.3.0.0/16'), 10_000, 20);
  });
});
