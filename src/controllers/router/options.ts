// Options of the routing controller. Every flag the flag table (src/cli/flags.ts) gives to the router
// (`owner: 'router'`), plus the shared settings listed in ROUTER_SHARED_FLAGS, comes from that table with
// its name, type and default: a new router flag is one row there. Only what no flag sets is declared here.
// The agent fills these from the parsed flags (routerOptionsFrom); tests and the bench use routerDefaults(...).
import { ownedConfig, type AgentConfig, type OwnedConfig } from '../../cli/flags.js';
import { defaultConfig } from '../../cli/parse.js';

export type OverlayType = AgentConfig['overlayType'];
export type OverlayEncap = AgentConfig['overlayEncap'];

/** Agent-owned flags the router reads too: address families and the Service ranges (VIP import reject, ads). */
export const ROUTER_SHARED_FLAGS = [
  'enableIpv4', 'enableIpv6', 'serviceClusterIpRange', 'serviceExternalIpRange', 'loadbalancerIpRange',
] as const satisfies readonly (keyof AgentConfig)[];

export type RouterFlagOptions = OwnedConfig<'router'> & Pick<AgentConfig, (typeof ROUTER_SHARED_FLAGS)[number]>;

/** What no flag sets: environment and build-time choices. */
export interface RouterExtraOptions {
  /** Used when autoMtu is off (0 = leave the bridge's MTU and omit it from the conflist). */
  readonly mtu: number;
  /** KUBE_ROUTER_CNI_CONF_FILE. */
  readonly cniConfFile: string;
  readonly cniBinDirs: readonly string[];
  /** Add the portmap plugin (hostPort support) to the conflist. */
  readonly cniPortmap: boolean;
}

export type RouterOptions = RouterFlagOptions & RouterExtraOptions;

export const DEFAULT_CLUSTER_ASN = 64512;
export const DEFAULT_CNI_CONF_FILE = '/etc/cni/net.d/10-kuberouter.conflist';

/** The router's options from the agent's parsed flags; the rest at their defaults. */
export function routerOptionsFrom(config: AgentConfig, env: NodeJS.ProcessEnv = process.env, overrides: Partial<RouterOptions> = {}): RouterOptions {
  return {
    ...ownedConfig(config, 'router', ROUTER_SHARED_FLAGS),
    // Bridge hairpin on every pod port whenever services are proxied here: a pod reaching itself through a
    // service gets its reply back through the port it came from (kube-router's manifests ship it on).
    hairpinMode: config.hairpinMode || config.runServiceProxy,
    mtu: 0,
    cniConfFile: env.KUBE_ROUTER_CNI_CONF_FILE || DEFAULT_CNI_CONF_FILE,
    cniBinDirs: ['/opt/cni/bin', '/usr/lib/cni'],
    cniPortmap: true,
    ...overrides,
  };
}

/** Every flag at its kube-router default, with `overrides`. */
export function routerDefaults(overrides: Partial<RouterOptions> = {}, env: NodeJS.ProcessEnv = process.env): RouterOptions {
  // The flag's own default (off): the agent turns bridge hairpin on when its proxy runs, a bare router does not.
  return routerOptionsFrom(defaultConfig(), env, { hairpinMode: false, ...overrides });
}

export function effectiveClusterAsn(opts: RouterOptions): number {
  return opts.clusterAsn > 0 ? opts.clusterAsn : DEFAULT_CLUSTER_ASN;
}
