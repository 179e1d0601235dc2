// Child process that hosts speakers inside a network namespace and serves the parent over IPC. Started by
// SpeakerHost (host.ts) as `ip netns exec NS node --import tsx speaker-host.ts`.
import net from 'node:net';
import { Speaker } from '../../../bgp/speaker.js';
import { Framer } from '../../../bgp/wire/header.js';
import { runMesh } from './mesh.js';
import type { SpeakerOptions } from '../../../bgp/api.js';

interface Req { id: number; method: string; args: unknown[] }

const speakers = new Map<string, Speaker>();
/** When each speaker's session to each peer last became Established (epoch ms, comparable across processes). */
const establishedAt = new Map<string, number>();
const logs: string[] = [];
const logSink = (name: string) => {
  const put = (lvl: string) => (o: object, m?: string) => {
    if (process.env.KRT_BGP_DEBUG) process.stderr.write(`[${name}] ${lvl} ${m ?? ''} ${JSON.stringify(o)}\n`);
    if (lvl !== 'debug') { logs.push(`${name} ${lvl} ${m ?? ''} ${JSON.stringify(o)}`); if (logs.length > 2000) logs.shift(); }
  };
  return { info: put('info'), warn: put('warn'), debug: put('debug'), error: put('error') };
};

function get(name: string): Speaker {
  const s = speakers.get(name);
  if (!s) throw new Error(`no speaker ${name}`);
  return s;
}

/** Connects, sends `hex`, and returns whatever the peer sent back until it closed or `waitMs` passed. */
function rawExchange(host: string, port: number, hex: string, waitMs: number, localAddress?: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) }, () => s.write(Buffer.from(hex, 'hex')));
    const done = () => { clearTimeout(t); s.destroy(); resolve(Buffer.concat(chunks).toString('hex')); };
    const t = setTimeout(done, waitMs);
    s.on('data', (d) => {
      chunks.push(d);
      // Done as soon as a NOTIFICATION has arrived: some daemons keep the socket open a while.
      const f = new Framer().push(Buffer.concat(chunks));
      if (f.error || f.frames.some((x) => x.type === 3)) done();
    });
    s.on('close', done);
    s.on('error', done);
  });
}

/** Resolves when `name` has `count` best paths learned from peers (or times out), timed from its first Established. */
async function waitRoutes(name: string, count: number, timeoutMs: number): Promise<{ ok: boolean; msFromEstablished: number; count: number }> {
  const s = get(name);
  const t0 = Date.now();
  let est = 0;
  for (;;) {
    const ps = s.peers();
    if (!est && ps.some((p) => p.state === 'Established')) est = performance.now();
    const n = ps.reduce((a, p) => a + p.receivedPrefixes, 0);
    if (n >= count) return { ok: true, msFromEstablished: est ? performance.now() - est : -1, count: n };
    if (Date.now() - t0 > timeoutMs) return { ok: false, msFromEstablished: -1, count: n };
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Accepts one connection on listen:179, answers with `openHex` + KEEPALIVE, records what arrives for `ms`. */
function capture(listen: string, ms: number, openHex: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const srv = net.createServer((s) => {
      s.write(Buffer.concat([Buffer.from(openHex, 'hex'), Buffer.from('ffffffffffffffffffffffffffffffff001304', 'hex')]));
      s.on('data', (d) => chunks.push(d));
      s.on('error', () => {});
      setTimeout(() => { s.destroy(); srv.close(); resolve(Buffer.concat(chunks).toString('hex')); }, ms);
    });
    srv.listen(179, listen);
  });
}

const methods: Record<string, (...a: never[]) => unknown> = {
  capture,
  create: (name: string, opts: SpeakerOptions) => {
    const s = new Speaker({ ...opts, log: logSink(name) });
    s.on('peerStateChanged', (st) => { if (st.state === 'Established') establishedAt.set(`${name}|${st.address}`, Date.now()); });
    speakers.set(name, s);
    return true;
  },
  establishedAt: (name: string, addr: string) => establishedAt.get(`${name}|${addr}`) ?? 0,
  mesh: (n: number, bulk: number) => runMesh(n, bulk),
  start: (name: string) => get(name).start(),
  stop: async (name: string, graceful: boolean) => { await get(name).stop({ graceful }); speakers.delete(name); return true; },
  setPeers: (name: string, peers: never) => { get(name).setPeers(peers); return true; },
  setAdvertisements: (name: string, ads: never) => { get(name).setAdvertisements(ads); return true; },
  peers: (name: string) => get(name).peers(),
  bestPaths: (name: string) => get(name).bestPaths(),
  refresh: (name: string, addr: string) => get(name).requestRouteRefresh(addr),
  rawExchange,
  waitRoutes,
  logs: () => logs.slice(),
  memory: () => { if (global.gc) global.gc(); return process.memoryUsage(); },
  exit: () => { setTimeout(() => process.exit(0), 10); return true; },
};

process.on('message', async (req: Req) => {
  try {
    const fn = methods[req.method];
    if (!fn) throw new Error(`unknown method ${req.method}`);
    const result = await (fn as (...a: unknown[]) => unknown)(...req.args);
    process.send!({ id: req.id, result });
  } catch (e) {
    process.send!({ id: req.id, error: (e as Error).stack ?? String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
