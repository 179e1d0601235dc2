// The decision process (RFC 4271 9.1.2.2 with RFC 4456 additions). Our own routes win first, as a weight
// would. MED is compared only between paths from the same neighbouring AS, done as an elimination over the
// whole candidate set (not pairwise) so the result does not depend on arrival order.
import { asPathLength, firstAs } from '../wire/attrs/as-path.js';
import { parseV4 } from '../wire/prefix.js';
import type { Path } from './path.js';

const DEFAULT_LOCAL_PREF = 100;

function lp(p: Path): number { return p.attrs.localPref ?? DEFAULT_LOCAL_PREF; }
function routerIdOf(p: Path): number {
  if (!p.source) return 0;
  return parseV4(p.attrs.originatorId ?? p.source.routerId) ?? 0;
}
function peerAddrKey(p: Path): string {
  return p.source?.address ?? '';
}

function keepMin(c: Path[], f: (p: Path) => number): Path[] {
  let m = Infinity;
  for (const p of c) m = Math.min(m, f(p));
  return c.filter((p) => f(p) === m);
}

/** Index of the best path in `paths` (non-empty). */
export function bestIndex(paths: readonly Path[]): number {
  if (paths.length === 1) return 0;
  let c = paths.filter((p) => !p.source);
  if (c.length === 0) c = [...paths];
  c = keepMin(c, (p) => -lp(p));
  c = keepMin(c, (p) => asPathLength(p.attrs.asPath));
  c = keepMin(c, (p) => p.attrs.origin);
  if (c.length > 1) {
    // Remove a path when another from the same neighbour AS has a lower MED (missing MED = 0).
    const med = (p: Path) => p.attrs.med ?? 0;
    c = c.filter((p) => !c.some((q) => q !== p && firstAs(q.attrs.asPath) === firstAs(p.attrs.asPath) && med(q) < med(p)));
  }
  if (c.some((p) => p.source && !p.source.internal)) c = c.filter((p) => !p.source || !p.source.internal);
  c = keepMin(c, routerIdOf);
  c = keepMin(c, (p) => p.attrs.clusterList?.length ?? 0);
  if (c.length > 1) c.sort((a, b) => (peerAddrKey(a) < peerAddrKey(b) ? -1 : peerAddrKey(a) > peerAddrKey(b) ? 1 : 0));
  return paths.indexOf(c[0]!);
}
