// UPDATE decoding (RFC 4271 4.3, 4760, 7606). The result is grouped per family: withdrawn keys and announced
// keys with one shared attribute object. Attribute sets are interned per session by their bytes, so a
// peer sending thousands of UPDATEs with equal attributes costs one attribute decode.
import { BgpError, stronger } from './errors.js';
import {
  AFI_IPV4, ATTR_AS_PATH, ATTR_MP_REACH, ATTR_MP_UNREACH, ATTR_NEXT_HOP, ATTR_ORIGIN, ERR_UPDATE,
  FLAG_EXTENDED, FLAG_OPTIONAL, FLAG_TRANSITIVE, UPD_ATTR_FLAGS, UPD_MALFORMED_ATTR_LIST,
  UPD_MISSING_WELLKNOWN, UPD_OPTIONAL_ATTR,
} from './constants.js';
import { afiSafiToFamily } from './capabilities.js';
import { decodeNlriV4, decodeNlriV6, formatV4, formatV6, type Family, type PrefixKey } from './prefix.js';
import { decodePathAttrs, type AttrContext, type Tlv } from './attrs/path-attrs.js';
import type { MutablePathAttrs, PathAttrs } from './attrs/types.js';

export interface UpdateContext extends AttrContext {
  /** Families negotiated with the peer; NLRI of other families is ignored. */
  readonly families: ReadonlySet<Family>;
  /** Per-session intern table (attribute bytes -> decoded attributes). */
  readonly cache?: AttrCache;
}

export interface Announced { readonly family: Family; readonly attrs: PathAttrs; readonly keys: PrefixKey[] }
export interface Withdrawn { readonly family: Family; readonly keys: PrefixKey[] }

export interface UpdateMessage {
  readonly announced: Announced[];
  readonly withdrawn: Withdrawn[];
  readonly endOfRib?: Family;
  /** A survivable problem (treat-as-withdraw or attribute-discard) to log; the groups already reflect it. */
  readonly error?: BgpError;
}

export type DecodeResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: BgpError };

interface CacheEntry { readonly attrs: PathAttrs; readonly error?: BgpError }

export class AttrCache {
  private map = new Map<string, CacheEntry>();
  constructor(private readonly limit = 8192) {}
  get(k: string): CacheEntry | undefined { return this.map.get(k); }
  set(k: string, e: CacheEntry): void {
    // Dropping everything at the limit is crude but bounded; hot sets come straight back.
    if (this.map.size >= this.limit) this.map.clear();
    this.map.set(k, e);
  }
}

function malformedList(reason: string): BgpError {
  return new BgpError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, reason);
}

interface MpReach { family?: Family; nextHop: string; linkLocal?: string; keys: PrefixKey[]; nhKey: string }

function decodeMpReach(buf: Buffer, t: Tlv, ctx: UpdateContext): MpReach | undefined {
  const v = buf.subarray(t.start, t.end);
  const err = (r: string) => new BgpError(ERR_UPDATE, UPD_OPTIONAL_ATTR, `MP_REACH_NLRI: ${r}`, 'session-reset', Buffer.from(buf.subarray(t.hdr, t.end)));
  if (v.length < 5) throw err(`length ${v.length}`);
  const afi = v.readUInt16BE(0), safi = v[2]!, nhLen = v[3]!;
  if (5 + nhLen > v.length) throw err(`next hop length ${nhLen} overruns`);
  const family = afiSafiToFamily(afi, safi);
  if (!family || !ctx.families.has(family)) return undefined;
  let nextHop: string, linkLocal: string | undefined;
  if (afi === AFI_IPV4) {
    if (nhLen !== 4) throw err(`IPv4 next hop length ${nhLen}`);
    nextHop = formatV4(v.readUInt32BE(4));
  } else {
    if (nhLen !== 16 && nhLen !== 32) throw err(`IPv6 next hop length ${nhLen}`);
    nextHop = formatV6(v, 4);
    if (nhLen === 32) linkLocal = formatV6(v, 20);
  }
  const keys: PrefixKey[] = [];
  const start = t.start + 5 + nhLen;
  if (afi === AFI_IPV4) decodeNlriV4(buf, start, t.end, keys as number[], UPD_OPTIONAL_ATTR);
  else decodeNlriV6(buf, start, t.end, keys as string[], UPD_OPTIONAL_ATTR);
  const r: MpReach = { family, nextHop, keys, nhKey: buf.toString('latin1', t.start, t.start + 4 + nhLen) };
  if (linkLocal) r.linkLocal = linkLocal;
  return r;
}

function decodeMpUnreach(buf: Buffer, t: Tlv, ctx: UpdateContext): Withdrawn | undefined {
  const v = buf.subarray(t.start, t.end);
  if (v.length < 3) {
    throw new BgpError(ERR_UPDATE, UPD_OPTIONAL_ATTR, `MP_UNREACH_NLRI length ${v.length}`, 'session-reset', Buffer.from(buf.subarray(t.hdr, t.end)));
  }
  const family = afiSafiToFamily(v.readUInt16BE(0), v[2]!);
  if (!family || !ctx.families.has(family)) return undefined;
  const keys: PrefixKey[] = [];
  if (family === 'ipv4-unicast') decodeNlriV4(buf, t.start + 3, t.end, keys as number[], UPD_OPTIONAL_ATTR);
  else decodeNlriV6(buf, t.start + 3, t.end, keys as string[], UPD_OPTIONAL_ATTR);
  return { family, keys };
}

function missing(type: number, reason: string): BgpError {
  return new BgpError(ERR_UPDATE, UPD_MISSING_WELLKNOWN, reason, 'treat-as-withdraw', Buffer.from([type]));
}

function decodeUpdateInner(body: Buffer, ctx: UpdateContext): UpdateMessage {
  const len = body.length;
  const wlen = body.readUInt16BE(0);
  if (4 + wlen > len) throw malformedList(`withdrawn routes length ${wlen} overruns the message`);
  const alen = body.readUInt16BE(2 + wlen);
  const attrStart = 4 + wlen, attrEnd = attrStart + alen;
  if (attrEnd > len) throw malformedList(`total attribute length ${alen} overruns the message`);
  const withdrawnV4: number[] = [];
  decodeNlriV4(body, 2, 2 + wlen, withdrawnV4);
  const nlriV4: number[] = [];
  decodeNlriV4(body, attrEnd, len, nlriV4);
  if (len === 4) return { announced: [], withdrawn: [], endOfRib: 'ipv4-unicast' };

  // Structural pass over the attribute TLVs.
  const tlvs: Tlv[] = [];
  let mpReachTlv: Tlv | undefined, mpUnreachTlv: Tlv | undefined;
  let error: BgpError | undefined;
  let overrun = false;
  let seen = 0n;
  for (let p = attrStart; p < attrEnd;) {
    if (p + 3 > attrEnd) { overrun = true; break; }
    const flags = body[p]!, type = body[p + 1]!;
    const hdr = flags & FLAG_EXTENDED ? 4 : 3;
    if (p + hdr > attrEnd) { overrun = true; break; }
    const alen1 = hdr === 4 ? body.readUInt16BE(p + 2) : body[p + 2]!;
    if (p + hdr + alen1 > attrEnd) { overrun = true; break; }
    const t: Tlv = { flags, type, hdr: p, start: p + hdr, end: p + hdr + alen1 };
    p = t.end;
    const bit = 1n << BigInt(type);
    if (seen & bit) {
      // RFC 7606 3.g: duplicates are dropped, except MP_(UN)REACH which cannot be resolved.
      if (type === ATTR_MP_REACH || type === ATTR_MP_UNREACH) throw malformedList(`duplicate attribute ${type}`);
      continue;
    }
    seen |= bit;
    if (type === ATTR_MP_REACH || type === ATTR_MP_UNREACH) {
      if ((flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE)) !== FLAG_OPTIONAL) {
        throw new BgpError(ERR_UPDATE, UPD_ATTR_FLAGS, `attribute ${type} flags`, 'session-reset', Buffer.from(body.subarray(t.hdr, t.end)));
      }
      if (type === ATTR_MP_REACH) mpReachTlv = t; else mpUnreachTlv = t;
    } else tlvs.push(t);
  }
  if (overrun) {
    // RFC 7606 4: an attribute running past the attribute field. Without MP attributes in play we know
    // every NLRI and can withdraw them; otherwise some NLRI may be lost and only a reset is safe.
    if (mpReachTlv || mpUnreachTlv) throw malformedList('attribute length overruns the attribute field');
    error = new BgpError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, 'attribute length overruns the attribute field', 'treat-as-withdraw');
  }
  const mpReach = mpReachTlv ? decodeMpReach(body, mpReachTlv, ctx) : undefined;
  const mpUnreach = mpUnreachTlv ? decodeMpUnreach(body, mpUnreachTlv, ctx) : undefined;

  const withdrawn: Withdrawn[] = [];
  if (withdrawnV4.length) withdrawn.push({ family: 'ipv4-unicast', keys: withdrawnV4 });
  if (mpUnreach) {
    if (mpUnreach.keys.length === 0 && !mpReachTlv && tlvs.length === 0 && nlriV4.length === 0 && wlen === 0) {
      return { announced: [], withdrawn: [], endOfRib: mpUnreach.family };
    }
    if (mpUnreach.keys.length) withdrawn.push(mpUnreach);
  }
  const haveV4 = nlriV4.length > 0 && ctx.families.has('ipv4-unicast');
  const haveMp = !!mpReach && mpReach.keys.length > 0;
  if (!haveV4 && !haveMp) return error ? { announced: [], withdrawn, error } : { announced: [], withdrawn };

  let attrs: PathAttrs | undefined;
  if (!overrun) {
    let key: string | undefined;
    if (ctx.cache) {
      key = tlvs.length === 0 ? '' : body.toString('latin1', tlvs[0]!.hdr, tlvs[tlvs.length - 1]!.end);
      if (!contiguous(tlvs)) key = tlvs.map((t) => body.toString('latin1', t.hdr, t.end)).join('');
      if (haveMp && !haveV4) key += `\u0100${mpReach!.nhKey}`;
    }
    const hit = key !== undefined ? ctx.cache!.get(key) : undefined;
    if (hit) {
      attrs = hit.attrs;
      if (hit.error) error = stronger(error, hit.error);
    } else {
      const d = decodePathAttrs(body, tlvs, ctx);
      let err = d.error;
      const types = new Set(tlvs.map((t) => t.type));
      if (!types.has(ATTR_ORIGIN)) err = stronger(err, missing(ATTR_ORIGIN, 'ORIGIN missing'));
      if (!types.has(ATTR_AS_PATH)) err = stronger(err, missing(ATTR_AS_PATH, 'AS_PATH missing'));
      if (haveV4 && !types.has(ATTR_NEXT_HOP)) err = stronger(err, missing(ATTR_NEXT_HOP, 'NEXT_HOP missing'));
      if (haveMp && !haveV4) applyMpNextHop(d.attrs, mpReach!);
      attrs = d.attrs;
      if (key !== undefined) ctx.cache!.set(key, err ? { attrs, error: err } : { attrs });
      if (err) error = stronger(error, err);
    }
  }
  if (error && error.action === 'treat-as-withdraw') attrs = undefined;
  if (!attrs) {
    if (haveV4) withdrawn.push({ family: 'ipv4-unicast', keys: nlriV4 });
    if (haveMp) withdrawn.push({ family: mpReach!.family!, keys: mpReach!.keys });
    return { announced: [], withdrawn, error: error ?? malformedList('unusable attributes') };
  }
  const announced: Announced[] = [];
  if (haveV4) announced.push({ family: 'ipv4-unicast', attrs, keys: nlriV4 });
  if (haveMp) {
    let mpAttrs = attrs;
    if (haveV4) {
      const copy: MutablePathAttrs = { ...attrs };
      applyMpNextHop(copy, mpReach!);
      mpAttrs = copy;
    }
    announced.push({ family: mpReach!.family!, attrs: mpAttrs, keys: mpReach!.keys });
  }
  return error ? { announced, withdrawn, error } : { announced, withdrawn };
}

function contiguous(tlvs: readonly Tlv[]): boolean {
  for (let i = 1; i < tlvs.length; i++) if (tlvs[i]!.hdr !== tlvs[i - 1]!.end) return false;
  return true;
}

function applyMpNextHop(a: MutablePathAttrs, mp: MpReach): void {
  a.nextHop = mp.nextHop;
  if (mp.linkLocal) a.linkLocalNextHop = mp.linkLocal;
  else delete a.linkLocalNextHop;
}

/** Decodes an UPDATE body; never throws. ok:false means the session must be reset with that error. */
export function decodeUpdate(body: Buffer, ctx: UpdateContext): DecodeResult<UpdateMessage> {
  try {
    return { ok: true, value: decodeUpdateInner(body, ctx) };
  } catch (e) {
    if (e instanceof BgpError) return { ok: false, error: e };
    // A bug in the decoder must not take the process down: reset the session with a generic error.
    return { ok: false, error: new BgpError(ERR_UPDATE, UPD_MALFORMED_ATTR_LIST, `decoder failure: ${String(e)}`) };
  }
}

