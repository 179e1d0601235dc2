// Records what each real daemon sends on a fresh session (OPEN, UPDATEs, End-of-RIB) into
// src/bgp/testdata/captures/<daemon>.hex, one message per line. Run as root when daemons change:
//   npx tsx src/testing/bgp/interop/capture.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Framer } from '../../../bgp/wire/header.js';
import { encodeOpen } from '../../../bgp/wire/open.js';
import { SpeakerHost } from './host.js';
import { buildTopology, destroyTopology } from './topology.js';
import { gobgpAdapter } from './daemons/gobgp.js';
import { birdAdapter } from './daemons/bird.js';
import { frrAdapter } from './daemons/frr.js';
import { exabgpAdapter } from './daemons/exabgp.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '../../../bgp/testdata/captures');

async function main() {
  mkdirSync(out, { recursive: true });
  for (const adapter of [gobgpAdapter, birdAdapter, frrAdapter, exabgpAdapter]) {
    if (adapter.skipReason()) { console.log(`${adapter.name}: skipped (${adapter.skipReason()})`); continue; }
    const t = await buildTopology('cap');
    const host = await SpeakerHost.spawn(t.a);
    const dir = join(t.dir, 'd');
    mkdirSync(dir);
    const d = adapter.create({
      ns: t.b, dir, routerId: t.l1.v4B, asn: 65001, local4: t.l1.v4B, local6: t.l1.v6B,
      neighbors: [{ address: t.l1.v4A, asn: 65000, v6: true, grRestartSec: 120, holdSec: 90 }],
      routes: [{ prefix: '10.201.0.0/24', nextHop: t.l1.v4B, communities: ['65001:7'] }, { prefix: 'fd00:201::/64', nextHop: t.l1.v6B }],
    });
    try {
      const open = encodeOpen(65000, 90, t.l1.v4A, [
        { kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'multiprotocol', afi: 2, safi: 1 }, { kind: 'route-refresh', code: 2 },
        { kind: 'as4', asn: 65000 }, { kind: 'graceful-restart', restarting: false, notification: false, restartTimeSec: 120, families: [{ afi: 1, safi: 1, forwarding: false }, { afi: 2, safi: 1, forwarding: false }] },
      ]);
      const p = host.capture(t.l1.v4A, 6000, open.toString('hex'));
      await d.start();
      const bytes = Buffer.from(await p, 'hex');
      const frames = new Framer().push(bytes).frames.map((f) => {
        const h = Buffer.alloc(19, 0xff);
        h.writeUInt16BE(19 + f.body.length, 16);
        h[18] = f.type;
        return Buffer.concat([h, f.body]).toString('hex');
      });
      writeFileSync(join(out, `${adapter.name}.hex`), frames.join('\n') + '\n');
      console.log(`${adapter.name}: ${frames.length} messages`);
    } finally {
      await host.close();
      await d.stop();
      destroyTopology(t, 'cap');
    }
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
