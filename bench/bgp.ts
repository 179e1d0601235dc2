// BGP speaker benchmark: 100k IPv4 prefixes sent and received, against gobgpd and BIRD measured the same
// way in the same run; decoder throughput; a 30-speaker iBGP full mesh. Run as root:
//   npx tsx bench/bgp.ts            (add --skip-daemons to run only the in-process parts)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SpeakerHost } from '../src/testing/bgp/interop/host.js';
import { buildTopology, destroyTopology, type Topology } from '../src/testing/bgp/interop/topology.js';
import { addNamespace, removeNamespaces } from '../src/testing/bgp/interop/netns.js';
import { Gobgpd } from '../src/testing/bgp/interop/daemons/gobgp.js';
import { Bird } from '../src/testing/bgp/interop/daemons/bird.js';
import { mrtDump } from '../src/testing/bgp/interop/mrt.js';
import { AttrCache, decodeUpdate, encodeAnnouncements, encodePathAttrs, parsePrefix, type UpdateContext } from '../src/bgp/wire/index.js';

const N = 100_000;
const prefixes = Array.from({ length: N }, (_, i) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function pollUntil(fn: () => Promise<boolean>, timeoutMs: number, stepMs = 10): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return Date.now();
    if (Date.now() > end) throw new Error('timeout');
    await sleep(stepMs);
  }
}

interface Row { case: string; seconds: number; receiverRssMb: number; note?: string }
const rows: Row[] = [];

function gobgpSpec(t: Topology, side: 'a' | 'b', name: string) {
  const me = side === 'a' ? { ns: t.a, addr: t.l1.v4A, asn: 65000 } : { ns: t.b, addr: t.l1.v4B, asn: 65001 };
  const peer = side === 'a' ? { addr: t.l1.v4B, asn: 65001 } : { addr: t.l1.v4A, asn: 65000 };
  return { ns: me.ns, dir: join(t.dir, name), routerId: me.addr, asn: me.asn, local4: me.addr, neighbors: [{ address: peer.addr, asn: peer.asn, holdSec: 90 }], routes: [] };
}

async function mkdir(t: Topology, name: string) {
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(t.dir, name), { recursive: true });
}

/** gobgpd in `side` loaded with the 100k routes (MRT inject) before any session exists. */
async function loadedGobgp(t: Topology, side: 'a' | 'b', name: string): Promise<Gobgpd> {
  await mkdir(t, name);
  const spec = gobgpSpec(t, side, name);
  // The neighbor is added only after the routes are in, so the session starts with a full table.
  const g = new Gobgpd({ ...spec, neighbors: [] });
  await g.start();
  const file = join(t.dir, name, 'routes.mrt');
  writeFileSync(file, mrtDump(prefixes, { origin: 0, asPath: [], nextHop: spec.local4 }, { id: spec.routerId, address: spec.local4, asn: spec.asn }));
  await g.injectMrt(file);
  await pollUntil(async () => (await g.ribCount()) >= N, 120_000, 100);
  const peer = spec.neighbors[0]!;
  await (g as unknown as { cli(a: string[]): Promise<string> }).cli(['neighbor', 'add', peer.address, 'as', String(peer.asn), 'local-as', String(spec.asn)]);
  return g;
}

async function oursToGobgp(t: Topology, host: SpeakerHost) {
  await mkdir(t, 'o2g');
  const rx = new Gobgpd(gobgpSpec(t, 'b', 'o2g'));
  await host.create('tx', { asn: 65000, routerId: t.l1.v4A, listenAddresses: [t.l1.v4A], listenPort: 179, holdTimeSec: 90, connectRetrySec: 1 });
  await host.setPeers('tx', [{ address: t.l1.v4B, asn: 65001, localAddress: t.l1.v4A }]);
  await host.setAdvertisements('tx', prefixes.map((prefix) => ({ prefix })));
  await host.start('tx');
  await rx.start();
  const done = await pollUntil(async () => (await rx.ribCount()) >= N, 120_000);
  const est = await host.establishedAt('tx', t.l1.v4B);
  rows.push({ case: 'ours -> gobgpd', seconds: (done - est) / 1000, receiverRssMb: rssMb(rx.pid) });
  await host.stop('tx');
  await rx.stop();
}

async function gobgpToGobgp(t: Topology) {
  const tx = await loadedGobgp(t, 'a', 'g2g-tx');
  await mkdir(t, 'g2g-rx');
  const rx = new Gobgpd(gobgpSpec(t, 'b', 'g2g-rx'));
  await rx.start();
  const est = await pollUntil(() => rx.established(t.l1.v4A), 60_000, 5);
  const done = await pollUntil(async () => (await rx.ribCount()) >= N, 120_000);
  rows.push({ case: 'gobgpd -> gobgpd', seconds: (done - est) / 1000, receiverRssMb: rssMb(rx.pid), note: 'Established seen by polling the CLI (5 ms)' });
  await rx.stop();
  await tx.stop();
}

/** Compiles src/bgp and the speaker host (test support) to plain JS (the receiver then runs as it would in production, without tsx). */
function compileBgp(): string | undefined {
  const out = mkdtempSync(join(tmpdir(), 'krt-bgp-js-'));
  const cfg = join(out, 'tsconfig.json');
  const root = process.cwd();
  writeFileSync(cfg, JSON.stringify({
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { rootDir: join(root, 'src'), outDir: join(out, 'js'), sourceMap: false, noEmit: false, typeRoots: [join(root, 'node_modules/@types')] },
    include: [join(root, 'src/bgp/**/*.ts'), join(root, 'src/testing/bgp/interop/speaker-host.ts')], exclude: [join(root, 'src/bgp/**/*.test.ts')],
  }));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', cfg], { stdio: 'pipe' });
    return join(out, 'js/testing/bgp/interop/speaker-host.js');
  } catch (e) {
    console.error(`compiling src/bgp failed, measuring under tsx: ${(e as { stdout?: Buffer }).stdout?.toString().slice(0, 500)}`);
    return undefined;
  }
}

async function gobgpToOurs(t: Topology) {
  const tx = await loadedGobgp(t, 'b', 'g2o-tx');
  // A fresh process, so its RSS is this receiver's alone.
  const compiled = compileBgp();
  const host = await SpeakerHost.spawn(t.a, ['--expose-gc'], compiled);
  const before = await host.memory();
  await host.create('rx', { asn: 65000, routerId: t.l1.v4A, listenAddresses: [t.l1.v4A], listenPort: 179, holdTimeSec: 90, connectRetrySec: 1 });
  await host.setPeers('rx', [{ address: t.l1.v4B, asn: 65001, localAddress: t.l1.v4A }]);
  await host.setAdvertisements('rx', []);
  await host.start('rx');
  const r = await host.waitRoutes('rx', N, 120_000);
  const after = await host.memory();
  rows.push({
    case: 'gobgpd -> ours', seconds: r.msFromEstablished / 1000, receiverRssMb: after.rss / 2 ** 20,
    note: `whole process${compiled ? ' (compiled JS)' : ' (under tsx)'}; idle it is ${(before.rss / 2 ** 20).toFixed(0)} MB; heap ${(after.heapUsed / 2 ** 20).toFixed(0)} MB, +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MB for the routes`,
  });
  await host.stop('rx');
  await host.close();
  await tx.stop();
  if (compiled) rmSync(dirname(dirname(dirname(dirname(compiled)))), { recursive: true, force: true });
}

async function oursToBird(t: Topology, host: SpeakerHost) {
  await mkdir(t, 'o2b');
  const rx = new Bird({ ns: t.b, dir: join(t.dir, 'o2b'), routerId: t.l1.v4B, asn: 65001, local4: t.l1.v4B, neighbors: [{ address: t.l1.v4A, asn: 65000, holdSec: 90 }], routes: [] });
  await host.create('txb', { asn: 65000, routerId: t.l1.v4A, listenAddresses: [t.l1.v4A], listenPort: 179, holdTimeSec: 90, connectRetrySec: 1 });
  await host.setPeers('txb', [{ address: t.l1.v4B, asn: 65001, localAddress: t.l1.v4A }]);
  await host.setAdvertisements('txb', prefixes.map((prefix) => ({ prefix })));
  await host.start('txb');
  await rx.start();
  const done = await pollUntil(async () => (await rx.ribCount()) >= N, 120_000);
  const est = await host.establishedAt('txb', t.l1.v4B);
  rows.push({ case: 'ours -> BIRD', seconds: (done - est) / 1000, receiverRssMb: rssMb(rx.pid) });
  await host.stop('txb');
  await rx.stop();
}

async function gobgpToBird(t: Topology) {
  const tx = await loadedGobgp(t, 'b', 'g2b-tx');
  await mkdir(t, 'g2b-rx');
  const rx = new Bird({ ns: t.a, dir: join(t.dir, 'g2b-rx'), routerId: t.l1.v4A, asn: 65000, local4: t.l1.v4A, neighbors: [{ address: t.l1.v4B, asn: 65001, holdSec: 90 }], routes: [] });
  await rx.start();
  const est = await pollUntil(() => rx.established(), 60_000, 5);
  const done = await pollUntil(async () => (await rx.ribCount()) >= N, 120_000);
  rows.push({ case: 'gobgpd -> BIRD', seconds: (done - est) / 1000, receiverRssMb: rssMb(rx.pid), note: 'Established seen by polling birdc (5 ms)' });
  await rx.stop();
  await tx.stop();
}

function decodeThroughput(): string[] {
  const out: string[] = [];
  const ctx: UpdateContext = { as4: true, ebgp: true, peerAsn: 65001, families: new Set(['ipv4-unicast']), cache: new AttrCache() };
  const keys = prefixes.map((p) => parsePrefix(p)!);
  const base = { origin: 0, asPath: [{ type: 2, asns: [65001, 65002, 65003] }], nextHop: '10.0.0.1', communities: [65001 * 65536 + 1] };
  const packed: Buffer[] = [];
  encodeAnnouncements('ipv4-unicast', encodePathAttrs(base, { as4: true, withNextHop: true }), '10.0.0.1', keys, packed);
  const single: Buffer[] = [], distinct: Buffer[] = [];
  const shared = encodePathAttrs(base, { as4: true, withNextHop: true });
  for (let i = 0; i < N; i++) {
    encodeAnnouncements('ipv4-unicast', shared, '10.0.0.1', [keys[i]!], single);
    encodeAnnouncements('ipv4-unicast', encodePathAttrs({ ...base, med: i }, { as4: true, withNextHop: true }), '10.0.0.1', [keys[i]!], distinct);
  }
  for (const [name, msgs, ctxOf] of [
    ['packed (~1000 NLRI per UPDATE)', packed, () => ({ ...ctx, cache: new AttrCache() })],
    ['1 NLRI per UPDATE, equal attributes', single, () => ({ ...ctx, cache: new AttrCache() })],
    ['1 NLRI per UPDATE, all attributes distinct', distinct, () => ({ ...ctx, cache: new AttrCache() })],
  ] as const) {
    let best = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const c = ctxOf();
      const t0 = performance.now();
      for (const m of msgs) { const r = decodeUpdate(m.subarray(19), c); if (!r.ok) throw new Error(r.error.toString()); }
      best = Math.min(best, performance.now() - t0);
    }
    out.push(`  ${name.padEnd(44)} ${msgs.length.toString().padStart(6)} UPDATEs in ${best.toFixed(1)} ms: ${Math.round(msgs.length / (best / 1000)).toLocaleString('en')} updates/s, ${Math.round(N / (best / 1000)).toLocaleString('en')} prefixes/s`);
  }
  return out;
}

async function main() {
  const skipDaemons = process.argv.includes('--skip-daemons');
  console.log('Decode throughput (decodeUpdate, best of 3):');
  for (const l of decodeThroughput()) console.log(l);

  if (!skipDaemons) {
    const t = await buildTopology('bench');
    const host = await SpeakerHost.spawn(t.a, ['--expose-gc']);
    try {
      await oursToGobgp(t, host);
      await gobgpToGobgp(t);
      await oursToBird(t, host);
      await gobgpToOurs(t);
      await gobgpToBird(t);
    } finally {
      await host.close();
      destroyTopology(t, 'bench');
    }
    console.log(`\n${N.toLocaleString('en')} IPv4 prefixes, from Established until all are in the receiver's RIB:`);
    for (const r of rows) console.log(`  ${r.case.padEnd(18)} ${r.seconds.toFixed(3)} s   receiver RSS ${r.receiverRssMb.toFixed(1)} MB${r.note ? `   (${r.note})` : ''}`);
  }

  removeNamespaces('krt-bgp-benchm');
  await addNamespace('krt-bgp-benchm');
  const mh = await SpeakerHost.spawn('krt-bgp-benchm', ['--expose-gc']);
  try {
    const m = await mh.mesh(30, 10_000);
    console.log(`\niBGP full mesh of ${m.speakers} speakers on loopback (${m.sessions} sessions, one process):`);
    console.log(`  all sessions Established after       ${m.establishMs.toFixed(0)} ms`);
    console.log(`  one announcement at all 29 others    ${m.propagateOneMs.toFixed(1)} ms`);
    console.log(`  ${m.bulkRoutes} routes at all 29 others       ${m.propagateBulkMs.toFixed(0)} ms`);
    console.log(`  memory per session endpoint          heap ${(m.heapPerSessionBytes / 1024).toFixed(1)} KiB, RSS ${(m.rssPerSessionBytes / 1024).toFixed(1)} KiB`);
    console.log(`  memory per route per speaker         heap ${m.heapPerRouteBytes.toFixed(0)} B, RSS ${m.rssPerRouteBytes.toFixed(0)} B`);
  } finally {
    await mh.close();
    removeNamespaces('krt-bgp-benchm');
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
