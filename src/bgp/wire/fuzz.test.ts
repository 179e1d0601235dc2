// Fuzz of the decoder: random bytes, and valid messages with random mutations. Whatever comes in, the
// decoder must answer with a NOTIFICATION-shaped error or a (possibly treat-as-withdraw) result, never throw.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AttrCache, Framer, decodeBody, encodeAnnouncements, encodeOpen, encodePathAttrs, encodeWithdrawals, parsePrefix,
  type UpdateContext,
} from './index.js';

const CRASHERS = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'testdata', 'crashers');

/** xorshift32: deterministic, so a failure reproduces from its seed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

const ctxs: UpdateContext[] = [
  { as4: true, ebgp: false, peerAsn: 65001, families: new Set(['ipv4-unicast', 'ipv6-unicast']), cache: new AttrCache(64) },
  { as4: false, ebgp: true, peerAsn: 65001, families: new Set(['ipv4-unicast']) },
];

/** Feeds one buffer through framing and decoding; returns a problem description or undefined. */
function check(buf: Buffer, ctx: UpdateContext): string | undefined {
  let res;
  try {
    res = new Framer().push(buf);
  } catch (e) {
    return `framer threw ${String(e)}`;
  }
  if (res.error && (res.error.code !== 1 || ![1, 2, 3].includes(res.error.subcode))) return `bad header error ${res.error}`;
  for (const f of res.frames) {
    let r;
    try {
      r = decodeBody(f.type, f.body, ctx);
    } catch (e) {
      return `decoder threw ${String(e)}`;
    }
    if (!r.ok) {
      if (r.error.action !== 'session-reset') return `fatal error with action ${r.error.action}`;
      if (r.error.reason.startsWith('decoder failure')) return r.error.reason;
      if (r.error.code < 1 || r.error.code > 6) return `code ${r.error.code}`;
    } else if (r.value.type === 'update') {
      const u = r.value.update;
      if (u.error?.action === 'treat-as-withdraw' && u.announced.length) return 'treat-as-withdraw with announcements';
      for (const a of u.announced) if (!a.attrs || a.keys.some((k) => k === undefined)) return 'announcement without attributes';
    }
  }
  return undefined;
}

function seeds(): Buffer[] {
  const out: Buffer[] = [encodeOpen(65001, 90, '10.0.0.1', [
    { kind: 'multiprotocol', afi: 1, safi: 1 }, { kind: 'multiprotocol', afi: 2, safi: 1 }, { kind: 'route-refresh', code: 2 },
    { kind: 'as4', asn: 65001 }, { kind: 'graceful-restart', restarting: false, notification: false, restartTimeSec: 120, families: [{ afi: 1, safi: 1, forwarding: true }] },
  ])];
  const attrs = {
    origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }, { type: 1, asns: [1, 2] }], nextHop: '192.0.2.1', med: 1, localPref: 100,
    atomicAggregate: true, aggregator: { asn: 65001, address: '1.1.1.1' }, communities: [1, 2], largeCommunities: [1, 2, 3],
    originatorId: '1.1.1.1', clusterList: ['2.2.2.2'], unknown: [{ flags: 0xc0, type: 200, value: Buffer.from('x') }],
  };
  for (const as4 of [true, false]) {
    encodeAnnouncements('ipv4-unicast', encodePathAttrs(attrs, { as4, withNextHop: true }), '192.0.2.1', ['10.0.0.0/8', '192.168.1.1/32'].map((p) => parsePrefix(p)!), out);
    encodeAnnouncements('ipv6-unicast', encodePathAttrs(attrs, { as4, withNextHop: false }), '2001:db8::1', ['2001:db8::/32', '::/0'].map((p) => parsePrefix(p)!), out, 'fe80::1');
  }
  encodeWithdrawals('ipv4-unicast', [parsePrefix('10.0.0.0/8')!], out);
  encodeWithdrawals('ipv6-unicast', [parsePrefix('2001:db8::/32')!], out);
  return out;
}

function mutate(b: Buffer, r: () => number): Buffer {
  const m = Buffer.from(b);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const pos = 16 + Math.floor(r() * (m.length - 16));
    switch (Math.floor(r() * 4)) {
      case 0: m[pos] = Math.floor(r() * 256); break;
      case 1: m[pos] ^= 1 << Math.floor(r() * 8); break;
      case 2: m[pos] = [0, 1, 0x7f, 0x80, 0xff][Math.floor(r() * 5)]!; break;
      default: { // truncate or extend, keeping the header length honest half the time
        const len = Math.max(19, Math.min(4096, m.length + Math.floor(r() * 16) - 8));
        const x = Buffer.alloc(len);
        m.copy(x, 0, 0, Math.min(len, m.length));
        if (r() < 0.5) x.writeUInt16BE(len, 16);
        return x;
      }
    }
  }
  return m;
}

function record(buf: Buffer): string {
  mkdirSync(CRASHERS, { recursive: true });
  const name = createHash('sha256').update(buf).digest('hex').slice(0, 16);
  writeFileSync(join(CRASHERS, `${name}.hex`), buf.toString('hex'));
  return name;
}

describe('decoder fuzz', () => {
  it('replays the crasher corpus', () => {
    const files = readdirSync(CRASHERS).filter((f) => f.endsWith('.hex'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const buf = Buffer.from(readFileSync(join(CRASHERS, f), 'utf8').trim(), 'hex');
      for (const c of ctxs) expect(check(buf, c), f).toBeUndefined();
    }
  });

  it('mutated valid messages', () => {
    const r = rng(0x5eed);
    const base = seeds();
    for (let i = 0; i < 60_000; i++) {
      const buf = mutate(base[i % base.length]!, r);
      const problem = check(buf, ctxs[i % 2]!);
      if (problem) throw new Error(`${problem}; input kept as ${record(buf)}.hex`);
    }
  });

  it('random messages with a valid header', () => {
    const r = rng(0xbadc0de);
    for (let i = 0; i < 30_000; i++) {
      const len = 19 + Math.floor(r() * 120);
      const buf = Buffer.alloc(len);
      for (let j = 19; j < len; j++) buf[j] = Math.floor(r() * 256);
      buf.fill(0xff, 0, 16);
      buf.writeUInt16BE(len, 16);
      buf[18] = 1 + Math.floor(r() * 5);
      const problem = check(buf, ctxs[i % 2]!);
      if (problem) throw new Error(`${problem}; input kept as ${record(buf)}.hex`);
    }
  });
});
