// Advertisement[] -> our own Paths, validated. Equal attribute sets share one PathAttrs (and so one Path),
// which is what lets 100k advertisements go out in ~100 UPDATEs.
import type { Advertisement } from './api.js';
import { parseCommunity, parseLargeCommunity } from './wire/attrs/communities.js';
import type { MutablePathAttrs, PathAttrs } from './wire/attrs/types.js';
import { ipFamilyOf, parsePrefix, type PrefixKey } from './wire/prefix.js';
import type { Audience, Path } from './rib/path.js';

export interface LocalBuild {
  readonly routes: Map<PrefixKey, Path>;
  readonly errors: string[];
  /** Pass to the next call: unchanged advertisements then map to the identical Path (no re-announcement). */
  readonly intern: Map<string, Path>;
}

export function buildLocalRoutes(ads: readonly Advertisement[], previous: Map<string, Path>): LocalBuild {
  const routes = new Map<PrefixKey, Path>();
  const errors: string[] = [];
  const intern = new Map<string, Path>();
  const attrsByIdent = new Map<string, PathAttrs>();
  for (const ad of ads) {
    const key = parsePrefix(ad.prefix);
    if (key === undefined || !ad.prefix.includes('/')) { errors.push(`${JSON.stringify(ad.prefix)} is not a CIDR`); continue; }
    const v4 = typeof key === 'number';
    if (ad.nextHop !== undefined && ipFamilyOf(ad.nextHop) !== (v4 ? 4 : 6)) {
      errors.push(`${ad.prefix}: next hop ${JSON.stringify(ad.nextHop)} is not an address of the prefix's family`);
      continue;
    }
    const comms: number[] = [];
    let bad = false;
    for (const c of ad.communities ?? []) {
      const v = parseCommunity(c);
      if (v === undefined) { errors.push(`${ad.prefix}: community ${JSON.stringify(c)} is invalid`); bad = true; } else if (!comms.includes(v)) comms.push(v);
    }
    const large: number[] = [];
    for (const c of ad.largeCommunities ?? []) {
      const v = parseLargeCommunity(c);
      if (!v) { errors.push(`${ad.prefix}: large community ${JSON.stringify(c)} is invalid`); bad = true; } else large.push(...v);
    }
    for (const [n, v] of [['localPref', ad.localPref], ['med', ad.med]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) { errors.push(`${ad.prefix}: ${n} ${v} is not a uint32`); bad = true; }
    }
    if (bad) continue;
    const to = ad.to ?? 'all';
    const audKey = typeof to === 'string' ? to : JSON.stringify([...to].map((x) => x.toLowerCase()).sort());
    const plain = ad.nextHop === undefined && !comms.length && !large.length && ad.localPref === undefined && ad.med === undefined;
    const ident = plain ? `${v4 ? 4 : 6}|${audKey}` : JSON.stringify([v4, ad.nextHop, comms, large, ad.localPref, ad.med, audKey]);
    let path = intern.get(ident) ?? previous.get(ident);
    if (path) { intern.set(ident, path); routes.set(key, path); continue; }
    let attrs = attrsByIdent.get(ident);
    if (!attrs) {
      const a: MutablePathAttrs = { origin: 0, asPath: [] };
      if (ad.nextHop !== undefined) a.nextHop = ad.nextHop;
      if (comms.length) a.communities = comms;
      if (large.length) a.largeCommunities = large;
      if (ad.localPref !== undefined) a.localPref = ad.localPref;
      if (ad.med !== undefined) a.med = ad.med;
      attrs = a;
      attrsByIdent.set(ident, attrs);
    }
    const audience: Audience = typeof to === 'string' ? to : new Set(to.map((x) => x.toLowerCase()));
    path = { attrs, source: undefined, stale: false, audience };
    intern.set(ident, path);
    routes.set(key, path);
  }
  return { routes, errors, intern };
}
