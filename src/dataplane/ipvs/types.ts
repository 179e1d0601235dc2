// IPVS virtual services and destinations as values, for both writers (generic netlink and `ipvsadm -R`).
// Field names follow ipvsadm's options so a dump reads like `ipvsadm -S -n`.

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';
/** ipvsadm's letters: m = masquerade (NAT), g = direct routing (gatewaying), i = IP-in-IP tunnel. */
export type ForwardMethod = 'm' | 'g' | 'i';

/** An address service (protocol, address, port) or a firewall-mark service (ipvsadm -f). */
export type IpvsServiceId =
  | { readonly protocol: IpvsProtocol; readonly address: string; readonly port: number; readonly fwmark?: undefined }
  | { readonly fwmark: number; readonly family: 4 | 6 };

export type IpvsService = IpvsServiceId & {
  readonly scheduler: string;
  /**
   * Scheduler flags as ipvsadm -b names them: sh-fallback / sh-port, mh-fallback / mh-port, or flag-1..3
   * for other schedulers (the kernel stores bits; the names depend on the scheduler). Sorted.
   */
  readonly flags: readonly string[];
  /** Persistence (ipvsadm -p) in seconds; absent: not persistent. */
  readonly persistenceSeconds?: number;
  /** Persistence granularity as a prefix length (ipvsadm -M); absent: one client address (/32, /128). */
  readonly persistenceNetmask?: number;
  /** One-packet scheduling (ipvsadm -o). */
  readonly onePacket?: boolean;
};

export interface IpvsDest {
  readonly address: string;
  /**
   * With method g or i on an address service the kernel gets the service's port instead, as ipvsadm does:
   * those packets are not rewritten. A dest is then named by that port (edit, delete, dumps). A fwmark
   * service's dest keeps the port given (ipvsadm leaves it too).
   */
  readonly port: number;
  readonly weight: number;
  readonly method: ForwardMethod;
  /** Connection thresholds (ipvsadm -x / -y); absent: 0, no limit. */
  readonly upperThreshold?: number;
  readonly lowerThreshold?: number;
}

export type IpvsOp =
  | { readonly op: 'add-service' | 'edit-service'; readonly service: IpvsService }
  | { readonly op: 'del-service'; readonly service: IpvsServiceId }
  | { readonly op: 'add-dest' | 'edit-dest'; readonly service: IpvsServiceId; readonly dest: IpvsDest }
  | { readonly op: 'del-dest'; readonly service: IpvsServiceId; readonly dest: { readonly address: string; readonly port: number } };

/** A service as the kernel holds it, with its destinations (a table dump). */
export type IpvsServiceEntry = IpvsService & { readonly dests: readonly IpvsDest[] };

export const isFwmark = (s: IpvsServiceId): s is Extract<IpvsServiceId, { family: 4 | 6 }> => s.fwmark !== undefined;

/** Why one operation failed (the others in its batch still ran). */
export interface IpvsOpFailure {
  readonly index: number;
  readonly op: IpvsOp;
  readonly message: string;
}

/**
 * A service's traffic counters (totals since it was added) and the kernel's rate estimates (per second,
 * over the last few seconds), as `ipvsadm -L -n --exact --stats` and `--rate` print them.
 */
export interface IpvsStats {
  readonly conns: number;
  readonly inPkts: number;
  readonly outPkts: number;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly cps: number;
  readonly inPps: number;
  readonly outPps: number;
  readonly inBps: number;
  readonly outBps: number;
}

/** One service's statistics, as a stats read gives them. */
export interface IpvsServiceStats {
  readonly service: IpvsServiceId;
  readonly stats: IpvsStats;
}
