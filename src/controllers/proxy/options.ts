// Options of the service proxy. Every flag the flag table (src/cli/flags.ts) gives to the proxy
// (`owner: 'proxy'`), plus the shared settings listed in PROXY_SHARED_FLAGS, comes from that table with
// its name, type and default: a new proxy flag is one row there. Only what no flag sets is declared here.
import { ownedConfig, type AgentConfig, type OwnedConfig } from '../../cli/flags.js';

/**
 * Flags the proxy reads but does not own: address families, the Service ranges (the ClusterIP ranges only
 * to check at start that each served family has one) and NodePort range (agent),
 * --hairpin-mode (router: it also sets bridge hairpin; here it SNATs every service's hairpin traffic) and
 * --metrics-port (agent: per-service IPVS metrics are exported only when metrics are served).
 */
export const PROXY_SHARED_FLAGS = [
  'enableIpv4', 'enableIpv6', 'serviceClusterIpRange', 'serviceExternalIpRange', 'loadbalancerIpRange', 'serviceNodePortRange', 'hairpinMode', 'metricsPort',
] as const satisfies readonly (keyof AgentConfig)[];

export type ProxyFlagOptions = OwnedConfig<'proxy'> & Pick<AgentConfig, (typeof PROXY_SHARED_FLAGS)[number]>;

export type ProxyOptions = ProxyFlagOptions & {
  /** This node's name in the cluster (--hostname-override, $NODE_NAME or the host name). */
  readonly nodeName: string;
};

export function proxyOptionsFrom(config: AgentConfig, nodeName: string): ProxyOptions {
  return { ...ownedConfig(config, 'proxy', PROXY_SHARED_FLAGS), nodeName };
}

/** Misconfiguration the proxy cannot serve through, said at start rather than as silently missing services. */
export function proxyConfigError(opts: Pick<ProxyOptions, 'enableIpv4' | 'enableIpv6' | 'serviceClusterIpRange'>): string | undefined {
  if (!opts.enableIpv4 && !opts.enableIpv6) return 'service proxy: --enable-ipv4 and --enable-ipv6 are both off: no address family to serve';
  const ranges = opts.serviceClusterIpRange;
  if (opts.enableIpv6 && !ranges.some((r) => r.includes(':'))) {
    return `service proxy: --enable-ipv6 needs an IPv6 --service-cluster-ip-range beside the IPv4 one (e.g. --service-cluster-ip-range=${ranges[0] ?? '10.96.0.0/12'},fd00:10:96::/112); have ${ranges.join(',') || 'none'}`;
  }
  if (opts.enableIpv4 && !ranges.some((r) => !r.includes(':'))) {
    return `service proxy: --enable-ipv4 (on by default) needs an IPv4 --service-cluster-ip-range; have ${ranges.join(',')} (an IPv6-only cluster runs with --enable-ipv4=false --enable-ipv6)`;
  }
  return undefined;
}
