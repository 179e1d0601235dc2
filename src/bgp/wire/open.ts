// OPEN message (RFC 4271 4.2) with optional parameters (including RFC 9072 extended lengths on decode).
import { BgpError } from './errors.js';
import { decodeCapabilities, encodeCapability, type Capability } from './capabilities.js';
import {
  AS_TRANS, ERR_OPEN, MSG_OPEN, OPEN_BAD_BGP_ID, OPEN_UNACCEPTABLE_HOLD_TIME, OPEN_UNSUPPORTED_OPT_PARAM,
  OPEN_UNSUPPORTED_VERSION,
} from './constants.js';
import { encodeMessage } from './header.js';
import { formatV4, parseV4 } from './prefix.js';

export interface OpenMessage {
  readonly version: number;
  /** The 2-octet "My Autonomous System" field (AS_TRANS when the real AS needs 4 octets). */
  readonly myAs: number;
  readonly holdTimeSec: number;
  readonly routerId: string;
  readonly capabilities: readonly Capability[];
}

/** The speaker's real AS: the 4-octet capability when present, else the 2-octet field. */
export function openAsn(o: OpenMessage): number {
  for (const c of o.capabilities) if (c.kind === 'as4') return c.asn;
  return o.myAs;
}

export function encodeOpen(asn: number, holdTimeSec: number, routerId: string, caps: readonly Capability[]): Buffer {
  const capBufs = caps.map(encodeCapability);
  // One Capabilities parameter holds as many capabilities as fit in its 255 bytes.
  const params: Buffer[] = [];
  let cur: Buffer[] = [], curLen = 0;
  for (const b of capBufs) {
    if (curLen + b.length > 255) { params.push(Buffer.concat(cur)); cur = []; curLen = 0; }
    cur.push(b);
    curLen += b.length;
  }
  if (cur.length) params.push(Buffer.concat(cur));
  const opt = Buffer.concat(params.map((p) => Buffer.concat([Buffer.from([2, p.length]), p])));
  const body = Buffer.alloc(10 + opt.length);
  body[0] = 4;
  body.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 1);
  body.writeUInt16BE(holdTimeSec, 3);
  body.writeUInt32BE(parseV4(routerId) ?? 0, 5);
  body[9] = opt.length;
  opt.copy(body, 10);
  return encodeMessage(MSG_OPEN, body);
}

/** Decodes an OPEN body and applies the checks that need no peer configuration. Throws BgpError. */
export function decodeOpen(body: Buffer): OpenMessage {
  const version = body[0]!;
  if (version !== 4) {
    throw new BgpError(ERR_OPEN, OPEN_UNSUPPORTED_VERSION, `version ${version}`, 'session-reset', Buffer.from([0, 4]));
  }
  const myAs = body.readUInt16BE(1);
  const holdTimeSec = body.readUInt16BE(3);
  const id = body.readUInt32BE(5);
  let optLen = body[9]!;
  let p = 10;
  let extended = false;
  if (optLen === 255 && body.length > 10 && body[10] === 255) {
    // RFC 9072: non-extended length 255 and type 255 announce 2-octet lengths.
    if (body.length < 13) throw new BgpError(ERR_OPEN, 0, 'truncated extended optional parameters');
    optLen = body.readUInt16BE(11);
    p = 13;
    extended = true;
  }
  if (p + optLen !== body.length) {
    throw new BgpError(ERR_OPEN, 0, `optional parameters length ${optLen} does not match message`);
  }
  const capabilities: Capability[] = [];
  const end = p + optLen;
  while (p < end) {
    const hdr = extended ? 3 : 2;
    if (p + hdr > end) throw new BgpError(ERR_OPEN, 0, 'truncated optional parameter');
    const type = body[p]!;
    const len = extended ? body.readUInt16BE(p + 1) : body[p + 1]!;
    if (p + hdr + len > end) throw new BgpError(ERR_OPEN, 0, `optional parameter ${type} overruns`);
    if (type !== 2) {
      throw new BgpError(ERR_OPEN, OPEN_UNSUPPORTED_OPT_PARAM, `optional parameter type ${type}`);
    }
    decodeCapabilities(body.subarray(p + hdr, p + hdr + len), capabilities);
    p += hdr + len;
  }
  if (holdTimeSec === 1 || holdTimeSec === 2) {
    throw new BgpError(ERR_OPEN, OPEN_UNACCEPTABLE_HOLD_TIME, `hold time ${holdTimeSec}`);
  }
  if (id === 0) throw new BgpError(ERR_OPEN, OPEN_BAD_BGP_ID, 'BGP identifier 0.0.0.0');
  return { version, myAs, holdTimeSec, routerId: formatV4(id), capabilities };
}
