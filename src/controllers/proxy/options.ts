// The service proxy's settings, taken from the agent's flags (cli/flags.ts) by name.
import type { AgentConfig } from '../../cli/flags.js';

export interface ProxyOptions {
  readonly nodeName: string;
  readonly syncPeriodMs: number;
  readonly gracefulTermination: boolean;
  readonly gracefulPeriodMs: number;
  readonly masqueradeAll: boolean;
  readonly hairpinMode: boolean;
  readonly nodePortBindOnAllIPs: boolean;
  readonly excludedCIDRs: readonly string[];
  readonly externalIPRanges: readonly string[];
  readonly loadBalancerIPRanges: readonly string[];
  readonly strictExternalIPs: boolean;
  readonly nodePortRange: { readonly min: number; readonly max: number };
  readonly enableIPv4: boolean;
  readonly enableIPv6: boolean;
  /** --ipvs-permit-all: the VIP firewall (kube-router's KUBE-ROUTER-SERVICES) is on. */
  readonly permitAll: boolean;
  /** --metrics-port > 0: per-service IPVS traffic metrics are exported. */
  readonly metricsEnabled: boolean;
  /** IPVS connection timeouts in ms (0 keeps the kernel's). */
  readonly timeoutsMs: { readonly tcp: number; readonly tcpFin: number; readonly udp: number };
}

export function proxyOptionsFrom(c: AgentConfig, nodeName: string): ProxyOptions {
  return {
    nodeName,
    syncPeriodMs: c.ipvsSyncPeriodMs,
    gracefulTermination: c.ipvsGracefulTermination,
    gracefulPeriodMs: c.ipvsGracefulPeriodMs,
    masqueradeAll: c.masqueradeAll,
    hairpinMode: c.hairpinMode,
    nodePortBindOnAllIPs: c.nodeportBindonAllIp,
    excludedCIDRs: [...c.excludedCidrs],
    externalIPRanges: [...c.serviceExternalIpRange],
    loadBalancerIPRanges: [...c.loadbalancerIpRange],
    strictExternalIPs: c.strictExternalIpValidation,
    nodePortRange: { min: c.serviceNodePortRange.from, max: c.serviceNodePortRange.to },
    enableIPv4: c.enableIpv4,
    enableIPv6: c.enableIpv6,
    permitAll: c.ipvsPermitAll,
    metricsEnabled: c.metricsPort > 0,
    timeoutsMs: { tcp: c.serviceTcpTimeoutMs, tcpFin: c.serviceTcpfinTimeoutMs, udp: c.serviceUdpTimeoutMs },
  };
}
