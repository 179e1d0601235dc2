// The controllers this build ships, and how flags become each controller's options. A controller
// missing here runs as a placeholder (controllers.ts).

import { createFirewallController, type FirewallOptions } from '../controllers/firewall/controller.js';
import { createRouterController } from '../controllers/router/controller.js';
import { createProxyController } from '../controllers/proxy/controller.js';
import { proxyOptionsFrom } from '../controllers/proxy/options.js';
import { routerOptionsFrom } from '../controllers/router/options.js';
import type { AgentConfig } from '../cli/flags.js';
import type { FactoryTable } from './controllers.js';

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
    useNftables: c.useNftablesForNetpol,
  };
}

export const BUILTIN_FACTORIES: FactoryTable = {
  router: (ctx, config) => createRouterController(ctx, routerOptionsFrom(config)),
  firewall: (ctx, config) => createFirewallController(ctx, firewallOptionsFrom(config, ctx.nodeName)),
  proxy: (ctx, config) => createProxyController(ctx, proxyOptionsFrom(config, ctx.nodeName)),
};
