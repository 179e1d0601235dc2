// Which best paths go to which peer (split horizon, route reflection, well-known communities, audiences,
// export policy) and what attributes they carry there. Transformed attributes are memoised per target so
// equal inputs give the identical object: the Adj-RIB-Out compares by identity and groups NLRI by it.
import { prependAs } from '../wire/attrs/as-path.js';
import { NO_ADVERTISE, NO_EXPORT, NO_EXPORT_SUBCONFED } from '../wire/attrs/communities.js';
import type { MutablePathAttrs, PathAttrs } from '../wire/attrs/types.js';
import { ipFamilyOf, type PrefixKey } from '../wire/prefix.js';
import type { Path, PeerRef } from './path.js';
import type { CompiledExport } from './policy.js';

export interface SpeakerIdentity {
  readonly asn: number;
  readonly routerId: string;
  readonly clusterId: string;
}

export interface ExportTarget {
  readonly ref: PeerRef;
  /** Our address on the session: the default next hop. */
  readonly localAddress: string;
  readonly policy: CompiledExport;
  /** Rewrite the next hop of learned routes toward internal peers too. */
  readonly nextHopSelf: boolean;
}

/** Whether `path` may be advertised to `t` at all (before attributes). */
export function mayExport(path: Path, key: PrefixKey, t: ExportTarget): boolean {
  const src = path.source;
  if (src === t.ref) return false;
  const comms = path.attrs.communities;
  if (comms) {
    if (comms.includes(NO_ADVERTISE)) return false;
    if (!t.ref.internal && (comms.includes(NO_EXPORT) || comms.includes(NO_EXPORT_SUBCONFED))) return false;
  }
  if (!src) {
    const a = path.audience;
    if (a !== undefined && a !== 'all') {
      if (a === 'internal' ? !t.ref.internal : a === 'external' ? t.ref.internal : !a.has(t.ref.address)) return false;
    }
  } else if (src.internal && t.ref.internal && !src.rrClient && !t.ref.rrClient) {
    return false; // iBGP split horizon; reflection only to or from clients (RFC 4456 6)
  }
  if (t.policy.rejects.covers(key)) return false;
  return true;
}

function selfNextHop(v4: boolean, t: ExportTarget, me: SpeakerIdentity): string {
  const fam = ipFamilyOf(t.localAddress);
  if (v4) return fam === 4 ? t.localAddress : me.routerId;
  return fam === 6 ? t.localAddress : `::ffff:${t.localAddress}`;
}

export class ExportMemo {
  private memo = new WeakMap<PathAttrs, { src: PeerRef | undefined; out: PathAttrs }>();
  constructor(readonly target: ExportTarget, private readonly me: SpeakerIdentity) {}

  /** The attributes `path` carries to this target; identical object for identical input. */
  attrsFor(path: Path, v4: boolean): PathAttrs {
    const hit = this.memo.get(path.attrs);
    if (hit && hit.src === path.source) return hit.out;
    const out = this.transform(path, v4);
    this.memo.set(path.attrs, { src: path.source, out });
    return out;
  }

  private transform(path: Path, v4: boolean): PathAttrs {
    const t = this.target, me = this.me, a = path.attrs, src = path.source;
    const ebgp = !t.ref.internal;
    const out: MutablePathAttrs = { origin: a.origin, asPath: a.asPath };
    const self = src ? ebgp || t.nextHopSelf : a.nextHop === undefined;
    if (self) out.nextHop = selfNextHop(v4, t, me);
    else {
      out.nextHop = a.nextHop;
      if (a.linkLocalNextHop) out.linkLocalNextHop = a.linkLocalNextHop;
    }
    if (ebgp) {
      out.asPath = prependAs(a.asPath, [me.asn, ...t.policy.prepend]);
      if (!src && a.med !== undefined) out.med = a.med; // a received MED never leaves the AS (RFC 4271 5.1.4)
    } else {
      out.localPref = a.localPref ?? 100;
      if (a.med !== undefined) out.med = a.med;
      if (src?.internal) {
        out.originatorId = a.originatorId ?? src.routerId;
        out.clusterList = [me.clusterId, ...(a.clusterList ?? [])];
      }
    }
    if (a.atomicAggregate) out.atomicAggregate = true;
    if (a.aggregator) out.aggregator = a.aggregator;
    let comms = a.communities;
    if (t.policy.addCommunities.length) {
      const s = new Set(comms ?? []);
      for (const c of t.policy.addCommunities) s.add(c);
      comms = [...s];
    }
    if (comms?.length) out.communities = comms;
    if (a.largeCommunities?.length) out.largeCommunities = a.largeCommunities;
    if (a.unknown) out.unknown = a.unknown;
    return out;
  }
}
