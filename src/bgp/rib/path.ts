// Paths are immutable and shared: every prefix learned from one peer with one attribute set points at the
// same Path object, so a route costs map entries only. Staleness (graceful restart) is a different Path.
import type { PathAttrs } from '../wire/attrs/types.js';

/** What the RIB needs to know about a peer a path came from or goes to. */
export interface PeerRef {
  readonly address: string;
  readonly asn: number;
  /** The peer's BGP identifier from its OPEN. */
  readonly routerId: string;
  readonly internal: boolean;
  readonly rrClient: boolean;
}

export type Audience = 'all' | 'internal' | 'external' | ReadonlySet<string>;

export interface Path {
  readonly attrs: PathAttrs;
  /** Undefined for our own advertisements. */
  readonly source: PeerRef | undefined;
  readonly stale: boolean;
  /** Our own routes only: which peers may get it. */
  readonly audience?: Audience;
}

/** Interns Paths per (attrs, stale) for one source. */
export class PathTable {
  private fresh = new Map<PathAttrs, Path>();
  private staleOf = new Map<Path, Path>();
  constructor(private readonly source: PeerRef | undefined) {}

  get(attrs: PathAttrs, audience?: Audience): Path {
    let p = this.fresh.get(attrs);
    if (!p) {
      p = audience ? { attrs, source: this.source, stale: false, audience } : { attrs, source: this.source, stale: false };
      // Bounded like the attribute cache: a fresh Path per call is still correct, only less shared.
      if (this.fresh.size > 65536) this.fresh.clear();
      this.fresh.set(attrs, p);
    }
    return p;
  }

  stale(p: Path): Path {
    if (p.stale) return p;
    let s = this.staleOf.get(p);
    if (!s) {
      s = { ...p, stale: true };
      this.staleOf.set(p, s);
    }
    return s;
  }

  clearStale(): void {
    this.staleOf.clear();
  }
}
