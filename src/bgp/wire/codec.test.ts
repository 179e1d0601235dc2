import { describe, expect, it } from 'vitest';
import {
  AttrCache, Framer, decodeBody, decodeOpen, decodeUpdate, encodeAnnouncements, encodeEndOfRib, encodeKeepalive,
  encodeNotification, encodeOpen, encodePathAttrs, encodeRouteRefresh, encodeWithdrawals, formatKey, openAsn,
  parsePrefix, type PathAttrs, type UpdateContext, type UpdateMessage,
} from './index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ctx = (over: Partial<UpdateContext> = {}): UpdateContext => ({
  as4: true, ebgp: false, peerAsn: 65001, families: new Set(['ipv4-unicast', 'ipv6-unicast']), ...over,
});

function frame(buf: Buffer) {
  const r = new Framer().push(buf);
  expect(r.error).toBeUndefined();
  expect(r.frames).toHaveLength(1);
  return r.frames[0]!;
}

function decodeUpd(buf: Buffer, c = ctx()): UpdateMessage {
  const f = frame(buf);
  const r = decodeUpdate(f.body, c);
  if (!r.ok) throw new Error(r.error.toString());
  return r.value;
}

describe('OPEN', () => {
  it('encodes byte-exact and round-trips capabilities', () => {
    const b = encodeOpen(65001, 90, '10.0.0.1', [
      { kind: 'multiprotocol', afi: 1, safi: 1 },
      { kind: 'route-refresh', code: 2 },
      { kind: 'as4', asn: 65001 },
    ]);
    expect(b.toString('hex')).toBe(
      'ffffffffffffffffffffffffffffffff' + '002d' + '01' + '04' + 'fde9' + '005a' + '0a000001' + '10' +
      '020e' + '0104' + '00010001' + '0200' + '4104' + '0000fde9',
    );
    const o = decodeOpen(frame(b).body);
    expect(o).toMatchObject({ version: 4, myAs: 65001, holdTimeSec: 90, routerId: '10.0.0.1' });
    expect(o.capabilities).toEqual([
      { kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'route-refresh', code: 2 }, { kind: 'as4', asn: 65001 },
    ]);
  });

  it('puts AS_TRANS in My AS for a 4-octet AS and reads the real one from the capability', () => {
    const b = encodeOpen(4200000001, 9, '1.2.3.4', [
      { kind: 'as4', asn: 4200000001 },
      { kind: 'graceful-restart', restarting: true, notification: false, restartTimeSec: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
    ]);
    const o = decodeOpen(frame(b).body);
    expect(o.myAs).toBe(23456);
    expect(openAsn(o)).toBe(4200000001);
    expect(o.capabilities[1]).toEqual({ kind: 'graceful-restart', restarting: true, notification: false, restartTimeSec: 120, families: [{ afi: 1, safi: 1, forwarding: true }] });
  });

  it.each([
    ['version 3', (b: Buffer) => { b[19] = 3; }, 2, 1],
    ['hold time 2', (b: Buffer) => { b.writeUInt16BE(2, 22); }, 2, 6],
    ['BGP identifier 0', (b: Buffer) => { b.writeUInt32BE(0, 24); }, 2, 3],
    ['unknown optional parameter type', (b: Buffer) => { b[29] = 9; }, 2, 4],
    ['capability overrun', (b: Buffer) => { b[31] = 1; b[32] = 200; }, 2, 0],
  ])('rejects %s with the right NOTIFICATION', (_n, mutate, code, subcode) => {
    const b = Buffer.from(encodeOpen(65001, 90, '10.0.0.1', [{ kind: 'as4', asn: 65001 }]));
    mutate(b);
    const r = decodeBody(1, b.subarray(19), ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.subcode]).toEqual([code, subcode]);
  });
});

describe('header', () => {
  it.each([
    ['bad marker', hex('fffffffffffffffffffffffffffffffe 0013 04'), 1, 1],
    ['length below 19', hex('ffffffffffffffffffffffffffffffff 0012 04'), 1, 2],
    ['keepalive with a body', hex('ffffffffffffffffffffffffffffffff 0014 04 00'), 1, 2],
    ['length above 4096', hex('ffffffffffffffffffffffffffffffff 1001 02'), 1, 2],
    ['unknown type', hex('ffffffffffffffffffffffffffffffff 0013 09'), 1, 3],
    ['short OPEN', hex('ffffffffffffffffffffffffffffffff 001c 01'), 1, 2],
  ])('%s', (_n, b, code, subcode) => {
    const r = new Framer().push(b);
    expect([r.error?.code, r.error?.subcode]).toEqual([code, subcode]);
  });

  it('reassembles messages split across chunks', () => {
    const f = new Framer();
    const ka = encodeKeepalive();
    const both = Buffer.concat([ka, encodeRouteRefresh('ipv6-unicast')]);
    expect(f.push(both.subarray(0, 7)).frames).toHaveLength(0);
    expect(f.push(both.subarray(7, 25)).frames.map((x) => x.type)).toEqual([4]);
    const last = f.push(both.subarray(25)).frames;
    expect(last.map((x) => [x.type, x.body.toString('hex')])).toEqual([[5, '00020001']]);
  });
});

const fullAttrs: PathAttrs = {
  origin: 0, asPath: [{ type: 2, asns: [65001, 4200000000] }, { type: 1, asns: [7, 8] }], nextHop: '192.0.2.1',
  med: 50, localPref: 200, atomicAggregate: true, aggregator: { asn: 65001, address: '192.0.2.9' },
  communities: [65001 * 65536 + 100, 0xffffff01], largeCommunities: [65001, 1, 2], originatorId: '1.1.1.1',
  clusterList: ['2.2.2.2', '3.3.3.3'], unknown: [{ flags: 0xe0, type: 99, value: hex('cafe') }],
};

describe('UPDATE', () => {
  it('RFC 4271 example: one IPv4 prefix, byte-exact', () => {
    // ORIGIN IGP, AS_PATH [65001] (4-octet), NEXT_HOP 192.0.2.1, NLRI 10.1.0.0/16
    const attrs = encodePathAttrs({ origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '192.0.2.1' }, { as4: true, withNextHop: true });
    const out: Buffer[] = [];
    encodeAnnouncements('ipv4-unicast', attrs, '192.0.2.1', [parsePrefix('10.1.0.0/16')!], out);
    expect(out[0]!.toString('hex')).toBe(
      'ffffffffffffffffffffffffffffffff' + '002e' + '02' + '0000' + '0014' +
      '400101' + '00' + '40020602010000fde9' + '400304c0000201' + '100a01',
    );
    const u = decodeUpd(out[0]!);
    expect(u.announced[0]!.keys.map(formatKey)).toEqual(['10.1.0.0/16']);
  });

  it('round-trips every attribute over IPv4 and IPv6', () => {
    for (const family of ['ipv4-unicast', 'ipv6-unicast'] as const) {
      const nh = family === 'ipv4-unicast' ? '192.0.2.1' : '2001:db8::1';
      const attrs: PathAttrs = { ...fullAttrs, nextHop: nh };
      const enc = encodePathAttrs(attrs, { as4: true, withNextHop: family === 'ipv4-unicast' });
      const keys = family === 'ipv4-unicast'
        ? ['10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/0', '10.9.8.7/32'].map((p) => parsePrefix(p)!)
        : ['2001:db8::/32', '::/0', '2001:db8:1:2::/64', 'fd00::1/128'].map((p) => parsePrefix(p)!);
      const out: Buffer[] = [];
      encodeAnnouncements(family, enc, nh, keys, out);
      const u = decodeUpd(out[0]!);
      expect(u.error).toBeUndefined();
      expect(u.announced).toHaveLength(1);
      expect(u.announced[0]!.family).toBe(family);
      expect(u.announced[0]!.keys).toEqual(keys);
      expect(u.announced[0]!.attrs).toEqual({ ...attrs, unknown: [{ flags: 0xe0, type: 99, value: hex('cafe') }] });
      const w: Buffer[] = [];
      encodeWithdrawals(family, keys, w);
      const wu = decodeUpd(w[0]!);
      expect(wu.withdrawn).toEqual([{ family, keys }]);
    }
  });

  it('packs many NLRI per message and splits at 4096 bytes', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => parsePrefix(`10.${i >> 8}.${i & 255}.0/24`)!);
    const attrs = encodePathAttrs({ origin: 0, asPath: [], nextHop: '10.0.0.1' }, { as4: true, withNextHop: true });
    const out: Buffer[] = [];
    encodeAnnouncements('ipv4-unicast', attrs, '10.0.0.1', keys, out);
    expect(out.length).toBe(3);
    expect(Math.max(...out.map((b) => b.length))).toBeLessThanOrEqual(4096);
    const back = out.flatMap((b) => decodeUpd(b).announced[0]!.keys);
    expect(back).toEqual(keys);
  });

  it('End-of-RIB markers for both families', () => {
    expect(encodeEndOfRib('ipv4-unicast').toString('hex')).toBe('ffffffffffffffffffffffffffffffff' + '0017' + '02' + '00000000');
    expect(decodeUpd(encodeEndOfRib('ipv4-unicast')).endOfRib).toBe('ipv4-unicast');
    expect(decodeUpd(encodeEndOfRib('ipv6-unicast')).endOfRib).toBe('ipv6-unicast');
  });

  it('2-octet peer: AS_TRANS in AS_PATH, real path in AS4_PATH, merged on receipt', () => {
    const attrs: PathAttrs = { origin: 0, asPath: [{ type: 2, asns: [65001, 4200000000, 65002] }], nextHop: '192.0.2.1', aggregator: { asn: 4200000001, address: '1.1.1.1' } };
    const enc = encodePathAttrs(attrs, { as4: false, withNextHop: true });
    expect(enc.includes(hex('40020802 03 fde9 5ba0 fdea'))).toBe(true);
    const out: Buffer[] = [];
    encodeAnnouncements('ipv4-unicast', enc, '192.0.2.1', [parsePrefix('10.0.0.0/8')!], out);
    const u = decodeUpd(out[0]!, ctx({ as4: false }));
    expect(u.announced[0]!.attrs.asPath).toEqual(attrs.asPath);
    expect(u.announced[0]!.attrs.aggregator).toEqual(attrs.aggregator);
    // RFC 6793 4.2.3: AS_PATH longer than AS4_PATH keeps the leading ASes of AS_PATH.
    const body = upd('400101 00 40020a0204 fdeb fde9 5ba0 fdea 400304c0000201 c0110e0203 0000fde9 fa56ea00 0000fdea');
    const r = decodeUpdate(body, ctx({ as4: false }));
    expect(r.ok && r.value.announced[0]!.attrs.asPath).toEqual([{ type: 2, asns: [65003, 65001, 4200000000, 65002] }]);
  });

  it('interns equal attribute sets', () => {
    const c = ctx({ cache: new AttrCache() });
    const attrs = encodePathAttrs({ origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '10.0.0.1' }, { as4: true, withNextHop: true });
    const a: Buffer[] = [], b: Buffer[] = [];
    encodeAnnouncements('ipv4-unicast', attrs, '10.0.0.1', [parsePrefix('10.1.0.0/16')!], a);
    encodeAnnouncements('ipv4-unicast', attrs, '10.0.0.1', [parsePrefix('10.2.0.0/16')!], b);
    expect(decodeUpd(a[0]!, c).announced[0]!.attrs).toBe(decodeUpd(b[0]!, c).announced[0]!.attrs);
  });
});

/** Builds an UPDATE body from an attribute hex string and IPv4 NLRI hex. */
function upd(attrHex: string, nlriHex = '080a', withdrawnHex = ''): Buffer {
  const w = hex(withdrawnHex), a = hex(attrHex), n = hex(nlriHex);
  const b = Buffer.alloc(4 + w.length + a.length + n.length);
  b.writeUInt16BE(w.length, 0); w.copy(b, 2);
  b.writeUInt16BE(a.length, 2 + w.length); a.copy(b, 4 + w.length); n.copy(b, 4 + w.length + a.length);
  return b;
}
const ORIGIN = '400101 00', ASP = '400206 0201 0000fde9', NH = '400304 c0000201';

describe('UPDATE errors (RFC 7606)', () => {
  it.each([
    ['ORIGIN value 5', `400101 05 ${ASP} ${NH}`, 3, 6, 'treat-as-withdraw'],
    ['ORIGIN length 2', `400102 0000 ${ASP} ${NH}`, 3, 5, 'treat-as-withdraw'],
    ['AS_PATH zero-length segment', `${ORIGIN} 400202 0200 ${NH}`, 3, 11, 'treat-as-withdraw'],
    ['AS_PATH segment overrun', `${ORIGIN} 400206 0205 0000fde9 ${NH}`, 3, 11, 'treat-as-withdraw'],
    ['NEXT_HOP length 5', `${ORIGIN} ${ASP} 400305 c000020100`, 3, 5, 'treat-as-withdraw'],
    ['NEXT_HOP 0.0.0.0', `${ORIGIN} ${ASP} 400304 00000000`, 3, 8, 'treat-as-withdraw'],
    ['NEXT_HOP missing', `${ORIGIN} ${ASP}`, 3, 3, 'treat-as-withdraw'],
    ['ORIGIN missing', `${ASP} ${NH}`, 3, 3, 'treat-as-withdraw'],
    ['MED length 3', `${ORIGIN} ${ASP} ${NH} 800403 000000`, 3, 5, 'treat-as-withdraw'],
    ['COMMUNITIES length 5', `${ORIGIN} ${ASP} ${NH} c00805 0000000000`, 3, 9, 'treat-as-withdraw'],
    ['LARGE_COMMUNITY length 8', `${ORIGIN} ${ASP} ${NH} c02008 0000000000000000`, 3, 9, 'treat-as-withdraw'],
    ['ORIGIN flags optional', `800101 00 ${ASP} ${NH}`, 3, 4, 'treat-as-withdraw'],
    ['CLUSTER_LIST length 3', `${ORIGIN} ${ASP} ${NH} 800a03 010203`, 3, 5, 'treat-as-withdraw'],
    ['attribute overruns the field', `${ORIGIN} ${ASP} ${NH} c00810 00000000`, 3, 1, 'treat-as-withdraw'],
    ['ATOMIC_AGGREGATE length 1', `${ORIGIN} ${ASP} ${NH} 400601 00`, 3, 5, 'attribute-discard'],
    ['AGGREGATOR length 3', `${ORIGIN} ${ASP} ${NH} c00703 000000`, 3, 5, 'attribute-discard'],
  ])('%s', (_n, attrHex, code, subcode, action) => {
    const r = decodeUpdate(upd(attrHex), ctx());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([r.value.error?.code, r.value.error?.subcode, r.value.error?.action]).toEqual([code, subcode, action]);
    if (action === 'treat-as-withdraw') {
      expect(r.value.announced).toEqual([]);
      expect(r.value.withdrawn).toEqual([{ family: 'ipv4-unicast', keys: [parsePrefix('10.0.0.0/8')] }]);
    } else {
      expect(r.value.announced[0]!.keys).toEqual([parsePrefix('10.0.0.0/8')]);
    }
  });

  it.each([
    ['withdrawn length overrun', hex('0010 0000'), 3, 1],
    ['attribute length overrun', hex('0000 00ff 400101 00'), 3, 1],
    ['NLRI prefix length 33', upd(`${ORIGIN} ${ASP} ${NH}`, '21 0a000000 00'), 3, 10],
    ['unrecognized well-known attribute', upd(`${ORIGIN} ${ASP} ${NH} 406301 00`), 3, 2],
    ['duplicate MP_REACH', upd(`${ORIGIN} ${ASP} 800e0500020110 00 800e0500020110 00`, ''), 3, 1],
    ['MP_REACH bad next-hop length', upd(`${ORIGIN} ${ASP} 800e0900020104 c0000201 00`, ''), 3, 9],
  ])('session reset: %s', (_n, body, code, subcode) => {
    const r = decodeUpdate(body, ctx());
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.subcode, r.error.action]).toEqual([code, subcode, 'session-reset']);
  });

  it('eBGP: LOCAL_PREF discarded, first AS must be the peer', () => {
    const ok = decodeUpdate(upd(`${ORIGIN} ${ASP} ${NH} 400504 00000064`), ctx({ ebgp: true, peerAsn: 65001 }));
    expect(ok.ok && ok.value.announced[0]!.attrs.localPref).toBeUndefined();
    const bad = decodeUpdate(upd(`${ORIGIN} ${ASP} ${NH}`), ctx({ ebgp: true, peerAsn: 65002 }));
    expect(bad.ok && [bad.value.error?.subcode, bad.value.error?.action]).toEqual([11, 'treat-as-withdraw']);
  });

  it('keeps the first of duplicate attributes and passes unknown transitive ones with Partial', () => {
    const r = decodeUpdate(upd(`${ORIGIN} 400101 02 ${ASP} ${NH} c06302 abcd 806301 00`), ctx());
    expect(r.ok && r.value.announced[0]!.attrs.origin).toBe(0);
    expect(r.ok && r.value.announced[0]!.attrs.unknown).toEqual([{ flags: 0xe0, type: 0x63, value: hex('abcd') }]);
  });
});

describe('NOTIFICATION and ROUTE-REFRESH', () => {
  it('round-trips', () => {
    const n = encodeNotification(6, 2, Buffer.from('bye'));
    const f = frame(n);
    const r = decodeBody(f.type, f.body, ctx());
    expect(r.ok && r.value).toEqual({ type: 'notification', notification: { code: 6, subcode: 2, data: Buffer.from('bye') } });
    const rr = frame(encodeRouteRefresh('ipv4-unicast'));
    const d = decodeBody(rr.type, rr.body, ctx());
    expect(d.ok && d.value).toEqual({ type: 'route-refresh', refresh: { afi: 1, safi: 1, family: 'ipv4-unicast' } });
  });
});
