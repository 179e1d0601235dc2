// Real daemons' bytes (recorded by interop/capture.ts): every message decodes, and the OPEN and UPDATEs
// say what the daemon was configured to say. Re-encoding the decoded attributes decodes to the same values.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeBody, encodeAnnouncements, encodePathAttrs, formatCommunity, formatKey, Framer, openAsn, type Message, type UpdateContext } from './index.js';

const DIR = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'testdata', 'captures');
const files = readdirSync(DIR).filter((f) => f.endsWith('.hex'));
const ctx: UpdateContext = { as4: true, ebgp: true, peerAsn: 65001, families: new Set(['ipv4-unicast', 'ipv6-unicast']) };

function decodeAll(file: string): Message[] {
  const lines = readFileSync(join(DIR, file), 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => {
    const r = new Framer().push(Buffer.from(l, 'hex'));
    expect(r.error).toBeUndefined();
    const f = r.frames[0]!;
    const d = decodeBody(f.type, f.body, ctx);
    if (!d.ok) throw new Error(`${file}: ${d.error}`);
    return d.value;
  });
}

describe('captured messages from real peers', () => {
  it('there are captures', () => expect(files.length).toBeGreaterThanOrEqual(4));

  it.each(files)('%s', (file) => {
    const msgs = decodeAll(file);
    const open = msgs.find((m) => m.type === 'open');
    expect(open?.type).toBe('open');
    if (open?.type !== 'open') return;
    expect(openAsn(open.open)).toBe(65001);
    expect(open.open.routerId).toBe('10.99.1.2');
    expect(open.open.capabilities).toContainEqual({ kind: 'as4', asn: 65001 });
    expect(open.open.capabilities).toContainEqual({ kind: 'multiprotocol', afi: 1, safi: 1 });
    expect(open.open.capabilities.some((c) => c.kind === 'graceful-restart')).toBe(true);

    const announced = msgs.flatMap((m) => (m.type === 'update' ? m.update.announced : []));
    const v4 = announced.find((a) => a.keys.some((k) => formatKey(k) === '10.201.0.0/24'));
    expect(v4?.attrs).toMatchObject({ asPath: [{ type: 2, asns: [65001] }], nextHop: '10.99.1.2' });
    // gobgp's CLI-added routes are INCOMPLETE; the others originate them as IGP.
    expect(file.startsWith('gobgp') ? 2 : 0).toBe(v4?.attrs.origin);
    expect(v4?.attrs.communities?.map(formatCommunity)).toContain('65001:7');
    const v6 = announced.find((a) => a.keys.some((k) => formatKey(k) === 'fd00:201::/64'));
    expect(v6?.family).toBe('ipv6-unicast');
    expect(v6?.attrs.nextHop).toBe('fd99:0:0:1::2');

    for (const a of [v4!, v6!]) {
      const out: Buffer[] = [];
      encodeAnnouncements(a.family, encodePathAttrs(a.attrs, { as4: true, withNextHop: a.family === 'ipv4-unicast' }), a.attrs.nextHop!, a.keys, out, a.attrs.linkLocalNextHop);
      const back = decodeBody(2, out[0]!.subarray(19), ctx);
      expect(back.ok && back.value.type === 'update' && back.value.update.announced[0]).toEqual(a);
    }
  });
});
