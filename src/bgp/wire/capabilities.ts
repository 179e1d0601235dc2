// Capabilities advertisement (RFC 5492): multiprotocol (4760), route refresh (2918), 4-octet AS (6793),
// graceful restart (4724). Unknown ones are kept as raw bytes so they can be logged and ignored.
import { BgpError } from './errors.js';
import {
  AFI_IPV4, AFI_IPV6, CAP_AS4, CAP_GRACEFUL_RESTART, CAP_MULTIPROTOCOL, CAP_ROUTE_REFRESH,
  CAP_ROUTE_REFRESH_CISCO, ERR_OPEN, SAFI_UNICAST,
} from './constants.js';
import type { Family } from './prefix.js';

export interface GrFamily { readonly afi: number; readonly safi: number; readonly forwarding: boolean }

export type Capability =
  | { readonly kind: 'multiprotocol'; readonly afi: number; readonly safi: number }
  | { readonly kind: 'route-refresh'; readonly code: number }
  | { readonly kind: 'as4'; readonly asn: number }
  | {
    readonly kind: 'graceful-restart'; readonly restarting: boolean; readonly notification: boolean;
    readonly restartTimeSec: number; readonly families: readonly GrFamily[];
  }
  | { readonly kind: 'unknown'; readonly code: number; readonly value: Buffer };

export function familyToAfiSafi(f: Family): [number, number] {
  return f === 'ipv4-unicast' ? [AFI_IPV4, SAFI_UNICAST] : [AFI_IPV6, SAFI_UNICAST];
}

export function afiSafiToFamily(afi: number, safi: number): Family | undefined {
  if (safi !== SAFI_UNICAST) return undefined;
  return afi === AFI_IPV4 ? 'ipv4-unicast' : afi === AFI_IPV6 ? 'ipv6-unicast' : undefined;
}

function malformed(reason: string): BgpError {
  return new BgpError(ERR_OPEN, 0, `malformed capability: ${reason}`);
}

export function decodeCapability(code: number, v: Buffer): Capability {
  switch (code) {
    case CAP_MULTIPROTOCOL:
      if (v.length !== 4) throw malformed(`multiprotocol length ${v.length}`);
      return { kind: 'multiprotocol', afi: v.readUInt16BE(0), safi: v[3]! };
    case CAP_ROUTE_REFRESH:
    case CAP_ROUTE_REFRESH_CISCO:
      return { kind: 'route-refresh', code };
    case CAP_AS4:
      if (v.length !== 4) throw malformed(`4-octet AS length ${v.length}`);
      return { kind: 'as4', asn: v.readUInt32BE(0) };
    case CAP_GRACEFUL_RESTART: {
      if (v.length < 2 || (v.length - 2) % 4 !== 0) throw malformed(`graceful restart length ${v.length}`);
      const flags = v.readUInt16BE(0);
      const families: GrFamily[] = [];
      for (let p = 2; p < v.length; p += 4) {
        families.push({ afi: v.readUInt16BE(p), safi: v[p + 2]!, forwarding: (v[p + 3]! & 0x80) !== 0 });
      }
      return {
        kind: 'graceful-restart', restarting: (flags & 0x8000) !== 0, notification: (flags & 0x4000) !== 0,
        restartTimeSec: flags & 0x0fff, families,
      };
    }
    default:
      return { kind: 'unknown', code, value: Buffer.from(v) };
  }
}

export function encodeCapability(c: Capability): Buffer {
  let code: number, v: Buffer;
  switch (c.kind) {
    case 'multiprotocol':
      code = CAP_MULTIPROTOCOL;
      v = Buffer.from([c.afi >> 8, c.afi & 255, 0, c.safi]);
      break;
    case 'route-refresh':
      code = c.code;
      v = Buffer.alloc(0);
      break;
    case 'as4':
      code = CAP_AS4;
      v = Buffer.alloc(4);
      v.writeUInt32BE(c.asn >>> 0);
      break;
    case 'graceful-restart': {
      code = CAP_GRACEFUL_RESTART;
      v = Buffer.alloc(2 + 4 * c.families.length);
      v.writeUInt16BE((c.restarting ? 0x8000 : 0) | (c.notification ? 0x4000 : 0) | (c.restartTimeSec & 0x0fff));
      c.families.forEach((f, i) => {
        v.writeUInt16BE(f.afi, 2 + 4 * i);
        v[4 + 4 * i] = f.safi;
        v[5 + 4 * i] = f.forwarding ? 0x80 : 0;
      });
      break;
    }
    case 'unknown':
      code = c.code;
      v = c.value;
      break;
  }
  return Buffer.concat([Buffer.from([code, v.length]), v]);
}

/** Decodes the capabilities inside one Capabilities optional parameter. */
export function decodeCapabilities(v: Buffer, out: Capability[]): void {
  let p = 0;
  while (p < v.length) {
    if (p + 2 > v.length) throw malformed('truncated header');
    const code = v[p]!, len = v[p + 1]!;
    if (p + 2 + len > v.length) throw malformed(`capability ${code} overruns the parameter`);
    out.push(decodeCapability(code, v.subarray(p + 2, p + 2 + len)));
    p += 2 + len;
  }
}
