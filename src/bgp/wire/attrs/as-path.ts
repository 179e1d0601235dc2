// AS_PATH and AS4_PATH (RFC 4271 5.1.2, RFC 6793): 2- and 4-octet encodings, the merge a NEW speaker does
// for routes from an OLD (2-octet) peer, and the counts the decision process needs.
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, AS_TRANS } from '../constants.js';
import type { AsSegment } from './types.js';

/** Parses segments; returns undefined when malformed (bad type, zero-length segment, overrun). */
export function decodeAsPath(v: Buffer, width: 2 | 4): AsSegment[] | undefined {
  const out: AsSegment[] = [];
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) return undefined;
    const type = v[p]!, count = v[p + 1]!;
    if (type < AS_SET || type > AS_CONFED_SET || count === 0) return undefined;
    p += 2;
    if (p + count * width > v.length) return undefined;
    const asns: number[] = new Array(count);
    for (let i = 0; i < count; i++, p += width) asns[i] = width === 4 ? v.readUInt32BE(p) : v.readUInt16BE(p);
    out.push({ type, asns });
  }
  return out;
}

/** Encodes segments, splitting any longer than 255 ASes; `width` 2 maps 4-octet ASes to AS_TRANS. */
export function encodeAsPath(path: readonly AsSegment[], width: 2 | 4): Buffer {
  let size = 0;
  for (const s of path) size += Math.ceil(s.asns.length / 255) * 2 + s.asns.length * width;
  const buf = Buffer.allocUnsafe(size);
  let p = 0;
  for (const s of path) {
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = Math.min(255, s.asns.length - i);
      buf[p++] = s.type;
      buf[p++] = chunk;
      for (let j = 0; j < chunk; j++) {
        const asn = s.asns[i + j]!;
        if (width === 4) { buf.writeUInt32BE(asn >>> 0, p); p += 4; } else {
          buf.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, p);
          p += 2;
        }
      }
    }
  }
  return buf;
}

/** Path length for the decision process: a SET counts 1, confederation segments 0 (RFC 4271 9.1.2.2, 5065). */
export function asPathLength(path: readonly AsSegment[]): number {
  let n = 0;
  for (const s of path) {
    if (s.type === AS_SEQUENCE) n += s.asns.length;
    else if (s.type === AS_SET) n += 1;
  }
  return n;
}

export function asPathContains(path: readonly AsSegment[], asn: number): boolean {
  for (const s of path) if (s.asns.includes(asn)) return true;
  return false;
}

/** The neighbouring AS (first AS of the leading AS_SEQUENCE), for MED comparison; 0 when none. */
export function firstAs(path: readonly AsSegment[]): number {
  for (const s of path) {
    if (s.type === AS_SEQUENCE) return s.asns[0] ?? 0;
    if (s.type === AS_SET) return 0;
  }
  return 0;
}

export function needsAs4Path(path: readonly AsSegment[]): boolean {
  for (const s of path) for (const a of s.asns) if (a > 0xffff) return true;
  return false;
}

/** The AS4_PATH an OLD peer must get: the path without confederation segments (RFC 6793 4.2.2). */
export function as4PathFor(path: readonly AsSegment[]): AsSegment[] {
  return path.filter((s) => s.type === AS_SEQUENCE || s.type === AS_SET);
}

/** RFC 6793 4.2.3: rebuild the real path from AS_PATH (with AS_TRANS) and AS4_PATH. */
export function mergeAs4Path(asPath: readonly AsSegment[], as4Path: readonly AsSegment[]): readonly AsSegment[] {
  const count = (p: readonly AsSegment[]) => {
    let n = 0;
    for (const s of p) n += s.type === AS_SEQUENCE ? s.asns.length : s.type === AS_SET ? 1 : 0;
    return n;
  };
  let keep = count(asPath) - count(as4Path);
  if (keep < 0) return asPath;
  const out: AsSegment[] = [];
  for (const s of asPath) {
    if (s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET) { out.push(s); continue; }
    if (keep <= 0) break;
    if (s.type === AS_SET) { out.push(s); keep -= 1; continue; }
    if (s.asns.length <= keep) { out.push(s); keep -= s.asns.length; continue; }
    out.push({ type: s.type, asns: s.asns.slice(0, keep) });
    keep = 0;
  }
  for (const s of as4Path) {
    const last = out[out.length - 1];
    if (last && last.type === AS_SEQUENCE && s.type === AS_SEQUENCE) {
      out[out.length - 1] = { type: AS_SEQUENCE, asns: [...last.asns, ...s.asns] };
    } else out.push(s);
  }
  return out;
}

/** Prepends `asns` (in order) to the path, merging into a leading AS_SEQUENCE when there is room. */
export function prependAs(path: readonly AsSegment[], asns: readonly number[]): AsSegment[] {
  if (asns.length === 0) return [...path];
  const head = path[0];
  if (head && head.type === AS_SEQUENCE) return [{ type: AS_SEQUENCE, asns: [...asns, ...head.asns] }, ...path.slice(1)];
  return [{ type: AS_SEQUENCE, asns: [...asns] }, ...path];
}

export function flattenAsPath(path: readonly AsSegment[]): number[] {
  const out: number[] = [];
  for (const s of path) for (const a of s.asns) out.push(a);
  return out;
}
