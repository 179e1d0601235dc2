// A minimal MRT TABLE_DUMP_V2 writer (RFC 6396), so `gobgp mrt inject global` can load 100k routes into a
// gobgpd for the benchmark (its CLI adds routes one process at a time otherwise).
import { encodePathAttrs } from '../../../bgp/wire/attrs/path-attrs.js';
import type { PathAttrs } from '../../../bgp/wire/attrs/types.js';
import { parseV4 } from '../../../bgp/wire/prefix.js';

function record(subtype: number, body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(Math.floor(Date.now() / 1000), 0);
  h.writeUInt16BE(13, 4); // TABLE_DUMP_V2
  h.writeUInt16BE(subtype, 6);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, body]);
}

/** One MRT file with `prefixes` (IPv4 CIDRs) all carrying `attrs`, learned from a single peer. */
export function mrtDump(prefixes: readonly string[], attrs: PathAttrs, peer: { id: string; address: string; asn: number }): Buffer {
  const peerTable = Buffer.alloc(4 + 2 + 2 + 1 + 4 + 4 + 4);
  let p = 0;
  peerTable.writeUInt32BE(parseV4(peer.id)!, p); p += 4;
  peerTable.writeUInt16BE(0, p); p += 2; // view name length
  peerTable.writeUInt16BE(1, p); p += 2; // peer count
  peerTable[p++] = 0x02; // IPv4 address, 4-octet AS
  peerTable.writeUInt32BE(parseV4(peer.id)!, p); p += 4;
  peerTable.writeUInt32BE(parseV4(peer.address)!, p); p += 4;
  peerTable.writeUInt32BE(peer.asn, p);
  const enc = encodePathAttrs(attrs, { as4: true, withNextHop: true });
  const parts: Buffer[] = [record(1, peerTable)];
  // `gobgp mrt inject` exits before its last batch (a few hundred paths) is applied; end the file with
  // re-adds of the first prefixes, which change nothing when they are applied or lost.
  const padded = [...prefixes, ...prefixes.slice(0, 2000)];
  padded.forEach((cidr, seq) => {
    const [addr, lenText] = cidr.split('/');
    const len = Number(lenText), n = (len + 7) >> 3;
    const a = parseV4(addr!)!;
    const b = Buffer.alloc(4 + 1 + n + 2 + 2 + 4 + 2 + enc.length);
    let q = 0;
    b.writeUInt32BE(seq, q); q += 4;
    b[q++] = len;
    for (let i = 0; i < n; i++) b[q++] = (a >>> (24 - 8 * i)) & 255;
    b.writeUInt16BE(1, q); q += 2; // entry count
    b.writeUInt16BE(0, q); q += 2; // peer index
    b.writeUInt32BE(Math.floor(Date.now() / 1000), q); q += 4;
    b.writeUInt16BE(enc.length, q); q += 2;
    enc.copy(b, q);
    parts.push(record(2, b));
  });
  return Buffer.concat(parts);
}
