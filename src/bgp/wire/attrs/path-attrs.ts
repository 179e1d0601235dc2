// Path attributes other than MP_REACH/MP_UNREACH: per-type decoding with RFC 7606 error actions, and
// encoding for a given peer (2- or 4-octet AS, with or without the IPv4 NEXT_HOP attribute).
import { BgpError, stronger, type ErrorAction } from '../errors.js';
import {
  AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_TRANS, ATTR_AGGREGATOR, ATTR_AS4_AGGREGATOR, ATTR_AS4_PATH,
  ATTR_AS_PATH, ATTR_ATOMIC_AGGREGATE, ATTR_CLUSTER_LIST, ATTR_COMMUNITIES, ATTR_LARGE_COMMUNITY, ATTR_LOCAL_PREF,
  ATTR_MED, ATTR_MP_REACH, ATTR_MP_UNREACH, ATTR_NEXT_HOP, ATTR_ORIGIN, ATTR_ORIGINATOR_ID, ERR_UPDATE,
  FLAG_EXTENDED, FLAG_OPTIONAL, FLAG_PARTIAL, FLAG_TRANSITIVE, UPD_ATTR_FLAGS, UPD_ATTR_LENGTH,
  UPD_INVALID_NEXT_HOP, UPD_INVALID_ORIGIN, UPD_MALFORMED_AS_PATH, UPD_OPTIONAL_ATTR, UPD_UNRECOGNIZED_WELLKNOWN,
} from '../constants.js';
import { formatV4, parseV4 } from '../prefix.js';
import { as4PathFor, decodeAsPath, encodeAsPath, mergeAs4Path, needsAs4Path } from './as-path.js';
import { decodeCommunities, decodeLargeCommunities, encodeUint32List } from './communities.js';
import type { Aggregator, MutablePathAttrs, PathAttrs, RawAttribute } from './types.js';

export interface AttrContext {
  /** 4-octet AS numbers negotiated with this peer. */
  readonly as4: boolean;
  /** The peer is external: LOCAL_PREF is discarded and the first AS must be the peer's. */
  readonly ebgp: boolean;
  readonly peerAsn: number;
}

/** One attribute's position in a buffer: header at `hdr`, value in [start, end). */
export interface Tlv {
  readonly flags: number;
  readonly type: number;
  readonly hdr: number;
  readonly start: number;
  readonly end: number;
}

const WK = FLAG_TRANSITIVE, OPT = FLAG_OPTIONAL, OPT_T = FLAG_OPTIONAL | FLAG_TRANSITIVE;
/** Required Optional/Transitive bits per known attribute. */
export const EXPECTED_FLAGS: Record<number, number> = {
  [ATTR_ORIGIN]: WK, [ATTR_AS_PATH]: WK, [ATTR_NEXT_HOP]: WK, [ATTR_MED]: OPT, [ATTR_LOCAL_PREF]: WK,
  [ATTR_ATOMIC_AGGREGATE]: WK, [ATTR_AGGREGATOR]: OPT_T, [ATTR_COMMUNITIES]: OPT_T, [ATTR_ORIGINATOR_ID]: OPT,
  [ATTR_CLUSTER_LIST]: OPT, [ATTR_MP_REACH]: OPT, [ATTR_MP_UNREACH]: OPT, [ATTR_AS4_PATH]: OPT_T,
  [ATTR_AS4_AGGREGATOR]: OPT_T, [ATTR_LARGE_COMMUNITY]: OPT_T,
};
/** RFC 7606 section 7: what a malformed attribute of each type costs. */
const MALFORMED: Record<number, ErrorAction> = {
  [ATTR_ORIGIN]: 'treat-as-withdraw', [ATTR_AS_PATH]: 'treat-as-withdraw', [ATTR_NEXT_HOP]: 'treat-as-withdraw',
  [ATTR_MED]: 'treat-as-withdraw', [ATTR_LOCAL_PREF]: 'treat-as-withdraw', [ATTR_ATOMIC_AGGREGATE]: 'attribute-discard',
  [ATTR_AGGREGATOR]: 'attribute-discard', [ATTR_COMMUNITIES]: 'treat-as-withdraw',
  [ATTR_ORIGINATOR_ID]: 'treat-as-withdraw', [ATTR_CLUSTER_LIST]: 'treat-as-withdraw',
  [ATTR_MP_REACH]: 'session-reset', [ATTR_MP_UNREACH]: 'session-reset', [ATTR_AS4_PATH]: 'attribute-discard',
  [ATTR_AS4_AGGREGATOR]: 'attribute-discard', [ATTR_LARGE_COMMUNITY]: 'treat-as-withdraw',
};

export function malformedAction(type: number): ErrorAction {
  return MALFORMED[type] ?? 'session-reset';
}

function attrError(buf: Buffer, t: Tlv, subcode: number, reason: string, action = malformedAction(t.type)): BgpError {
  return new BgpError(ERR_UPDATE, subcode, reason, action, Buffer.from(buf.subarray(t.hdr, t.end)));
}

function badNextHop(a: number): boolean {
  return a === 0 || a === 0xffffffff || (a >>> 28) === 0xe;
}

function readAggregator(v: Buffer, width: 2 | 4): Aggregator | undefined {
  if (v.length !== width + 4) return undefined;
  return { asn: width === 4 ? v.readUInt32BE(0) : v.readUInt16BE(0), address: formatV4(v.readUInt32BE(width)) };
}

/**
 * Decodes the non-MP attributes. Errors that RFC 7606 lets us survive are returned (the strongest one);
 * a session-reset error is thrown.
 */
export function decodePathAttrs(buf: Buffer, tlvs: readonly Tlv[], ctx: AttrContext): { attrs: MutablePathAttrs; error?: BgpError } {
  const attrs: MutablePathAttrs = { origin: -1, asPath: [] };
  let error: BgpError | undefined;
  let as4Path: ReturnType<typeof decodeAsPath>;
  let as4Aggregator: Aggregator | undefined;
  let unknown: RawAttribute[] | undefined;
  let sawAsPath = false;
  const fail = (e: BgpError) => {
    if (e.action === 'session-reset') throw e;
    error = stronger(error, e);
  };
  for (const t of tlvs) {
    const want = EXPECTED_FLAGS[t.type];
    if (want === undefined) {
      if ((t.flags & FLAG_OPTIONAL) === 0) {
        fail(attrError(buf, t, UPD_UNRECOGNIZED_WELLKNOWN, `unrecognized well-known attribute ${t.type}`, 'session-reset'));
      } else if (t.flags & FLAG_TRANSITIVE) {
        (unknown ??= []).push({
          flags: (t.flags | FLAG_PARTIAL) & ~FLAG_EXTENDED, type: t.type, value: Buffer.from(buf.subarray(t.start, t.end)),
        });
      }
      continue;
    }
    if ((t.flags & OPT_T) !== want) {
      fail(attrError(buf, t, UPD_ATTR_FLAGS, `attribute ${t.type} flags 0x${t.flags.toString(16)}`));
      continue;
    }
    const v = buf.subarray(t.start, t.end);
    const len = v.length;
    switch (t.type) {
      case ATTR_ORIGIN:
        if (len !== 1) fail(attrError(buf, t, UPD_ATTR_LENGTH, `ORIGIN length ${len}`));
        else if (v[0]! > 2) fail(attrError(buf, t, UPD_INVALID_ORIGIN, `ORIGIN value ${v[0]}`));
        else attrs.origin = v[0]!;
        break;
      case ATTR_AS_PATH: {
        const p = decodeAsPath(v, ctx.as4 ? 4 : 2);
        if (!p) { fail(attrError(buf, t, UPD_MALFORMED_AS_PATH, 'malformed AS_PATH')); break; }
        if (ctx.ebgp && p.some((s) => s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET)) {
          fail(attrError(buf, t, UPD_MALFORMED_AS_PATH, 'confederation segment from an external peer'));
          break;
        }
        if (ctx.ebgp && (p.length === 0 || p[0]!.type !== AS_SEQUENCE || p[0]!.asns[0] !== ctx.peerAsn)) {
          fail(attrError(buf, t, UPD_MALFORMED_AS_PATH, `first AS is not the peer's (${ctx.peerAsn})`));
          break;
        }
        attrs.asPath = p;
        sawAsPath = true;
        break;
      }
      case ATTR_NEXT_HOP:
        if (len !== 4) { fail(attrError(buf, t, UPD_ATTR_LENGTH, `NEXT_HOP length ${len}`)); break; }
        if (badNextHop(v.readUInt32BE(0))) { fail(attrError(buf, t, UPD_INVALID_NEXT_HOP, 'invalid NEXT_HOP')); break; }
        attrs.nextHop = formatV4(v.readUInt32BE(0));
        break;
      case ATTR_MED:
        if (len !== 4) fail(attrError(buf, t, UPD_ATTR_LENGTH, `MULTI_EXIT_DISC length ${len}`));
        else attrs.med = v.readUInt32BE(0);
        break;
      case ATTR_LOCAL_PREF:
        // RFC 7606 7.5: from an external peer it is discarded whatever it holds.
        if (ctx.ebgp) break;
        if (len !== 4) fail(attrError(buf, t, UPD_ATTR_LENGTH, `LOCAL_PREF length ${len}`));
        else attrs.localPref = v.readUInt32BE(0);
        break;
      case ATTR_ATOMIC_AGGREGATE:
        if (len !== 0) fail(attrError(buf, t, UPD_ATTR_LENGTH, `ATOMIC_AGGREGATE length ${len}`));
        else attrs.atomicAggregate = true;
        break;
      case ATTR_AGGREGATOR: {
        const a = readAggregator(v, ctx.as4 ? 4 : 2);
        if (!a) fail(attrError(buf, t, UPD_ATTR_LENGTH, `AGGREGATOR length ${len}`));
        else attrs.aggregator = a;
        break;
      }
      case ATTR_COMMUNITIES: {
        const c = decodeCommunities(v);
        if (!c) fail(attrError(buf, t, UPD_OPTIONAL_ATTR, `COMMUNITIES length ${len}`));
        else attrs.communities = c;
        break;
      }
      case ATTR_LARGE_COMMUNITY: {
        const c = decodeLargeCommunities(v);
        if (!c) fail(attrError(buf, t, UPD_OPTIONAL_ATTR, `LARGE_COMMUNITY length ${len}`));
        else attrs.largeCommunities = c;
        break;
      }
      case ATTR_ORIGINATOR_ID:
        if (len !== 4) fail(attrError(buf, t, UPD_ATTR_LENGTH, `ORIGINATOR_ID length ${len}`));
        else attrs.originatorId = formatV4(v.readUInt32BE(0));
        break;
      case ATTR_CLUSTER_LIST: {
        if (len === 0 || len % 4 !== 0) { fail(attrError(buf, t, UPD_ATTR_LENGTH, `CLUSTER_LIST length ${len}`)); break; }
        const ids: string[] = [];
        for (let i = 0; i < len; i += 4) ids.push(formatV4(v.readUInt32BE(i)));
        attrs.clusterList = ids;
        break;
      }
      case ATTR_AS4_PATH: {
        if (ctx.as4) break; // a NEW speaker never sends it to a NEW speaker; ignore (RFC 6793 4.1)
        const p = decodeAsPath(v, 4);
        if (!p || p.some((s) => s.type === AS_CONFED_SEQUENCE || s.type === AS_CONFED_SET)) {
          fail(attrError(buf, t, UPD_OPTIONAL_ATTR, 'malformed AS4_PATH'));
        } else as4Path = p;
        break;
      }
      case ATTR_AS4_AGGREGATOR: {
        if (ctx.as4) break;
        const a = readAggregator(v, 4);
        if (!a) fail(attrError(buf, t, UPD_ATTR_LENGTH, `AS4_AGGREGATOR length ${len}`));
        else as4Aggregator = a;
        break;
      }
      default:
        break; // MP_REACH / MP_UNREACH are handled by the caller
    }
  }
  if (!ctx.as4 && sawAsPath) {
    // RFC 6793 4.2.3: an AGGREGATOR with a real 2-octet AS means AS4_* came from elsewhere; ignore them.
    if (attrs.aggregator && attrs.aggregator.asn !== AS_TRANS) {
      as4Path = undefined;
    } else {
      if (as4Aggregator) attrs.aggregator = as4Aggregator;
      if (as4Path) attrs.asPath = mergeAs4Path(attrs.asPath, as4Path);
    }
  }
  if (unknown) attrs.unknown = unknown;
  return error ? { attrs, error } : { attrs };
}

type Part = { type: number; bytes: Buffer };

function pushAttr(parts: Part[], flags: number, type: number, value: Buffer): void {
  const ext = value.length > 255;
  const h = Buffer.allocUnsafe((ext ? 4 : 3) + value.length);
  h[0] = ext ? flags | FLAG_EXTENDED : flags & ~FLAG_EXTENDED;
  h[1] = type;
  if (ext) h.writeUInt16BE(value.length, 2); else h[2] = value.length;
  value.copy(h, ext ? 4 : 3);
  parts.push({ type, bytes: h });
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export interface EncodeAttrOptions {
  readonly as4: boolean;
  /** Include the IPv4 NEXT_HOP attribute (IPv4 unicast routes); MP families carry it in MP_REACH. */
  readonly withNextHop: boolean;
}

/** Encodes attributes in type order. MP_REACH/MP_UNREACH are added by the UPDATE builder. */
export function encodePathAttrs(a: PathAttrs, o: EncodeAttrOptions): Buffer {
  const parts: Part[] = [];
  pushAttr(parts, WK, ATTR_ORIGIN, Buffer.from([a.origin < 0 ? 2 : a.origin]));
  pushAttr(parts, WK, ATTR_AS_PATH, encodeAsPath(a.asPath, o.as4 ? 4 : 2));
  if (o.withNextHop && a.nextHop !== undefined) pushAttr(parts, WK, ATTR_NEXT_HOP, u32(parseV4(a.nextHop) ?? 0));
  if (a.med !== undefined) pushAttr(parts, OPT, ATTR_MED, u32(a.med));
  if (a.localPref !== undefined) pushAttr(parts, WK, ATTR_LOCAL_PREF, u32(a.localPref));
  if (a.atomicAggregate) pushAttr(parts, WK, ATTR_ATOMIC_AGGREGATE, Buffer.alloc(0));
  const agg = a.aggregator;
  if (agg) {
    const width = o.as4 ? 4 : 2;
    const v = Buffer.allocUnsafe(width + 4);
    if (width === 4) v.writeUInt32BE(agg.asn >>> 0); else v.writeUInt16BE(agg.asn > 0xffff ? AS_TRANS : agg.asn);
    v.writeUInt32BE(parseV4(agg.address) ?? 0, width);
    pushAttr(parts, OPT_T, ATTR_AGGREGATOR, v);
  }
  if (a.communities?.length) pushAttr(parts, OPT_T, ATTR_COMMUNITIES, encodeUint32List(a.communities));
  if (a.originatorId !== undefined) pushAttr(parts, OPT, ATTR_ORIGINATOR_ID, u32(parseV4(a.originatorId) ?? 0));
  if (a.clusterList?.length) pushAttr(parts, OPT, ATTR_CLUSTER_LIST, encodeUint32List(a.clusterList.map((c) => parseV4(c) ?? 0)));
  if (!o.as4 && needsAs4Path(a.asPath)) pushAttr(parts, OPT_T, ATTR_AS4_PATH, encodeAsPath(as4PathFor(a.asPath), 4));
  if (!o.as4 && agg && agg.asn > 0xffff) {
    const v = Buffer.allocUnsafe(8);
    v.writeUInt32BE(agg.asn >>> 0);
    v.writeUInt32BE(parseV4(agg.address) ?? 0, 4);
    pushAttr(parts, OPT_T, ATTR_AS4_AGGREGATOR, v);
  }
  if (a.largeCommunities?.length) pushAttr(parts, OPT_T, ATTR_LARGE_COMMUNITY, encodeUint32List(a.largeCommunities));
  if (a.unknown) {
    for (const u of a.unknown) pushAttr(parts, u.flags | FLAG_PARTIAL, u.type, u.value);
    // RFC 4271 4.3: senders SHOULD order attributes by type code; the sort is stable.
    parts.sort((x, y) => x.type - y.type);
  }
  return Buffer.concat(parts.map((p) => p.bytes));
}
