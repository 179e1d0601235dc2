// Our speaker against a scripted peer on loopback: malformed input is answered with the right
// NOTIFICATION or handled by RFC 7606 treat-as-withdraw / attribute-discard, and never stalls the speaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Speaker } from './speaker.js';
import { RawPeer } from '../testing/bgp/raw-peer.js';
import { freePort, peerState, route } from '../testing/bgp/helpers.js';
import { encodeKeepalive, encodeOpen, encodeAnnouncements, encodePathAttrs, parsePrefix, type Capability } from './wire/index.js';
import { waitFor } from '../testing/wait.js';

const US = '127.0.0.41', THEM = '127.0.0.42';
const caps: Capability[] = [{ kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'as4', asn: 65001 }, { kind: 'route-refresh', code: 2 }];
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
function update(attrHex: string, nlriHex: string): Buffer {
  const a = hex(attrHex), n = hex(nlriHex);
  const b = Buffer.alloc(23 + a.length + n.length);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(b.length, 16);
  b[18] = 2;
  b.writeUInt16BE(a.length, 21);
  a.copy(b, 23);
  n.copy(b, 23 + a.length);
  return b;
}
const ORIGIN = '400101 00', ASP = '400206 0201 0000fde9', NH = '400304 7f00002a';

describe('speaker against a scripted peer', () => {
  let s: Speaker;
  let port: number;
  beforeAll(async () => {
    port = freePort();
    s = new Speaker({ asn: 65000, routerId: US, listenAddresses: [US], listenPort: port, holdTimeSec: 30, connectRetrySec: 1 });
    s.setPeers([{ address: THEM, asn: 65001, passive: true }]);
    s.setAdvertisements([{ prefix: '10.50.0.0/16' }]);
    await s.start();
  });
  afterAll(() => s.stop());

  async function session(): Promise<RawPeer> {
    await waitFor('speaker back to Active', () => peerState(s, THEM)?.state === 'Active', 10_000, 20);
    const p = await RawPeer.connect(US, port, THEM);
    p.send(encodeOpen(65001, 30, THEM, caps));
    p.send(encodeKeepalive());
    await waitFor('Established', () => peerState(s, THEM)?.state === 'Established', 10_000, 20);
    return p;
  }

  it('establishes, sends its routes with End-of-RIB, and learns ours', async () => {
    const p = await session();
    await waitFor('initial UPDATE and End-of-RIB', () => p.received.filter((m) => m.type === 'update').length >= 2, 10_000, 20);
    const ups = p.received.flatMap((m) => (m.type === 'update' ? [m.update] : []));
    expect(ups[0]!.announced[0]!.keys).toEqual([parsePrefix('10.50.0.0/16')]);
    expect(ups[0]!.announced[0]!.attrs.asPath).toEqual([{ type: 2, asns: [65000] }]);
    expect(ups.at(-1)!.endOfRib).toBe('ipv4-unicast');
    const out: Buffer[] = [];
    encodeAnnouncements('ipv4-unicast', encodePathAttrs({ origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: THEM }, { as4: true, withNextHop: true }), THEM, [parsePrefix('10.9.0.0/16')!], out);
    p.send(out[0]!);
    await waitFor('route learned', () => route(s, '10.9.0.0/16'), 10_000, 20);

    // Treat-as-withdraw: ORIGIN 5 withdraws the route, the session stays up.
    p.send(update(`400101 05 ${ASP} ${NH}`, '10 0a09'));
    await waitFor('route withdrawn', () => !route(s, '10.9.0.0/16'), 10_000, 20);
    // Attribute discard: a bad ATOMIC_AGGREGATE is dropped, the route is kept.
    p.send(update(`${ORIGIN} ${ASP} ${NH} 400601 00`, '10 0a0a'));
    await waitFor('route with discarded attribute', () => route(s, '10.10.0.0/16'), 10_000, 20);
    // An UPDATE split into single bytes still arrives whole.
    const u = update(`${ORIGIN} ${ASP} ${NH}`, '10 0a0b');
    for (const b of u) p.send(Buffer.from([b]));
    await waitFor('byte-by-byte UPDATE', () => route(s, '10.11.0.0/16'), 10_000, 20);
    expect(peerState(s, THEM)).toMatchObject({ state: 'Established', counters: expect.objectContaining({ updateErrors: 2 }) });
    expect(p.notifications()).toEqual([]);

    // Session reset: duplicate MP_REACH_NLRI.
    p.send(update(`${ORIGIN} ${ASP} 800e0500020110 00 800e0500020110 00`, ''));
    await waitFor('NOTIFICATION 3/1', () => p.notifications().includes('3/1'), 10_000, 20);
    await waitFor('routes from the peer removed', () => !route(s, '10.10.0.0/16'), 10_000, 20);
    p.close();
  });

  it.each([
    ['bad marker', '1/1', (b: Buffer) => { b[0] = 0; }],
    ['version 3', '2/1', (b: Buffer) => { b[19] = 3; }],
    ['hold time 2', '2/6', (b: Buffer) => { b.writeUInt16BE(2, 22); }],
    ['wrong AS', '2/2', (b: Buffer) => { b.writeUInt16BE(65009, 20); b.writeUInt32BE(65009, b.length - 4); }],
    ['unknown optional parameter', '2/4', (b: Buffer) => { b[29] = 7; }],
    ['our own BGP identifier (eBGP: allowed)', '0/0', (b: Buffer) => { b.writeUInt32BE(0x7f000029, 24); }],
  ])('answers an OPEN with %s by NOTIFICATION %s', async (_n, expected, mutate) => {
    await waitFor('speaker back to Active', () => peerState(s, THEM)?.state === 'Active', 10_000, 20);
    const p = await RawPeer.connect(US, port, THEM);
    const open = Buffer.from(encodeOpen(65001, 30, THEM, [{ kind: 'as4', asn: 65001 }]));
    mutate(open);
    p.send(open);
    if (expected === '0/0') {
      // eBGP peers may share our identifier (RFC 6286): the session proceeds.
      p.send(encodeKeepalive());
      await waitFor('Established', () => peerState(s, THEM)?.state === 'Established', 10_000, 20);
    } else {
      await waitFor(`NOTIFICATION ${expected}`, () => p.notifications().includes(expected), 10_000, 20);
      await waitFor('closed', () => p.closed, 10_000, 20);
    }
    p.close();
  });

  it('an UPDATE before the session is Established is an FSM error (5/x)', async () => {
    await waitFor('speaker back to Active', () => peerState(s, THEM)?.state === 'Active', 10_000, 20);
    const p = await RawPeer.connect(US, port, THEM);
    p.send(encodeOpen(65001, 30, THEM, caps));
    await waitFor('OPEN back', () => p.received.some((m) => m.type === 'open'), 10_000, 20);
    p.send(update(`${ORIGIN} ${ASP} ${NH}`, '10 0a0c'));
    await waitFor('NOTIFICATION 5/1 or 5/2', () => p.notifications().some((n) => n.startsWith('5/')), 10_000, 20);
    p.close();
  });
});
