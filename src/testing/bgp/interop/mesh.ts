// The 30-speaker iBGP full-mesh measurement, run inside one process (speaker-host) so the timing is
// event-driven rather than polled: N speakers on loopback addresses, every pair peered.
import { Speaker } from '../../../bgp/speaker.js';

export interface MeshResult {
  speakers: number;
  sessions: number;
  establishMs: number;
  propagateOneMs: number;
  propagateBulkMs: number;
  bulkRoutes: number;
  heapPerSessionBytes: number;
  rssPerSessionBytes: number;
  heapPerRouteBytes: number;
  rssPerRouteBytes: number;
}

const gc = () => { (globalThis as { gc?: () => void }).gc?.(); };
const mem = () => { gc(); const m = process.memoryUsage(); return { heap: m.heapUsed, rss: m.rss }; };

export async function runMesh(n: number, bulk: number): Promise<MeshResult> {
  const addr = (i: number) => `127.0.1.${i + 1}`;
  const m0 = mem();
  const sp: Speaker[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Speaker({ asn: 65000, routerId: addr(i), listenAddresses: [addr(i)], listenPort: 179, holdTimeSec: 90, connectRetrySec: 1 });
    s.setPeers(Array.from({ length: n }, (_, j) => j).filter((j) => j !== i).map((j) => ({ address: addr(j), asn: 65000, localAddress: addr(i) })));
    s.setAdvertisements([]);
    sp.push(s);
  }
  const t0 = performance.now();
  await Promise.all(sp.map((s) => s.start()));
  for (;;) {
    if (sp.every((s) => s.peers().every((p) => p.state === 'Established'))) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const establishMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500));
  const m1 = mem();
  const sessions = (n * (n - 1)) / 2;

  const until = (pred: (s: Speaker) => boolean) => new Promise<number>((resolve) => {
    const start = performance.now();
    const pending = new Set(sp.slice(1));
    const check = (s: Speaker) => { if (pending.has(s) && pred(s)) { pending.delete(s); if (pending.size === 0) resolve(performance.now() - start); } };
    for (const s of sp.slice(1)) s.on('bestPathChanged', () => check(s));
  });
  const one = until((s) => s.bestPaths().some((r) => r.prefix === '10.77.0.0/24'));
  sp[0]!.setAdvertisements([{ prefix: '10.77.0.0/24' }]);
  const propagateOneMs = await one;
  for (const s of sp) s.removeAllListeners('bestPathChanged');

  const ads = [{ prefix: '10.77.0.0/24' }];
  for (let i = 0; i < bulk; i++) ads.push({ prefix: `10.${80 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32` });
  const counted = new Map<Speaker, number>();
  // The counting listeners go first so the completion check sees the count including this event.
  for (const s of sp.slice(1)) s.on('bestPathChanged', (c) => { if (c.best) counted.set(s, (counted.get(s) ?? 0) + 1); });
  const all = until((s) => (counted.get(s) ?? 0) >= bulk);
  sp[0]!.setAdvertisements(ads);
  const propagateBulkMs = await all;
  for (const s of sp) s.removeAllListeners('bestPathChanged');
  await new Promise((r) => setTimeout(r, 300));
  const m2 = mem();
  // Every other speaker holds each route once (Adj-RIB-In + Loc-RIB); the origin holds it in its
  // Adj-RIB-Out towards 29 peers. Per route is per route per speaker.
  const routeCopies = bulk * n;
  await Promise.all(sp.map((s) => s.stop()));
  return {
    speakers: n, sessions, establishMs, propagateOneMs, propagateBulkMs, bulkRoutes: bulk,
    heapPerSessionBytes: (m1.heap - m0.heap) / (2 * sessions), rssPerSessionBytes: (m1.rss - m0.rss) / (2 * sessions),
    heapPerRouteBytes: (m2.heap - m1.heap) / routeCopies, rssPerRouteBytes: (m2.rss - m1.rss) / routeCopies,
  };
}
