// The controllers this build ships, and how flags become each controller's options. A controller
// missing here runs as a placeholder (controllers.ts).

import { createFirewallController, type FirewallOptions } from '../controllers/firewall/controller.js';
import { createRouterController } from '../controllers/router/controller.js';
import { routerDefaults, type RouterOptions } from '../controllers/router/options.js';
import type { AgentConfig } from '../cli/flags.js';
import type { FactoryTable } from './controllers.js';

/** The routing flags, one to one (same camelCase names); CNI paths and the MTU fallback come from the router's defaults. */
export function routerOptionsFrom(c: AgentConfig, env: NodeJS.ProcessEnv = process.env): RouterOptions {
  return routerDefaults(
    {
      clusterAsn: c.clusterAsn,
      nodesFullMesh: c.nodesFullMesh,
      enableIbgp: c.enableIbgp,
      enableOverlay: c.enableOverlay,
      overlayType: c.overlayType,
      overlayEncap: c.overlayEncap,
      overlayEncapPort: c.overlayEncapPort,
      advertisePodCidr: c.advertisePodCidr,
      advertiseClusterIp: c.advertiseClusterIp,
      advertiseExternalIp: c.advertiseExternalIp,
      advertiseLoadbalancerIp: c.advertiseLoadbalancerIp,
      bgpGracefulRestart: c.bgpGracefulRestart,
      bgpGracefulRestartTimeMs: c.bgpGracefulRestartTimeMs,
      bgpGracefulRestartDeferralTimeMs: c.bgpGracefulRestartDeferralTimeMs,
      bgpHoldtimeMs: c.bgpHoldtimeMs,
      bgpPort: c.bgpPort,
      peerRouterIps: c.peerRouterIps,
      peerRouterAsns: c.peerRouterAsns,
      peerRouterPorts: c.peerRouterPorts,
      peerRouterPasswords: c.peerRouterPasswords,
      peerRouterPasswordsFile: c.peerRouterPasswordsFile,
      peerRouterMultihopTtl: c.peerRouterMultihopTtl,
      routerId: c.routerId,
      routesSyncPeriodMs: c.routesSyncPeriodMs,
      injectedRoutesSyncPeriodMs: c.injectedRoutesSyncPeriodMs,
      enablePodEgress: c.enablePodEgress,
      autoMtu: c.autoMtu,
      enableCni: c.enableCni,
      hairpinMode: c.hairpinMode,
      enableIpv4: c.enableIpv4,
      enableIpv6: c.enableIpv6,
      serviceClusterIpRange: c.serviceClusterIpRange,
      serviceExternalIpRange: c.serviceExternalIpRange,
      loadbalancerIpRange: c.loadbalancerIpRange,
    },
    env,
  );
}

/** The firewall's flags; the node's own IPs and pod CIDRs come from its Node object. */
export function firewallOptionsFrom(c: AgentConfig, nodeName: string): FirewallOptions {
  return {
    nodeName,
    syncPeriodMs: c.iptablesSyncPeriodMs,
    defaultDeny: c.netpolDefaultDeny,
    serviceClusterIPRanges: [...c.serviceClusterIpRange],
    serviceExternalIPRanges: [...c.serviceExternalIpRange],
    loadBalancerIPRanges: [...c.loadbalancerIpRange],
    nodePortRange: { min: c.serviceNodePortRange.from, max: c.serviceNodePortRange.to },
    enableIPv4: c.enableIpv4,
    enableIPv6: c.enableIpv6,
  };
}

export const BUILTIN_FACTORIES: FactoryTable = {
  router: (ctx, config) => createRouterController(ctx, routerOptionsFrom(config)),
  firewall: (ctx, config) => createFirewallController(ctx, firewallOptionsFrom(config, ctx.nodeName)),
};
