// Options of the routing controller: the kube-router routing/BGP/CNI flags in camelCase, durations in ms.
// The CLI fills these from flags; tests and the bench build them with routerDefaults(...).

export type OverlayType = 'subnet' | 'full';
export type OverlayEncap = 'ipip' | 'fou';

export interface RouterOptions {
  /** --cluster-asn; 0 means the default 64512. */
  readonly clusterAsn: number;
  readonly nodesFullMesh: boolean;
  readonly enableIbgp: boolean;
  readonly enableOverlay: boolean;
  readonly overlayType: OverlayType;
  readonly overlayEncap: OverlayEncap;
  readonly overlayEncapPort: number;
  readonly advertisePodCidr: boolean;
  readonly advertiseClusterIp: boolean;
  readonly advertiseExternalIp: boolean;
  readonly advertiseLoadbalancerIp: boolean;
  readonly bgpGracefulRestart: boolean;
  readonly bgpGracefulRestartTimeMs: number;
  readonly bgpGracefulRestartDeferralTimeMs: number;
  readonly bgpHoldtimeMs: number;
  readonly bgpPort: number;
  readonly peerRouterIps: readonly string[];
  readonly peerRouterAsns: readonly number[];
  readonly peerRouterPorts: readonly number[];
  /** Base64-encoded, as the flag takes them. */
  readonly peerRouterPasswords: readonly string[];
  /** A file with one base64 password per line (same order as peerRouterIps); used when peerRouterPasswords is empty. */
  readonly peerRouterPasswordsFile: string;
  readonly peerRouterMultihopTtl: number;
  /** --router-id; '' = the node's primary IP. */
  readonly routerId: string;
  /** --routes-sync-period: full reconcile (peers, advertisements, CNI, bridge, iptables, routes). */
  readonly routesSyncPeriodMs: number;
  /** --injected-routes-sync-period: re-check kernel routes against the current best paths. */
  readonly injectedRoutesSyncPeriodMs: number;
  readonly enablePodEgress: boolean;
  readonly autoMtu: boolean;
  /** Used when autoMtu is off (0 = leave the bridge's MTU and omit it from the conflist). */
  readonly mtu: number;
  readonly enableCni: boolean;
  readonly hairpinMode: boolean;
  /** KUBE_ROUTER_CNI_CONF_FILE. */
  readonly cniConfFile: string;
  readonly cniBinDirs: readonly string[];
  /** Add the portmap plugin (hostPort support) to the conflist. */
  readonly cniPortmap: boolean;
  readonly enableIpv4: boolean;
  readonly enableIpv6: boolean;
  /** --service-cluster-ip-range: routes inside are rejected on import (kube-router's VIP import reject). */
  readonly serviceClusterIpRange: readonly string[];
  readonly serviceExternalIpRange: readonly string[];
  readonly loadbalancerIpRange: readonly string[];
}

export const DEFAULT_CLUSTER_ASN = 64512;
export const DEFAULT_CNI_CONF_FILE = '/etc/cni/net.d/10-kuberouter.conflist';

export function routerDefaults(overrides: Partial<RouterOptions> = {}, env: NodeJS.ProcessEnv = process.env): RouterOptions {
  return {
    clusterAsn: 0,
    nodesFullMesh: true,
    enableIbgp: true,
    enableOverlay: true,
    overlayType: 'subnet',
    overlayEncap: 'ipip',
    overlayEncapPort: 5555,
    advertisePodCidr: true,
    advertiseClusterIp: false,
    advertiseExternalIp: false,
    advertiseLoadbalancerIp: false,
    bgpGracefulRestart: false,
    bgpGracefulRestartTimeMs: 90_000,
    bgpGracefulRestartDeferralTimeMs: 360_000,
    bgpHoldtimeMs: 90_000,
    bgpPort: 179,
    peerRouterIps: [],
    peerRouterAsns: [],
    peerRouterPorts: [],
    peerRouterPasswords: [],
    peerRouterPasswordsFile: '',
    peerRouterMultihopTtl: 0,
    routerId: '',
    routesSyncPeriodMs: 300_000,
    injectedRoutesSyncPeriodMs: 60_000,
    enablePodEgress: true,
    autoMtu: true,
    mtu: 0,
    enableCni: true,
    hairpinMode: false,
    cniConfFile: env.KUBE_ROUTER_CNI_CONF_FILE || DEFAULT_CNI_CONF_FILE,
    cniBinDirs: ['/opt/cni/bin', '/usr/lib/cni'],
    cniPortmap: true,
    enableIpv4: true,
    enableIpv6: false,
    serviceClusterIpRange: ['10.96.0.0/12'],
    serviceExternalIpRange: [],
    loadbalancerIpRange: [],
    ...overrides,
  };
}

export function effectiveClusterAsn(opts: RouterOptions): number {
  return opts.clusterAsn > 0 ? opts.clusterAsn : DEFAULT_CLUSTER_ASN;
}
