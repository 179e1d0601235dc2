// UPDATE building: many NLRI per message when they share attributes, each message sized exactly (no 4 KiB
// scratch buffers kept alive), End-of-RIB markers (RFC 4724 2).
import { AFI_IPV6, ATTR_MP_REACH, ATTR_MP_UNREACH, FLAG_EXTENDED, FLAG_OPTIONAL, HEADER_LEN, MAX_MESSAGE_LEN, MSG_UPDATE, SAFI_UNICAST } from './constants.js';
import { writeHeader } from './header.js';
import { nlriSize, parseV4, parseV6, writeNlri, type Family, type PrefixKey } from './prefix.js';

const EMPTY = Buffer.alloc(0);

export function encodeEndOfRib(family: Family): Buffer {
  if (family === 'ipv4-unicast') return encodeRaw(EMPTY, EMPTY, []);
  // An UPDATE whose only attribute is an empty MP_UNREACH_NLRI for the family.
  const attr = Buffer.from([FLAG_OPTIONAL, ATTR_MP_UNREACH, 3, 0, AFI_IPV6, SAFI_UNICAST]);
  return encodeRaw(EMPTY, attr, []);
}

/** Raw UPDATE from already encoded withdrawn field, attribute field and IPv4 NLRI keys. */
export function encodeRaw(withdrawnField: Buffer, attrField: Buffer, nlri: readonly PrefixKey[]): Buffer {
  let n = 0;
  for (const k of nlri) n += nlriSize(k);
  const len = HEADER_LEN + 4 + withdrawnField.length + attrField.length + n;
  const buf = Buffer.allocUnsafe(len);
  writeHeader(buf, 0, len, MSG_UPDATE);
  let p = HEADER_LEN;
  buf.writeUInt16BE(withdrawnField.length, p); p += 2;
  p += withdrawnField.copy(buf, p);
  buf.writeUInt16BE(attrField.length, p); p += 2;
  p += attrField.copy(buf, p);
  for (const k of nlri) p = writeNlri(k, buf, p);
  return buf;
}

/** How many keys from `from` fit in `room` bytes. */
function fit(keys: readonly PrefixKey[], from: number, room: number): [count: number, bytes: number] {
  let i = from, used = 0;
  while (i < keys.length) {
    const s = nlriSize(keys[i]!);
    if (used + s > room) break;
    used += s;
    i++;
  }
  return [i - from, used];
}

function mpNextHopBytes(family: Family, nextHop: string, linkLocal?: string): Buffer {
  if (family === 'ipv4-unicast') {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(parseV4(nextHop) ?? 0);
    return b;
  }
  const g = parseV6(nextHop) ?? Buffer.alloc(16);
  const ll = linkLocal ? parseV6(linkLocal) : undefined;
  return ll ? Buffer.concat([g, ll]) : g;
}

/**
 * Appends UPDATEs announcing `keys` with the encoded attributes `attrs` to `out`. IPv4 keys go in the NLRI
 * field (attrs must include NEXT_HOP); other families in an MP_REACH_NLRI carrying `nextHop`.
 */
export function encodeAnnouncements(family: Family, attrs: Buffer, nextHop: string, keys: readonly PrefixKey[], out: Buffer[], linkLocal?: string): void {
  if (family === 'ipv4-unicast') {
    const room = MAX_MESSAGE_LEN - HEADER_LEN - 4 - attrs.length;
    for (let i = 0; i < keys.length;) {
      const [count] = fit(keys, i, room);
      out.push(encodeRaw(EMPTY, attrs, keys.slice(i, i + count)));
      i += count;
    }
    return;
  }
  const nh = mpNextHopBytes(family, nextHop, linkLocal);
  const mpFixed = 4 + 5 + nh.length; // attr header (extended) + AFI/SAFI/NH len/NH/reserved
  const room = MAX_MESSAGE_LEN - HEADER_LEN - 4 - attrs.length - mpFixed;
  for (let i = 0; i < keys.length;) {
    const [count, bytes] = fit(keys, i, room);
    const a = Buffer.allocUnsafe(attrs.length + mpFixed + bytes);
    // MP_REACH first: receivers can locate the NLRI early, and it keeps attribute bytes a stable suffix.
    let p = 0;
    a[p++] = FLAG_OPTIONAL | FLAG_EXTENDED;
    a[p++] = ATTR_MP_REACH;
    a.writeUInt16BE(5 + nh.length + bytes, p); p += 2;
    a.writeUInt16BE(AFI_IPV6, p); p += 2;
    a[p++] = SAFI_UNICAST;
    a[p++] = nh.length;
    p += nh.copy(a, p);
    a[p++] = 0;
    for (let j = i; j < i + count; j++) p = writeNlri(keys[j]!, a, p);
    attrs.copy(a, p);
    out.push(encodeRaw(EMPTY, a, []));
    i += count;
  }
}

/** Appends UPDATEs withdrawing `keys`. */
export function encodeWithdrawals(family: Family, keys: readonly PrefixKey[], out: Buffer[]): void {
  if (family === 'ipv4-unicast') {
    const room = MAX_MESSAGE_LEN - HEADER_LEN - 4;
    for (let i = 0; i < keys.length;) {
      const [count, bytes] = fit(keys, i, room);
      const w = Buffer.allocUnsafe(bytes);
      let p = 0;
      for (let j = i; j < i + count; j++) p = writeNlri(keys[j]!, w, p);
      out.push(encodeRaw(w, EMPTY, []));
      i += count;
    }
    return;
  }
  const room = MAX_MESSAGE_LEN - HEADER_LEN - 4 - 4 - 3;
  for (let i = 0; i < keys.length;) {
    const [count, bytes] = fit(keys, i, room);
    const a = Buffer.allocUnsafe(7 + bytes);
    a[0] = FLAG_OPTIONAL | FLAG_EXTENDED;
    a[1] = ATTR_MP_UNREACH;
    a.writeUInt16BE(3 + bytes, 2);
    a.writeUInt16BE(AFI_IPV6, 4);
    a[6] = SAFI_UNICAST;
    let p = 7;
    for (let j = i; j < i + count; j++) p = writeNlri(keys[j]!, a, p);
    out.push(encodeRaw(EMPTY, a, []));
    i += count;
  }
}
