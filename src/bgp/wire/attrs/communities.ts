// COMMUNITIES (RFC 1997) and LARGE_COMMUNITY (RFC 8092): wire form and text form ("65000:100", names).

const WELL_KNOWN: Record<string, number> = {
  'graceful-shutdown': 0xffff0000, 'accept-own': 0xffff0001, 'llgr-stale': 0xffff0006, 'no-llgr': 0xffff0007,
  blackhole: 0xffff029a, 'no-export': 0xffffff01, 'no-advertise': 0xffffff02, 'no-export-subconfed': 0xffffff03,
  'no-peer': 0xffffff04,
};
export const NO_EXPORT = 0xffffff01;
export const NO_ADVERTISE = 0xffffff02;
export const NO_EXPORT_SUBCONFED = 0xffffff03;

/** "65000:100", a well-known name (any case, '_' or '-'), or a plain uint32; undefined when invalid. */
export function parseCommunity(text: string): number | undefined {
  const t = text.trim().toLowerCase().replace(/_/g, '-');
  if (t in WELL_KNOWN) return WELL_KNOWN[t];
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(t);
  if (m) {
    const hi = Number(m[1]), lo = Number(m[2]);
    return hi <= 0xffff && lo <= 0xffff ? hi * 65536 + lo : undefined;
  }
  if (/^\d{1,10}$/.test(t)) {
    const n = Number(t);
    return n <= 0xffffffff ? n : undefined;
  }
  return undefined;
}

export function formatCommunity(c: number): string {
  return `${Math.floor(c / 65536)}:${c % 65536}`;
}

/** "global:local1:local2" -> triple; undefined when invalid. */
export function parseLargeCommunity(text: string): [number, number, number] | undefined {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text.trim());
  if (!m) return undefined;
  const t = [Number(m[1]), Number(m[2]), Number(m[3])] as [number, number, number];
  return t.every((x) => x <= 0xffffffff) ? t : undefined;
}

export function formatLargeCommunities(flat: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) out.push(`${flat[i]}:${flat[i + 1]}:${flat[i + 2]}`);
  return out;
}

/** Undefined when the length is not a positive multiple of 4 (RFC 7606 7.8: treat-as-withdraw). */
export function decodeCommunities(v: Buffer): number[] | undefined {
  if (v.length === 0 || v.length % 4 !== 0) return undefined;
  const out = new Array<number>(v.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = v.readUInt32BE(i * 4);
  return out;
}

export function encodeUint32List(values: readonly number[]): Buffer {
  const b = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) b.writeUInt32BE(values[i]! >>> 0, i * 4);
  return b;
}

/** Undefined when the length is not a positive multiple of 12 (RFC 8092 section 6). */
export function decodeLargeCommunities(v: Buffer): number[] | undefined {
  if (v.length === 0 || v.length % 12 !== 0) return undefined;
  const out = new Array<number>(v.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = v.readUInt32BE(i * 4);
  return out;
}
