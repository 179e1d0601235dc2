// What the shared interop suite needs from a real BGP daemon. Each adapter writes the daemon's config,
// runs it inside a namespace, and reads its RIB back in one normalised shape.

export interface NeighborSpec {
  readonly address: string;
  readonly asn: number;
  readonly password?: string;
  readonly rrClient?: boolean;
  readonly v6?: boolean;
  /** Graceful restart (helper and restarting) with this restart time, seconds. */
  readonly grRestartSec?: number;
  readonly holdSec?: number;
}

export interface RouteSpec {
  readonly prefix: string;
  readonly nextHop: string;
  readonly communities?: readonly string[];
}

export interface DaemonSpec {
  readonly ns: string;
  /** Scratch directory for config, sockets, logs. */
  readonly dir: string;
  readonly routerId: string;
  readonly asn: number;
  readonly local4: string;
  readonly local6?: string;
  readonly neighbors: readonly NeighborSpec[];
  readonly routes: readonly RouteSpec[];
  readonly clusterId?: string;
}

export interface DaemonRoute {
  readonly prefix: string;
  readonly nextHop: string;
  readonly asPath: readonly number[];
  readonly communities: readonly string[];
  readonly largeCommunities: readonly string[];
  readonly localPref?: number;
  readonly med?: number;
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  readonly stale?: boolean;
}

export interface Daemon {
  start(): Promise<void>;
  /** Terminates the daemon and waits for it to exit. */
  stop(): Promise<void>;
  signal(sig: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT'): void;
  /** Loc-RIB of the daemon (both families). */
  rib(): Promise<DaemonRoute[]>;
  announce(r: RouteSpec): Promise<void>;
  withdraw(prefix: string): Promise<void>;
  /** Makes the daemon send a ROUTE-REFRESH to `peer`; undefined when it cannot. */
  readonly requestRefresh?: (peer: string) => Promise<void>;
  /** Daemon log so far (for failure messages). */
  log(): string;
}

export interface DaemonAdapter {
  readonly name: string;
  /** Undefined when usable here; otherwise why the suite is skipped. */
  skipReason(): string | undefined;
  create(spec: DaemonSpec): Daemon;
  /** The daemon keeps a RIB of received routes (ExaBGP only logs them). */
  readonly keepsRib: boolean;
  /** The daemon retains a restarting peer's routes (graceful restart helper). */
  readonly grHelper: boolean;
  /**
   * Known deviations from the RFC answer to a bad OPEN, keyed by case, with the reason; the suite then
   * expects the daemon's actual answer (so a fix in the daemon shows up as a failure to revisit).
   */
  readonly badOpenDeviations?: Readonly<Record<'version' | 'holdTime', { readonly answer: readonly [number, number]; readonly why: string }>>;
}
