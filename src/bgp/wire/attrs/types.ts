// The decoded path attributes of a route. One object is shared by every prefix that arrived with the same
// attribute bytes (see update.ts interning), so it is treated as immutable once built.

export interface AsSegment {
  /** AS_SET 1, AS_SEQUENCE 2, AS_CONFED_SEQUENCE 3, AS_CONFED_SET 4. */
  readonly type: number;
  readonly asns: readonly number[];
}

export interface RawAttribute {
  readonly flags: number;
  readonly type: number;
  readonly value: Buffer;
}

export interface Aggregator {
  readonly asn: number;
  readonly address: string;
}

export interface PathAttrs {
  /** IGP 0, EGP 1, INCOMPLETE 2. */
  readonly origin: number;
  readonly asPath: readonly AsSegment[];
  /** IPv4 NEXT_HOP, or the MP_REACH next hop for routes of other families. */
  readonly nextHop?: string;
  /** Second (link-local) next hop of an IPv6 MP_REACH, when present. */
  readonly linkLocalNextHop?: string;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: Aggregator;
  /** RFC 1997 communities as uint32 values. */
  readonly communities?: readonly number[];
  /** RFC 8092 large communities, flattened triples (global, local1, local2, ...). */
  readonly largeCommunities?: readonly number[];
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  /** Unrecognised optional transitive attributes, to pass on with the Partial bit set. */
  readonly unknown?: readonly RawAttribute[];
}

export type MutablePathAttrs = { -readonly [K in keyof PathAttrs]: PathAttrs[K] };
