import type { IPFamily } from '../types.js';
import { formatIP, parseIP } from './ip.js';

/** A parsed CIDR with host bits cleared; `text` is the canonical spelling. */
export interface ParsedCIDR {
  readonly family: IPFamily;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly text: string;
}

/** Parses "addr/len" (a bare address is not a CIDR). Host bits are cleared, as the API canonicalizes ipBlocks. */
export function parseCIDR(text: unknown): ParsedCIDR | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  const bytes = maskBytes(ip.bytes, prefix);
  return { family: ip.family, bytes, prefix, text: `${formatIP({ family: ip.family, bytes })}/${prefix}` };
}

function maskBytes(src: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(src);
  for (let i = 0; i < out.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/** Canonical CIDR text, or undefined if invalid. */
export function canonicalCIDR(text: unknown): string | undefined {
  return parseCIDR(text)?.text;
}

/** True when `inner` lies inside `outer` (same family, longer-or-equal prefix, same network bits). */
export function cidrContains(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const masked = maskBytes(inner.bytes, outer.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== outer.bytes[i]) return false;
  return true;
}

/** True when the address `ip` (any spelling) lies inside the CIDR. */
export function cidrContainsIP(outer: ParsedCIDR, ip: string): boolean {
  const parsed = parseIP(ip);
  if (!parsed || parsed.family !== outer.family) return false;
  const bits = outer.family === 4 ? 32 : 128;
  return cidrContains(outer, { family: parsed.family, bytes: parsed.bytes, prefix: bits, text: '' });
}
