import { describe, expect, it } from 'vitest';
import { bestIndex } from './decision.js';
import { ExportMemo, mayExport, type ExportTarget } from './export.js';
import { LocRib } from './loc-rib.js';
import { compileExport, compileImport, loops, PrefixSet } from './policy.js';
import type { Path, PeerRef } from './path.js';
import type { PathAttrs } from '../wire/attrs/types.js';
import { parsePrefix } from '../wire/prefix.js';

const peer = (address: string, asn: number, internal: boolean, routerId = address, rrClient = false): PeerRef => ({ address, asn, internal, routerId, rrClient });
const path = (attrs: Partial<PathAttrs>, source?: PeerRef, extra: Partial<Path> = {}): Path =>
  ({ attrs: { origin: 0, asPath: [], nextHop: '10.0.0.9', ...attrs }, source, stale: false, ...extra });
const seq = (...asns: number[]) => [{ type: 2, asns }];

const ebgpA = peer('10.0.0.1', 65001, false), ebgpB = peer('10.0.0.2', 65002, false);
const ibgpX = peer('10.0.1.1', 65000, true, '1.1.1.1'), ibgpY = peer('10.0.1.2', 65000, true, '2.2.2.2');

describe('decision process', () => {
  const best = (...ps: Path[]) => ps[bestIndex(ps)];
  it('prefers our own route, then higher LOCAL_PREF, then shorter AS_PATH, then lower ORIGIN', () => {
    const local = path({}, undefined);
    const hiLp = path({ localPref: 200, asPath: seq(1, 2, 3) }, ibgpX);
    const shortPath = path({ asPath: seq(1) }, ibgpY);
    const igp = path({ asPath: seq(5, 6), origin: 0 }, ebgpA), egp = path({ asPath: seq(5, 6), origin: 1 }, ebgpB);
    expect(best(hiLp, local)).toBe(local);
    expect(best(shortPath, hiLp)).toBe(hiLp);
    expect(best(path({ asPath: seq(1, 2) }, ibgpX), shortPath)).toBe(shortPath);
    expect(best(egp, igp)).toBe(igp);
  });

  it('an AS_SET counts as one AS', () => {
    const set = path({ asPath: [{ type: 2, asns: [1] }, { type: 1, asns: [7, 8, 9] }] }, ebgpA);
    const three = path({ asPath: seq(1, 2, 3) }, ebgpB);
    expect(best(three, set)).toBe(set);
  });

  it('compares MED only between routes from the same neighbouring AS', () => {
    const a1 = path({ asPath: seq(100), med: 50 }, peer('10.0.0.5', 65000, true, '5.5.5.5'));
    const a2 = path({ asPath: seq(100), med: 10 }, peer('10.0.0.6', 65000, true, '6.6.6.6'));
    const b = path({ asPath: seq(200), med: 0 }, peer('10.0.0.4', 65000, true, '9.9.9.9'));
    // a1 loses to a2 on MED; between a2 and b MED is not compared, so the lower router id (a2's 6.6.6.6) wins.
    expect(best(a1, b, a2)).toBe(a2);
    expect(best(a1, b)).toBe(a1);
  });

  it('prefers eBGP over iBGP, then the lower router id (ORIGINATOR_ID when reflected), then the shorter CLUSTER_LIST', () => {
    const fromE = path({}, ebgpA), fromI = path({}, ibgpX);
    expect(best(fromI, fromE)).toBe(fromE);
    const refl = path({ originatorId: '0.0.0.1' }, ibgpY);
    expect(best(fromI, refl)).toBe(refl);
    const long = path({ clusterList: ['1.1.1.1', '2.2.2.2'] }, peer('10.0.1.3', 65000, true, '3.3.3.3'));
    const short = path({ clusterList: ['1.1.1.1'] }, peer('10.0.1.4', 65000, true, '3.3.3.3'));
    expect(best(long, short)).toBe(short);
  });
});

describe('Loc-RIB', () => {
  it('reports only real best-path changes', () => {
    const rib = new LocRib();
    const k = parsePrefix('10.0.0.0/24')!;
    const p1 = path({ asPath: seq(1, 2) }, ebgpA), p2 = path({ asPath: seq(3) }, ebgpB);
    rib.set(k, p1);
    expect([...rib.drain()]).toEqual([[k, undefined]]);
    rib.set(k, p2);
    expect(rib.best(k)).toBe(p2);
    rib.delete(k, ebgpB);
    expect(rib.drain().size).toBe(0); // back to p1: no change to report
    rib.delete(k, ebgpA);
    expect([...rib.drain()]).toEqual([[k, p1]]);
    expect(rib.size).toBe(0);
  });
});

describe('policies', () => {
  it('prefix sets match covered prefixes of either family', () => {
    const s = new PrefixSet(['10.0.0.0/8', '192.168.1.0/24', 'fd00::/16', 'bogus']);
    expect(s.invalid).toEqual(['bogus']);
    expect(s.covers(parsePrefix('10.1.2.0/24')!)).toBe(true);
    expect(s.covers(parsePrefix('10.0.0.0/8')!)).toBe(true);
    expect(s.covers(parsePrefix('11.0.0.0/8')!)).toBe(false);
    expect(s.covers(parsePrefix('192.168.0.0/16')!)).toBe(false);
    expect(s.covers(parsePrefix('fd00:1::/64')!)).toBe(true);
    expect(s.covers(parsePrefix('fe80::/64')!)).toBe(false);
  });

  it('import: default routes and rejected ranges; loop detection', () => {
    const imp = compileImport({ rejectDefault: true, rejectPrefixes: ['10.96.0.0/12'] });
    expect(imp.acceptPrefix(parsePrefix('0.0.0.0/0')!)).toBe(false);
    expect(imp.acceptPrefix(parsePrefix('::/0')!)).toBe(false);
    expect(imp.acceptPrefix(parsePrefix('10.100.0.1/32')!)).toBe(false);
    expect(imp.acceptPrefix(parsePrefix('10.244.0.0/24')!)).toBe(true);
    expect(loops({ origin: 0, asPath: seq(1, 65000) }, 65000, '9.9.9.9', '9.9.9.9')).toBe(true);
    expect(loops({ origin: 0, asPath: [], originatorId: '9.9.9.9' }, 65000, '9.9.9.9', '1.1.1.1')).toBe(true);
    expect(loops({ origin: 0, asPath: [], clusterList: ['1.1.1.1'] }, 65000, '9.9.9.9', '1.1.1.1')).toBe(true);
    expect(loops({ origin: 0, asPath: seq(1) }, 65000, '9.9.9.9', '1.1.1.1')).toBe(false);
  });
});

describe('export', () => {
  const me = { asn: 65000, routerId: '10.0.0.100', clusterId: '10.0.0.99' };
  const target = (ref: PeerRef, policy = compileExport(undefined), localAddress = '10.0.9.1'): ExportTarget => ({ ref, localAddress, policy, nextHopSelf: false });
  const k = parsePrefix('10.5.0.0/16')!;

  it('iBGP split horizon unless a side is a reflector client', () => {
    const fromX = path({}, ibgpX);
    expect(mayExport(fromX, k, target(ibgpY))).toBe(false);
    expect(mayExport(fromX, k, target(ebgpA))).toBe(true);
    expect(mayExport(fromX, k, target({ ...ibgpY, rrClient: true }))).toBe(true);
    expect(mayExport(path({}, { ...ibgpX, rrClient: true }), k, target(ibgpY))).toBe(true);
    expect(mayExport(fromX, k, target(ibgpX))).toBe(false); // never back to the source
  });

  it('well-known communities and audiences', () => {
    expect(mayExport(path({ communities: [0xffffff01] }, undefined), k, target(ebgpA))).toBe(false);
    expect(mayExport(path({ communities: [0xffffff01] }, undefined), k, target(ibgpX))).toBe(true);
    expect(mayExport(path({ communities: [0xffffff02] }, undefined), k, target(ibgpX))).toBe(false);
    expect(mayExport(path({}, undefined, { audience: 'external' }), k, target(ibgpX))).toBe(false);
    expect(mayExport(path({}, undefined, { audience: new Set(['10.0.0.1']) }), k, target(ebgpA))).toBe(true);
    expect(mayExport(path({}, undefined, { audience: new Set(['10.0.0.1']) }), k, target(ebgpB))).toBe(false);
    expect(mayExport(path({}, undefined), k, target(ebgpA, compileExport({ rejectPrefixes: ['10.0.0.0/8'] })))).toBe(false);
  });

  it('eBGP: own AS and prepends first, next hop self, no LOCAL_PREF, MED only for our routes', () => {
    const m = new ExportMemo(target(ebgpA, compileExport({ asPathPrepend: { asn: 65000, count: 2 }, addCommunities: ['65000:1'] })), me);
    const learned = path({ asPath: seq(7), med: 5, localPref: 300, originatorId: '1.2.3.4', clusterList: ['5.5.5.5'] }, ibgpX);
    const out = m.attrsFor(learned, true);
    expect(out).toEqual({ origin: 0, asPath: seq(65000, 65000, 65000, 7), nextHop: '10.0.9.1', communities: [65000 * 65536 + 1] });
    expect(m.attrsFor(learned, true)).toBe(out); // memoised: identical object
    expect(m.attrsFor(path({ med: 5 }, undefined), true).med).toBe(5);
  });

  it('iBGP: LOCAL_PREF set, next hop kept for learned routes, self for ours; reflection adds ORIGINATOR_ID and CLUSTER_LIST', () => {
    const m = new ExportMemo(target({ ...ibgpY, rrClient: true }), me);
    const reflected = m.attrsFor(path({ nextHop: '10.0.1.1' }, ibgpX), true);
    expect(reflected).toMatchObject({ nextHop: '10.0.1.1', localPref: 100, originatorId: '1.1.1.1', clusterList: ['10.0.0.99'] });
    const ours = m.attrsFor(path({ nextHop: undefined }, undefined), true);
    expect(ours.nextHop).toBe('10.0.9.1');
    expect(ours.originatorId).toBeUndefined();
    const v6 = new ExportMemo(target(ibgpY), me).attrsFor(path({ nextHop: undefined }, undefined), false);
    expect(v6.nextHop).toBe('::ffff:10.0.9.1');
  });
});
