// PeerConfig -> ResolvedPeer: defaults applied, validated, and split into the part whose change needs a
// session reset and the policy part that can change under a running session.
import type { AddressFamily, PeerConfig, SpeakerOptions } from './api.js';
import { ipFamilyOf, parseV4 } from './wire/prefix.js';
import { compileExport, compileImport, type CompiledExport, type CompiledImport } from './rib/policy.js';

export interface ResolvedPeer {
  readonly address: string;
  readonly port: number;
  readonly asn: number;
  readonly localAddress?: string;
  readonly password?: string;
  readonly ttl: number;
  readonly holdTimeSec: number;
  readonly rrClient: boolean;
  readonly gracefulRestart: boolean;
  readonly passive: boolean;
  readonly families: readonly AddressFamily[];
  readonly nextHopSelf: boolean;
  readonly internal: boolean;
  readonly importPolicy: CompiledImport;
  readonly exportPolicy: CompiledExport;
  /** Everything that needs a session reset when it changes. */
  readonly sessionKey: string;
  /** The policy part (import, export). */
  readonly importKey: string;
  readonly exportKey: string;
}

/** Strips "::ffff:" from v4-mapped addresses so peers match however the kernel reports them. */
export function normalizeAddress(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return (m ? m[1]! : a).toLowerCase();
}

function validAsn(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 0xffffffff;
}

export function validateSpeakerOptions(o: SpeakerOptions): string[] {
  const errs: string[] = [];
  if (!validAsn(o.asn)) errs.push(`asn ${o.asn} is not a valid AS number`);
  const id = parseV4(o.routerId);
  if (id === undefined || id === 0) errs.push(`routerId ${JSON.stringify(o.routerId)} is not a non-zero dotted quad`);
  if (o.clusterId !== undefined && parseV4(o.clusterId) === undefined) errs.push(`clusterId ${JSON.stringify(o.clusterId)} is not a dotted quad`);
  const h = o.holdTimeSec;
  if (h !== undefined && !(h === 0 || (Number.isInteger(h) && h >= 3 && h <= 65535))) errs.push(`holdTimeSec ${h} must be 0 or 3..65535`);
  const p = o.listenPort;
  if (p !== undefined && !(Number.isInteger(p) && p >= 0 && p <= 65535)) errs.push(`listenPort ${p} is not a port`);
  const gr = o.gracefulRestart;
  if (gr && !(Number.isInteger(gr.restartTimeSec) && gr.restartTimeSec >= 0 && gr.restartTimeSec <= 4095)) {
    errs.push(`gracefulRestart.restartTimeSec ${gr.restartTimeSec} must be 0..4095`);
  }
  for (const a of o.listenAddresses ?? []) if (!ipFamilyOf(a)) errs.push(`listen address ${JSON.stringify(a)} is not an IP address`);
  return errs;
}

/** Resolves one peer; returns the reasons when it is unusable. */
export function resolvePeer(p: PeerConfig, o: SpeakerOptions): ResolvedPeer | { errors: string[] } {
  const errors: string[] = [];
  const fam = ipFamilyOf(p.address);
  if (!fam) errors.push(`address ${JSON.stringify(p.address)} is not an IP address`);
  if (!validAsn(p.asn)) errors.push(`asn ${p.asn} is not a valid AS number`);
  if (p.port !== undefined && !(Number.isInteger(p.port) && p.port > 0 && p.port <= 65535)) errors.push(`port ${p.port}`);
  if (p.localAddress !== undefined && !ipFamilyOf(p.localAddress)) errors.push(`localAddress ${JSON.stringify(p.localAddress)}`);
  if (p.localAddress !== undefined && fam && ipFamilyOf(p.localAddress) !== fam) errors.push('localAddress family differs from the peer address');
  if (p.password !== undefined && Buffer.byteLength(p.password) > 80) errors.push('password longer than 80 bytes (TCP MD5 limit)');
  const h = p.holdTimeSec ?? o.holdTimeSec ?? 90;
  if (!(h === 0 || (Number.isInteger(h) && h >= 3 && h <= 65535))) errors.push(`holdTimeSec ${h} must be 0 or 3..65535`);
  const internal = p.asn === o.asn;
  const mh = p.multihopTtl;
  if (mh !== undefined && !(Number.isInteger(mh) && mh >= 1 && mh <= 255)) errors.push(`multihopTtl ${mh} must be 1..255`);
  const families = [...new Set(p.families ?? (fam === 6 ? ['ipv4-unicast', 'ipv6-unicast'] : ['ipv4-unicast']))] as AddressFamily[];
  if (families.length === 0) errors.push('no address family');
  const importPolicy = compileImport(p.importPolicy);
  const exportPolicy = compileExport(p.exportPolicy);
  for (const bad of [...importPolicy.invalid, ...exportPolicy.invalid]) errors.push(`policy entry ${JSON.stringify(bad)} is invalid`);
  if (errors.length) return { errors };
  const ttl = internal ? (mh ?? 255) : mh !== undefined && mh >= 2 ? mh : 1;
  const r = {
    address: normalizeAddress(p.address), port: p.port ?? 179, asn: p.asn, ttl, holdTimeSec: h,
    rrClient: !!p.routeReflectorClient && internal, gracefulRestart: (p.gracefulRestart ?? true) && !!o.gracefulRestart,
    passive: !!p.passive, families, nextHopSelf: !!p.nextHopSelf, internal,
    importPolicy, exportPolicy,
    ...(p.localAddress !== undefined ? { localAddress: normalizeAddress(p.localAddress) } : {}),
    ...(p.password !== undefined && p.password !== '' ? { password: p.password } : {}),
  };
  return {
    ...r,
    sessionKey: JSON.stringify([r.address, r.port, r.asn, r.localAddress, r.password, ttl, h, r.rrClient, r.gracefulRestart, r.passive, families, r.nextHopSelf]),
    importKey: JSON.stringify(p.importPolicy ?? {}),
    exportKey: JSON.stringify(p.exportPolicy ?? {}),
  };
}
