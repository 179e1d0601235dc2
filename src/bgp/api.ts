// The public surface of the BGP speaker library: declarative peers and advertisements in, best-path
// changes out. The routing controller depends only on this file (and index.ts re-exporting it).
// The library itself imports nothing from the rest of the project.

export type AddressFamily = 'ipv4-unicast' | 'ipv6-unicast';

export interface GracefulRestartOptions {
  /** Restart time we announce (seconds, <= 4095). */
  readonly restartTimeSec: number;
  /** How long we wait for End-of-RIB from all peers after our own restart before selecting paths (seconds). */
  readonly deferralTimeSec: number;
  /**
   * Set after a graceful stop: OPENs carry the Restart State bit and peers keep our routes (marked stale)
   * until our End-of-RIB. Whether or not it is set, we send our routes and End-of-RIB only after the first
   * setAdvertisements() (or deferralTimeSec), so a restarting agent never withdraws by accident.
   */
  readonly restarting?: boolean;
}

export interface SpeakerOptions {
  /** Our AS number (4-octet capable). */
  readonly asn: number;
  /** BGP identifier, dotted quad. */
  readonly routerId: string;
  /** Addresses to listen on for passive opens; empty = listen on all. */
  readonly listenAddresses?: readonly string[];
  /** TCP port to listen on; 0 disables listening (active opens only). Default 179. */
  readonly listenPort?: number;
  /** Hold time we propose (seconds; 0 or 3..65535). Default 90. */
  readonly holdTimeSec?: number;
  readonly gracefulRestart?: GracefulRestartOptions;
  /** Cluster id when acting as route reflector (dotted quad); defaults to routerId. */
  readonly clusterId?: string;
  /** Optional structured log sink (pino-compatible subset). */
  readonly log?: SpeakerLog;
  /** Seconds between connection attempts (RFC 4271 ConnectRetryTime). Default 5. */
  readonly connectRetrySec?: number;
}

export interface SpeakerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface PeerConfig {
  readonly address: string;
  readonly asn: number;
  /** Remote TCP port, default 179. */
  readonly port?: number;
  /** Local address to bind active opens to. */
  readonly localAddress?: string;
  /** TCP MD5 (RFC 2385) password, plain text. */
  readonly password?: string;
  /** eBGP multihop TTL (>= 2 enables multihop; default 1 for eBGP, 255 for iBGP). */
  readonly multihopTtl?: number;
  /** Hold time to propose to this peer (overrides the speaker default). */
  readonly holdTimeSec?: number;
  /** Treat this peer as a route-reflector client (we are its reflector). */
  readonly routeReflectorClient?: boolean;
  /** Advertise/accept graceful restart with this peer (default: on when the speaker has it). */
  readonly gracefulRestart?: boolean;
  /** Only accept incoming connections, never connect out. */
  readonly passive?: boolean;
  /** Families to negotiate; default ['ipv4-unicast'] plus 'ipv6-unicast' if the peer address is IPv6. */
  readonly families?: readonly AddressFamily[];
  /** Per-peer export policy applied after the speaker's own rules. */
  readonly exportPolicy?: ExportPolicy;
  /** Per-peer import policy. */
  readonly importPolicy?: ImportPolicy;
  /** Rewrite the next hop of learned routes to our session address for this (internal) peer too. */
  readonly nextHopSelf?: boolean;
}

export interface ExportPolicy {
  /** Prefixes (exact or covering CIDRs with "le 32"-style semantics: any prefix inside) never sent. */
  readonly rejectPrefixes?: readonly string[];
  /** Communities added to every route sent ("65000:100" or well-known names). */
  readonly addCommunities?: readonly string[];
  /** Prepend this AS `count` times (eBGP only). */
  readonly asPathPrepend?: { readonly asn: number; readonly count: number };
}

export interface ImportPolicy {
  /** Prefixes inside any of these CIDRs are rejected on import. */
  readonly rejectPrefixes?: readonly string[];
  /** Reject a default route (0.0.0.0/0, ::/0). */
  readonly rejectDefault?: boolean;
}

export interface Advertisement {
  /** CIDR, canonical. */
  readonly prefix: string;
  /** Next hop; default: the local address of each session. */
  readonly nextHop?: string;
  readonly communities?: readonly string[];
  readonly largeCommunities?: readonly string[];
  readonly localPref?: number;
  readonly med?: number;
  /** Which peers get it: every peer (default), only iBGP peers, only eBGP peers, or these addresses. */
  readonly to?: 'all' | 'internal' | 'external' | readonly string[];
}

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface PeerStatus {
  readonly address: string;
  readonly asn: number;
  readonly state: SessionState;
  readonly internal: boolean;
  readonly uptimeSec?: number;
  readonly receivedPrefixes: number;
  readonly advertisedPrefixes: number;
  /** Last NOTIFICATION or error that ended the session. */
  readonly lastError?: string;
  /**
   * How the last session ended and how long ago: `kind` as the FSM reports it, the NOTIFICATION code and
   * subcode when one was sent or received (6/3 received: the peer removed us from its configuration).
   */
  readonly lastDown?: { readonly kind: string; readonly code?: number; readonly subcode?: number; readonly agoMs: number };
  /** Our address on the session (when connected). */
  readonly localAddress?: string;
  /** Message counters since the peer was configured. */
  readonly counters?: PeerCounters;
}

export interface PeerCounters {
  readonly updatesIn: number;
  readonly updatesOut: number;
  readonly routeRefreshIn: number;
  readonly notificationsIn: number;
  readonly notificationsOut: number;
  /** UPDATEs handled by RFC 7606 treat-as-withdraw or attribute-discard instead of a reset. */
  readonly updateErrors: number;
  readonly established: number;
}

export interface Route {
  readonly prefix: string;
  readonly family: AddressFamily;
  readonly nextHop: string;
  /** Address of the peer it was learned from; undefined for our own advertisements. */
  readonly peer?: string;
  readonly asPath: readonly number[];
  readonly localPref?: number;
  readonly med?: number;
  readonly communities: readonly string[];
  /** True while the peer is restarting and the route is kept under graceful restart. */
  readonly stale: boolean;
  readonly largeCommunities?: readonly string[];
  /** 0 IGP, 1 EGP, 2 INCOMPLETE. */
  readonly origin?: number;
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
}

export interface BestPathChange {
  readonly prefix: string;
  readonly family: AddressFamily;
  /** The new best path, or undefined when the prefix is gone. */
  readonly best?: Route;
}

export interface SpeakerEvents {
  bestPathChanged: (change: BestPathChange) => void;
  peerStateChanged: (status: PeerStatus, previous: SessionState) => void;
}

export interface BgpSpeaker {
  start(): Promise<void>;
  /** Sends Cease to every peer and closes the listener. With `graceful`, no Cease: peers keep our routes. */
  stop(options?: { graceful?: boolean }): Promise<void>;
  /** Declarative: peers not in the list are removed (Cease), new ones added, changed ones reset. */
  setPeers(peers: readonly PeerConfig[]): void;
  /** Declarative: the full set of our own routes; the speaker diffs and sends only changes. */
  setAdvertisements(advertisements: readonly Advertisement[]): void;
  peers(): readonly PeerStatus[];
  /** The Loc-RIB best paths (learned and local). */
  bestPaths(): readonly Route[];
  /** Sends ROUTE-REFRESH (RFC 2918) to an established peer that supports it; false otherwise. */
  requestRouteRefresh(address: string, family?: AddressFamily): boolean;
  on<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this;
  off<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this;
}
