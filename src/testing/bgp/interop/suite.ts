// One interop suite, run against every daemon through its adapter (gobgp.kernel.test.ts, bird.kernel.test.ts, ...).
// Tests share one topology and run in order; each waits for real state on both sides.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerStatus, Route, SpeakerOptions } from '../../../bgp/api.js';
import { Framer } from '../../../bgp/wire/header.js';
import { decodeNotification } from '../../../bgp/wire/notification.js';
import { encodeOpen } from '../../../bgp/wire/open.js';
import { SpeakerHost } from './host.js';
import { buildTopology, destroyTopology, type Topology } from './topology.js';
import type { Daemon, DaemonAdapter, DaemonRoute, DaemonSpec } from './daemons/types.js';
import { waitFor } from '../../wait.js';

const OUR_AS = 65000, THEIR_AS = 65001;
const GR_SEC = 4, HOLD_SEC = 6;
const MD5 = 'krt-md5-secret';

export function defineInteropSuite(adapter: DaemonAdapter, tag: string): void {
  const skip = process.getuid?.() !== 0 ? 'needs root for network namespaces' : adapter.skipReason();
  describe.skipIf(skip !== undefined)(`interop with ${adapter.name}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let t: Topology;
    let host: SpeakerHost;
    let daemon: Daemon;
    const daemons: Daemon[] = [];

    const mainOpts = (restarting = false): Omit<SpeakerOptions, 'log'> => ({
      asn: OUR_AS, routerId: '10.99.1.1', listenAddresses: ['10.99.1.1'], listenPort: 179, holdTimeSec: HOLD_SEC, connectRetrySec: 1,
      gracefulRestart: { restartTimeSec: GR_SEC, deferralTimeSec: 5, restarting },
    });
    const mainPeer = () => ({
      address: t.l1.v4B, asn: THEIR_AS, localAddress: t.l1.v4A, families: ['ipv4-unicast', 'ipv6-unicast'] as const,
      exportPolicy: { asPathPrepend: { asn: OUR_AS, count: 2 }, addCommunities: ['65000:100'] },
    });
    const ourAds = () => [
      { prefix: '10.200.0.0/24', communities: ['65000:1'], largeCommunities: ['65000:1:1'], med: 10 },
      { prefix: '10.200.1.0/24' },
      { prefix: 'fd00:200::/64', nextHop: t.l1.v6A },
    ];
    const theirRoutes = () => [
      { prefix: '10.201.0.0/24', nextHop: t.l1.v4B, communities: ['65001:7'] },
      { prefix: 'fd00:201::/64', nextHop: t.l1.v6B },
    ];

    async function startMain(restarting = false): Promise<void> {
      await host.create('main', mainOpts(restarting));
      await host.setPeers('main', [mainPeer() as never]);
      await host.setAdvertisements('main', ourAds());
      await host.start('main');
    }
    const status = async (name: string, addr: string): Promise<PeerStatus | undefined> => (await host.peers(name)).find((p) => p.address === addr);
    const ours = async (prefix: string): Promise<Route | undefined> => (await host.bestPaths('main')).find((r) => r.prefix === prefix);
    const theirs = async (d: Daemon, prefix: string): Promise<DaemonRoute | undefined> => (await d.rib()).find((r) => r.prefix === prefix);
    const logs = () => `${daemon?.log() ?? ''}`;
    const up = (name: string, addr: string, ms = 30_000) =>
      waitFor(`${name} established with ${addr}`, async () => { const s = await status(name, addr); return s?.state === 'Established' && s; }, ms, 100, logs);

    beforeAll(async () => {
      t = await buildTopology(tag);
      const dir = join(t.dir, 'b');
      mkdirSync(dir);
      const spec: DaemonSpec = {
        ns: t.b, dir, routerId: t.l1.v4B, asn: THEIR_AS, local4: t.l1.v4B, local6: t.l1.v6B,
        neighbors: [
          { address: t.l1.v4A, asn: OUR_AS, v6: true, grRestartSec: GR_SEC, holdSec: HOLD_SEC },
          { address: t.wrongAsAddr, asn: 65099 },
          { address: t.weRejectAddr, asn: OUR_AS },
          { address: t.md5Addr, asn: OUR_AS, password: MD5 },
          { address: t.md5WrongAddr, asn: OUR_AS, password: MD5 },
        ],
        routes: theirRoutes(),
      };
      daemon = adapter.create(spec);
      daemons.push(daemon);
      host = await SpeakerHost.spawn(t.a);
      await daemon.start();
      await startMain();
    });

    afterAll(async () => {
      await host?.close();
      for (const d of daemons) await d.stop();
      destroyTopology(t, tag);
    });

    it('session comes up', async () => {
      const s = await up('main', t.l1.v4B);
      expect(s.localAddress).toBe(t.l1.v4A);
    });

    it('our IPv4 and IPv6 prefixes reach their RIB with communities, MED and the prepended AS path', async () => {
      const r = await waitFor('10.200.0.0/24 in their RIB', () => theirs(daemon, '10.200.0.0/24'), 20_000, 100, logs);
      expect(r.nextHop).toBe(t.l1.v4A);
      expect(r.asPath).toEqual([OUR_AS, OUR_AS, OUR_AS]);
      expect([...r.communities].sort()).toEqual(['65000:1', '65000:100']);
      expect(r.largeCommunities).toEqual(['65000:1:1']);
      expect(r.med).toBe(10);
      const r6 = await waitFor('fd00:200::/64 in their RIB', () => theirs(daemon, 'fd00:200::/64'), 20_000, 100, logs);
      expect(r6.nextHop).toBe(t.l1.v6A);
      expect(r6.asPath).toEqual([OUR_AS, OUR_AS, OUR_AS]);
    });

    it('their prefixes reach our RIB', async () => {
      const r = await waitFor('10.201.0.0/24 in our RIB', () => ours('10.201.0.0/24'));
      expect(r).toMatchObject({ nextHop: t.l1.v4B, peer: t.l1.v4B, asPath: [THEIR_AS], communities: ['65001:7'], stale: false });
      const r6 = await waitFor('fd00:201::/64 in our RIB', () => ours('fd00:201::/64'));
      expect(r6.family).toBe('ipv6-unicast');
      expect(r6.nextHop).toBe(t.l1.v6B);
    });

    it('withdrawals both ways', async () => {
      await host.setAdvertisements('main', ourAds().filter((a) => a.prefix !== '10.200.1.0/24'));
      await waitFor('10.200.1.0/24 gone from their RIB', async () => !(await theirs(daemon, '10.200.1.0/24')), 20_000, 100, logs);
      expect(await theirs(daemon, '10.200.0.0/24')).toBeDefined();
      await daemon.withdraw('10.201.0.0/24');
      await waitFor('10.201.0.0/24 gone from our RIB', async () => !(await ours('10.201.0.0/24')));
      await host.setAdvertisements('main', ourAds());
      await daemon.announce(theirRoutes()[0]!);
      await waitFor('both back', async () => !!(await ours('10.201.0.0/24')) && !!(await theirs(daemon, '10.200.1.0/24')), 20_000, 100, logs);
    });

    it('route refresh both ways', async () => {
      const before = (await status('main', t.l1.v4B))!.counters!;
      expect(await host.refresh('main', t.l1.v4B)).toBe(true);
      await waitFor('UPDATEs resent after our ROUTE-REFRESH', async () => (await status('main', t.l1.v4B))!.counters!.updatesIn > before.updatesIn, 10_000, 100, logs);
      if (!daemon.requestRefresh) return;
      await daemon.requestRefresh(t.l1.v4A);
      await waitFor('their ROUTE-REFRESH received', async () => (await status('main', t.l1.v4B))!.counters!.routeRefreshIn > before.routeRefreshIn, 10_000, 100, logs);
      expect(await theirs(daemon, '10.200.0.0/24')).toBeDefined();
    });

    it('a wrong AS number is answered with OPEN error 2/2 both ways', async () => {
      await host.create('wrongas', { asn: OUR_AS, routerId: t.wrongAsAddr, listenPort: 0, holdTimeSec: HOLD_SEC, connectRetrySec: 1 });
      await host.setPeers('wrongas', [{ address: t.l1.v4B, asn: THEIR_AS, localAddress: t.wrongAsAddr }]);
      await host.start('wrongas');
      await waitFor('their 2/2 Bad Peer AS', async () => (await status('wrongas', t.l1.v4B))?.lastError?.includes('received 2/2'), 20_000, 100, logs);
      await host.stop('wrongas');
      await host.create('reject', { asn: OUR_AS, routerId: t.weRejectAddr, listenPort: 0, holdTimeSec: HOLD_SEC, connectRetrySec: 1 });
      await host.setPeers('reject', [{ address: t.l1.v4B, asn: 65002, localAddress: t.weRejectAddr }]);
      await host.start('reject');
      await waitFor('our 2/2 Bad Peer AS', async () => (await status('reject', t.l1.v4B))?.lastError?.includes('sent 2/2'), 20_000, 100, logs);
      await host.stop('reject');
    });

    const deviation = adapter.badOpenDeviations ? ` (known ${adapter.name} deviation: ${adapter.badOpenDeviations.version.why})` : '';
    it(`a bad OPEN (version 3, hold time 1) gets the right NOTIFICATION from them${deviation}`, async () => {
      const dev = adapter.badOpenDeviations;
      const cases = [
        [(b: Buffer) => { b[19] = 3; }, ...(dev?.version.answer ?? [2, 1])],
        [(b: Buffer) => { b.writeUInt16BE(1, 22); }, ...(dev?.holdTime.answer ?? [2, 6])],
      ] as const;
      for (const [mutate, code, subcode] of cases) {
        const open = Buffer.from(encodeOpen(65099, 90, t.wrongAsAddr, [{ kind: 'as4', asn: 65099 }, { kind: 'multiprotocol', afi: 1, safi: 1 }]));
        mutate(open);
        const got = await waitFor('a NOTIFICATION', async () => {
          const hex = await host.rawExchange(t.l1.v4B, 179, open.toString('hex'), 3000, t.wrongAsAddr);
          const frames = new Framer().push(Buffer.from(hex, 'hex')).frames.filter((f) => f.type === 3);
          return frames[0] ? decodeNotification(frames[0].body) : undefined;
        }, 20_000, 100, logs);
        expect([got.code, got.subcode]).toEqual([code, subcode]);
      }
    });

    it('hold timer expiry when the peer is frozen, then recovery', async () => {
      daemon.signal('SIGSTOP');
      try {
        await waitFor('our 4/0 Hold Timer Expired', async () => (await status('main', t.l1.v4B))?.lastError?.includes('sent 4/0'), HOLD_SEC * 1000 + 8000, 100, logs);
        expect(await ours('10.201.0.0/24')).toBeUndefined(); // hold expiry is not a graceful restart
      } finally {
        daemon.signal('SIGCONT');
      }
      await up('main', t.l1.v4B, 40_000);
      await waitFor('their routes back', () => ours('10.201.0.0/24'));
    });

    it('graceful restart of the peer: stale routes kept, refreshed after End-of-RIB, dropped at the restart time', async () => {
      daemon.signal('SIGKILL');
      await waitFor('route kept as stale', async () => (await ours('10.201.0.0/24'))?.stale === true, 10_000);
      await daemon.start();
      await up('main', t.l1.v4B);
      await waitFor('route fresh again', async () => (await ours('10.201.0.0/24'))?.stale === false, 20_000, 100, logs);
      daemon.signal('SIGKILL');
      await waitFor('route stale', async () => (await ours('10.201.0.0/24'))?.stale === true, 10_000);
      const t0 = Date.now();
      await waitFor('stale route dropped', async () => !(await ours('10.201.0.0/24')), (GR_SEC + 6) * 1000);
      expect(Date.now() - t0).toBeGreaterThan((GR_SEC - 2) * 1000);
      await daemon.start();
      await up('main', t.l1.v4B);
    });

    it.skipIf(!adapter.grHelper)(`graceful restart of our speaker: the peer keeps our routes until we are back or the restart time ends${adapter.grHelper ? '' : ` (skipped: ${adapter.name} does not keep a RIB of received routes, so it cannot act as GR helper)`}`, async () => {
      await waitFor('our route present', () => theirs(daemon, '10.200.0.0/24'), 20_000, 100, logs);
      await host.stop('main', true);
      await new Promise((r) => setTimeout(r, 1500));
      expect(await theirs(daemon, '10.200.0.0/24')).toBeDefined();
      await startMain(true);
      await up('main', t.l1.v4B);
      await waitFor('our route fresh at the peer', async () => { const r = await theirs(daemon, '10.200.0.0/24'); return r && r.stale !== true; }, 20_000, 100, logs);
      await host.stop('main', true);
      await waitFor('our route dropped after the restart time', async () => !(await theirs(daemon, '10.200.0.0/24')), (GR_SEC + 8) * 1000, 100, logs);
      await startMain();
      await up('main', t.l1.v4B);
    });

    it('TCP MD5: the right password brings the session up, a wrong one does not', async () => {
      await host.create('md5', { asn: OUR_AS, routerId: t.md5Addr, listenPort: 0, holdTimeSec: HOLD_SEC, connectRetrySec: 1 });
      await host.setPeers('md5', [{ address: t.l1.v4B, asn: THEIR_AS, localAddress: t.md5Addr, password: MD5 }]);
      await host.create('md5bad', { asn: OUR_AS, routerId: t.md5WrongAddr, listenPort: 0, holdTimeSec: HOLD_SEC, connectRetrySec: 1 });
      await host.setPeers('md5bad', [{ address: t.l1.v4B, asn: THEIR_AS, localAddress: t.md5WrongAddr, password: 'not-the-secret' }]);
      await host.start('md5');
      await host.start('md5bad');
      await up('md5', t.l1.v4B);
      await new Promise((r) => setTimeout(r, 2000));
      expect((await status('md5bad', t.l1.v4B))?.state).not.toBe('Established');
      await host.stop('md5');
      await host.stop('md5bad');
    });

    it('route reflector with two clients', async () => {
      await host.stop('main');
      await daemon.stop();
      const client = (ns: string, link: typeof t.l1, n: number): Daemon => {
        const dir = join(t.dir, `rr${n}`);
        mkdirSync(dir);
        return adapter.create({
          ns, dir, routerId: link.v4B, asn: OUR_AS, local4: link.v4B,
          neighbors: [{ address: link.v4A, asn: OUR_AS }], routes: [{ prefix: `10.21${n}.0.0/24`, nextHop: link.v4B }],
        });
      };
      const c1 = client(t.b, t.l1, 1), c2 = client(t.c, t.l2, 2);
      daemons.push(c1, c2);
      await c1.start();
      await c2.start();
      await host.create('rr', { asn: OUR_AS, routerId: '10.99.0.1', clusterId: '10.99.0.99', listenAddresses: [t.l1.v4A, t.l2.v4A], listenPort: 179, holdTimeSec: HOLD_SEC, connectRetrySec: 1 });
      await host.setPeers('rr', [
        { address: t.l1.v4B, asn: OUR_AS, localAddress: t.l1.v4A, routeReflectorClient: true },
        { address: t.l2.v4B, asn: OUR_AS, localAddress: t.l2.v4A, routeReflectorClient: true },
      ]);
      await host.start('rr');
      const both = () => `${c1.log()}\n${c2.log()}`;
      const at2 = await waitFor('client 1 route at client 2', () => theirs(c2, '10.211.0.0/24'), 30_000, 100, both);
      expect(at2.originatorId).toBe(t.l1.v4B);
      expect(at2.clusterList).toEqual(['10.99.0.99']);
      expect(at2.nextHop).toBe(t.l1.v4B);
      const at1 = await waitFor('client 2 route at client 1', () => theirs(c1, '10.212.0.0/24'), 30_000, 100, both);
      expect(at1.originatorId).toBe(t.l2.v4B);
      expect(at1.clusterList).toEqual(['10.99.0.99']);
    });
  });
}
