// Every kube-router flag (pkg/options/options.go of kube-router v2.11), same names, defaults and value
// syntax. This table drives parsing, --help, docs/flags.md and the AgentConfig type; nothing else lists
// flags. Help texts are ours. Bounds are kube-router's own checks; the 1s floors of the sync periods are
// ours (Go's ticker panics on 0, so kube-router never ran with less either).

import { configKey, type ConfigOf, type FlagOwner, type FlagSpec } from './flag-spec.js';

const G = 'General' as const;
const R = 'Service address ranges' as const;
const NP = 'Network policy (firewall)' as const;
const SP = 'Service proxy' as const;
const RT = 'Routing and BGP' as const;
const LB = 'Load balancer allocator' as const;
const OB = 'Observability' as const;


export const FLAGS = [
  // --- General: which controllers run, how to reach the API server, who we are.
  { name: 'run-router', group: G, type: 'bool', default: 'true', owner: 'agent', implemented: true,
    help: 'Run the routing controller: pod CIDR routes over BGP, CNI config, overlay tunnels.' },
  { name: 'run-firewall', group: G, type: 'bool', default: 'true', owner: 'agent', implemented: true,
    help: 'Run the network policy controller: enforce NetworkPolicy with iptables and ipset.' },
  { name: 'run-service-proxy', group: G, type: 'bool', default: 'true', owner: 'agent', implemented: true,
    help: 'Run the service proxy controller: Services on IPVS (NAT), every service IP held on kube-dummy-if.' },
  { name: 'run-loadbalancer', group: G, type: 'bool', default: 'false', owner: 'lballoc', implemented: false,
    help: 'Run the LoadBalancer IP allocator (leader-elected, writes Service status).' },
  { name: 'enable-cni', group: G, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'Write the CNI configuration (bridge kube-bridge + host-local IPAM from the node pod CIDR).' },
  { name: 'enable-ipv4', group: G, type: 'bool', default: 'true', owner: 'agent', implemented: true,
    help: 'Handle IPv4 addresses, routes and rules.' },
  { name: 'enable-ipv6', group: G, type: 'bool', default: 'false', owner: 'agent', implemented: true,
    help: 'Handle IPv6 addresses, routes, rules and Services (the service proxy then needs an IPv6 --service-cluster-ip-range). IPv6-only nodes need --router-id.' },
  { name: 'kubeconfig', group: G, type: 'string', default: '', owner: 'agent', implemented: true,
    help: 'Path to a kubeconfig file; empty means the in-cluster service account.' },
  { name: 'master', group: G, type: 'string', default: '', owner: 'agent', implemented: true,
    help: 'API server URL; overrides the server of the kubeconfig.' },
  { name: 'hostname-override', group: G, type: 'string', default: '', owner: 'agent', implemented: true,
    help: 'Name of this node in the cluster; empty means $NODE_NAME, then the host name.' },
  { name: 'cache-sync-timeout', group: G, type: 'duration', default: '1m', owner: 'agent', implemented: true, min: '5s',
    help: 'How long to wait for the initial list of every watched resource before giving up.' },
  { name: 'cleanup-config', group: G, type: 'bool', default: 'false', owner: 'agent', implemented: true,
    help: 'Remove every rule, set, route, interface and file the controllers created, then exit.' },
  { name: 'version', short: 'V', group: G, type: 'bool', default: 'false', owner: 'agent', implemented: true, action: 'version',
    help: 'Print the version and exit.' },
  { name: 'help', short: 'h', group: G, type: 'bool', default: 'false', owner: 'agent', implemented: true, action: 'help',
    help: 'Print this help and exit.' },

  // --- Service address ranges shared by the firewall, the proxy and the router.
  { name: 'service-cluster-ip-range', group: R, type: 'cidr-list', default: '10.96.0.0/12', owner: 'agent', implemented: true,
    maxItems: 2, help: 'ClusterIP ranges of the cluster, at most one per address family.' },
  { name: 'service-external-ip-range', group: R, type: 'cidr-list', default: '', owner: 'agent', implemented: true,
    help: 'Ranges that Service externalIPs may use (repeat or comma-separate).' },
  { name: 'loadbalancer-ip-range', group: R, type: 'cidr-list', default: '', owner: 'agent', implemented: true,
    help: 'Ranges of LoadBalancer ingress IPs (and the pool of the allocator).' },
  { name: 'service-node-port-range', group: R, type: 'port-range', default: '30000-32767', owner: 'agent', implemented: true,
    help: 'NodePort range, as FROM-TO or FROM:TO.' },

  // --- Network policy.
  { name: 'iptables-sync-period', group: NP, type: 'duration', default: '5m', owner: 'firewall', implemented: true, min: '1s',
    help: 'Interval of the full firewall reconcile; changes in the cluster are applied as they happen.' },
  { name: 'netpol-default-deny', group: NP, type: 'bool', default: 'false', owner: 'firewall', implemented: true,
    help: "Accepted for compatibility; changes nothing: kube-router-ts always fails closed, as this flag makes kube-router do. Traffic to or from an address of this node's pod CIDR (node.spec.podCIDRs or the kube-router.io/pod-cidr annotation) that is not yet a programmed pod is logged (NFLOG group 100) and rejected; pods no policy selects stay open once programmed." },
  { name: 'use-nftables-for-netpol', group: NP, type: 'bool', default: 'false', owner: 'firewall', implemented: true,
    help: 'Program network policies with native nftables (one table of our own, inet kube-router-ts-netpol) instead of iptables and ipset. Switching either way removes the other backend\'s rules after the first sync.' },

  // --- Service proxy (IPVS).
  { name: 'ipvs-sync-period', group: SP, type: 'duration', default: '5m', owner: 'proxy', implemented: true, min: '1s',
    help: 'Interval of the full IPVS reconcile.' },
  { name: 'ipvs-graceful-termination', group: SP, type: 'bool', default: 'false', owner: 'proxy', implemented: true,
    help: 'Drain removed endpoints (weight 0) instead of deleting them at once.' },
  { name: 'ipvs-graceful-period', group: SP, type: 'duration', default: '30s', owner: 'proxy', implemented: true,
    help: 'How long a draining endpoint is kept when the pod sets no grace period.' },
  { name: 'ipvs-permit-all', group: SP, type: 'bool', default: 'true', owner: 'proxy', implemented: true,
    help: 'Accept traffic to service addresses on their service ports (filter chain KUBE-ROUTER-SERVICES, jumped from INPUT) and reject every other port there, as kube-router does; false installs neither, leaving traffic to service addresses to the INPUT chain\'s other rules.' },
  { name: 'masquerade-all', group: SP, type: 'bool', default: 'false', owner: 'proxy', implemented: true,
    help: 'SNAT all traffic to services, not only traffic from outside the pod network.' },
  { name: 'hairpin-mode', group: SP, type: 'bool', default: 'false', owner: 'router',
    implemented: true,
    help: 'Let a pod reach itself through a Service it backs, for every Service.' },
  { name: 'nodeport-bindon-all-ip', group: SP, type: 'bool', default: 'false', owner: 'proxy', implemented: true,
    help: 'Serve NodePorts on every address of the node, not only the primary IP.' },
  { name: 'excluded-cidrs', group: SP, type: 'cidr-list', default: '', owner: 'proxy', implemented: true,
    help: 'IPVS services inside these ranges belong to someone else and are never removed.' },
  { name: 'runtime-endpoint', group: SP, type: 'string', default: '', owner: 'proxy', implemented: false,
    help: 'CRI socket kube-router uses to find DSR pods; not needed: DSR finds a pod\'s network namespace by its IP.' },
  { name: 'service-tcp-timeout', group: SP, type: 'duration', default: '0s', owner: 'proxy', implemented: true,
    help: 'IPVS TCP idle timeout; 0 keeps the kernel value.' },
  { name: 'service-tcpfin-timeout', group: SP, type: 'duration', default: '0s', owner: 'proxy', implemented: true,
    help: 'IPVS timeout after a TCP FIN; 0 keeps the kernel value.' },
  { name: 'service-udp-timeout', group: SP, type: 'duration', default: '0s', owner: 'proxy', implemented: true,
    help: 'IPVS UDP timeout; 0 keeps the kernel value.' },
  { name: 'strict-external-ip-validation', group: SP, type: 'bool', default: 'true', owner: 'proxy', implemented: true,
    help: 'Serve externalIPs and LoadBalancer IPs only inside the configured ranges (none configured: none served).' },

  // --- Routing, BGP, CNI and overlay.
  { name: 'advertise-cluster-ip', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: true,
    help: 'Announce Service ClusterIPs to BGP peers.' },
  { name: 'advertise-external-ip', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: true,
    help: 'Announce Service externalIPs to BGP peers.' },
  { name: 'advertise-loadbalancer-ip', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: true,
    help: 'Announce Service LoadBalancer IPs to BGP peers.' },
  { name: 'advertise-pod-cidr', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: "Announce this node's pod CIDR." },
  { name: 'auto-mtu', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'Derive the kube-bridge and CNI MTU from the node interface (minus tunnel overhead).' },
  { name: 'bgp-graceful-restart', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: true,
    help: 'Negotiate BGP graceful restart so peers keep our routes while we restart.' },
  { name: 'bgp-graceful-restart-time', group: RT, type: 'duration', default: '90s', owner: 'router', implemented: true,
    min: '0s', max: '4095s', help: 'Restart time announced to peers.' },
  { name: 'bgp-graceful-restart-deferral-time', group: RT, type: 'duration', default: '360s', owner: 'router', implemented: true,
    min: '0s', max: '18h', help: 'After our restart, how long to wait for End-of-RIB before selecting routes.' },
  { name: 'bgp-holdtime', group: RT, type: 'duration', default: '90s', owner: 'router', implemented: true,
    min: '3s', max: '18h12m16s', help: 'BGP hold time proposed to peers.' },
  { name: 'bgp-port', group: RT, type: 'port', default: '179', owner: 'router', implemented: true, min: 1,
    help: 'TCP port our BGP speaker listens on.' },
  { name: 'cluster-asn', group: RT, type: 'int', default: '0', owner: 'router', implemented: true, min: 0, max: 4294967295,
    help: 'AS number of the nodes (0 means 64512).' },
  { name: 'enable-ibgp', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'Peer with the other nodes of the cluster over iBGP.' },
  { name: 'nodes-full-mesh', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'Every node peers with every other node; off means use route reflectors (node annotations).' },
  { name: 'enable-overlay', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'Tunnel pod traffic to nodes in another subnet (see --overlay-type).' },
  { name: 'overlay-type', group: RT, type: 'enum', values: ['subnet', 'full'], default: 'subnet', owner: 'router', implemented: true,
    help: 'subnet: tunnel only to nodes outside our subnet; full: tunnel to every node.' },
  { name: 'overlay-encap', group: RT, type: 'enum', values: ['ipip', 'fou'], default: 'ipip', owner: 'router', implemented: true,
    help: 'Tunnel encapsulation: plain IP-in-IP, or IP-in-IP inside UDP (FoU).' },
  { name: 'overlay-encap-port', group: RT, type: 'port', default: '5555', owner: 'router', implemented: true, min: 1024,
    help: 'UDP port of the FoU tunnels.' },
  { name: 'enable-pod-egress', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: true,
    help: 'SNAT traffic from pods to destinations outside the pod network.' },
  { name: 'override-nexthop', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: false,
    help: 'Announce our own address as next hop to external peers, whatever the route says.' },
  { name: 'peer-router-ips', group: RT, type: 'ip-list', default: '', owner: 'router', implemented: true,
    help: 'Addresses of external BGP peers every node peers with.' },
  { name: 'peer-router-asns', group: RT, type: 'int-list', default: '', owner: 'router', implemented: true, min: 1, max: 4294967295,
    help: 'AS number of each external peer, in --peer-router-ips order.' },
  { name: 'peer-router-ports', group: RT, type: 'int-list', default: '', owner: 'router', implemented: true, min: 1, max: 65535,
    help: 'TCP port of each external peer (default 179), in --peer-router-ips order.' },
  { name: 'peer-router-passwords', group: RT, type: 'string-list', default: '', owner: 'router', implemented: true, secret: true,
    help: 'Base64 TCP-MD5 password of each external peer, in --peer-router-ips order.' },
  { name: 'peer-router-passwords-file', group: RT, type: 'string', default: '', owner: 'router', implemented: true,
    help: 'File with the base64 passwords of the external peers, one per line.' },
  { name: 'peer-router-multihop-ttl', group: RT, type: 'int', default: '0', owner: 'router', implemented: true, min: 0, max: 255,
    help: 'TTL for multihop external peers; 2 or more enables eBGP multihop.' },
  { name: 'router-id', group: RT, type: 'string', default: '', owner: 'router', implemented: true,
    help: 'BGP router id (an IPv4 address, or "generate"); empty means the node IPv4 address.' },
  { name: 'routes-sync-period', group: RT, type: 'duration', default: '5m', owner: 'router', implemented: true, min: '1s',
    help: 'Interval of the full routing reconcile (peers, announcements, CNI, routes).' },
  { name: 'injected-routes-sync-period', group: RT, type: 'duration', default: '60s', owner: 'router', implemented: true, min: '1s',
    help: 'Interval at which routes learned over BGP are checked against the kernel.' },
  { name: 'disable-source-dest-check', group: RT, type: 'bool', default: 'true', owner: 'router', implemented: false,
    help: 'On AWS, turn off the EC2 source/destination check of the node instance.' },
  { name: 'gobgp-admin-address', group: RT, type: 'ip', default: '127.0.0.1', owner: 'router', implemented: false,
    help: 'Address of the GoBGP gRPC admin API (kube-router-ts has its own speaker, without gRPC).' },
  { name: 'gobgp-admin-port', group: RT, type: 'port', default: '50051', owner: 'router', implemented: false,
    help: 'Port of the GoBGP gRPC admin API; 0 disables it.' },
  { name: 'enable-bfd', group: RT, type: 'bool', default: 'false', owner: 'router', implemented: false,
    help: 'Run BFD on BGP sessions for fast failure detection.' },
  { name: 'bfd-port', group: RT, type: 'port', default: '3784', owner: 'router', implemented: false, min: 1,
    help: 'UDP port of BFD.' },
  { name: 'bfd-detection-multiplier', group: RT, type: 'int', default: '3', owner: 'router', implemented: false, min: 1, max: 255,
    help: 'Missed BFD packets before a session is declared down.' },
  { name: 'bfd-desired-min-tx-interval', group: RT, type: 'duration', default: '1000ms', owner: 'router', implemented: false,
    help: 'Smallest interval at which we send BFD packets.' },
  { name: 'bfd-required-min-rx-interval', group: RT, type: 'duration', default: '1000ms', owner: 'router', implemented: false,
    help: 'Smallest interval at which we accept BFD packets.' },

  // --- LoadBalancer IP allocator.
  { name: 'loadbalancer-default-class', group: LB, type: 'bool', default: 'true', owner: 'lballoc', implemented: false,
    help: 'Also allocate for Services with no loadBalancerClass (or "default"), not only class "kube-router".' },
  { name: 'loadbalancer-sync-period', group: LB, type: 'duration', default: '1m', owner: 'lballoc', implemented: false, min: '1s',
    help: 'Interval of the allocator reconcile.' },

  // --- Observability.
  { name: 'health-addr', group: OB, type: 'ip', default: '', owner: 'agent', implemented: true,
    help: 'Address of the /healthz server; empty means all addresses.' },
  { name: 'health-port', group: OB, type: 'port', default: '20244', owner: 'agent', implemented: true,
    help: 'Port of /healthz (also /healthz?verbose and /healthz/json). It fails when a controller reports a problem or has not synced within its period + 10% + 1.5s; 0 disables the server (missed syncs are still logged).' },
  { name: 'metrics-addr', group: OB, type: 'ip', default: '', owner: 'agent', implemented: true,
    help: 'Address of the Prometheus metrics server; empty means all addresses.' },
  { name: 'metrics-port', group: OB, type: 'port', default: '0', owner: 'agent', implemented: true,
    help: 'Port of the Prometheus metrics server; 0 disables it.' },
  { name: 'metrics-path', group: OB, type: 'string', default: '/metrics', owner: 'agent', implemented: true,
    help: 'HTTP path of the metrics.' },
  { name: 'enable-pprof', group: OB, type: 'bool', default: 'false', owner: 'agent', implemented: false,
    help: 'Serve Go pprof on :6060 (no Node.js equivalent; use node --inspect).' },
  { name: 'v', short: 'v', group: OB, type: 'int', default: '0', owner: 'agent', implemented: true, min: 0,
    help: 'Log verbosity: 0 info, 1 debug (sync timings), 2 and up trace (rule detail).' },
] as const satisfies readonly FlagSpec[];

export type FlagName = (typeof FLAGS)[number]['name'];

/** The agent's settings: one camelCase key per flag; durations in milliseconds (key ends in "Ms"). */
export type AgentConfig = ConfigOf<typeof FLAGS>;

export const FLAG_BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAGS.map((f) => [f.name, f]));
export const FLAG_BY_SHORT: ReadonlyMap<string, FlagSpec> = new Map(
  (FLAGS as readonly FlagSpec[]).filter((f) => f.short !== undefined).map((f) => [f.short!, f]),
);

/** The settings of the flags one controller owns (the table's `owner`), typed from the table. */
export type OwnedConfig<O extends FlagOwner> = ConfigOf<readonly Extract<(typeof FLAGS)[number], { readonly owner: O }>[]>;

/**
 * The settings of `config` owned by `owner`, plus the listed shared (agent-owned) keys. Controllers build
 * their options with this, so a new flag is one row of FLAGS and reaches its controller by its owner.
 */
export function ownedConfig<O extends FlagOwner, K extends keyof AgentConfig>(
  config: AgentConfig,
  owner: O,
  shared: readonly K[] = [],
): OwnedConfig<O> & Pick<AgentConfig, K> {
  const src = config as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const spec of FLAGS as readonly FlagSpec[]) {
    if (spec.owner === owner && !spec.action) out[configKey(spec)] = src[configKey(spec)];
  }
  for (const k of shared) out[k] = src[k];
  return out as OwnedConfig<O> & Pick<AgentConfig, K>;
}
