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

