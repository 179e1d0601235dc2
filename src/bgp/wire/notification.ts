// NOTIFICATION (RFC 4271 4.5), KEEPALIVE (4.4) and ROUTE-REFRESH (RFC 2918).
import { BgpError } from './errors.js';
import { HEADER_LEN, MSG_KEEPALIVE, MSG_NOTIFICATION, MSG_ROUTE_REFRESH } from './constants.js';
import { encodeMessage, writeHeader } from './header.js';
import { afiSafiToFamily, familyToAfiSafi } from './capabilities.js';
import type { Family } from './prefix.js';

export interface NotificationMessage {
  readonly code: number;
  readonly subcode: number;
  readonly data: Buffer;
}

export function encodeNotification(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): Buffer {
  // Data is cut so the message never exceeds the 4096-byte limit.
  const d = data.subarray(0, 4096 - HEADER_LEN - 2);
  const body = Buffer.allocUnsafe(2 + d.length);
  body[0] = code;
  body[1] = subcode;
  d.copy(body, 2);
  return encodeMessage(MSG_NOTIFICATION, body);
}

export function notificationFor(err: BgpError): Buffer {
  return encodeNotification(err.code, err.subcode, err.data);
}

export function decodeNotification(body: Buffer): NotificationMessage {
  return { code: body[0]!, subcode: body[1]!, data: Buffer.from(body.subarray(2)) };
}

const KEEPALIVE = (() => {
  const b = Buffer.allocUnsafe(HEADER_LEN);
  writeHeader(b, 0, HEADER_LEN, MSG_KEEPALIVE);
  return b;
})();

export function encodeKeepalive(): Buffer {
  return KEEPALIVE;
}

export interface RouteRefreshMessage {
  readonly afi: number;
  readonly safi: number;
  /** Undefined for families we do not know; RFC 2918 says such requests are ignored. */
  readonly family?: Family;
}

export function encodeRouteRefresh(family: Family): Buffer {
  const [afi, safi] = familyToAfiSafi(family);
  return encodeMessage(MSG_ROUTE_REFRESH, Buffer.from([afi >> 8, afi & 255, 0, safi]));
}

export function decodeRouteRefresh(body: Buffer): RouteRefreshMessage {
  const afi = body.readUInt16BE(0), safi = body[3]!;
  const family = afiSafiToFamily(afi, safi);
  return family ? { afi, safi, family } : { afi, safi };
}
