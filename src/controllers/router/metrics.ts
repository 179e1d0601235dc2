// Router metrics under kube-router's names, registered on the agent's registry (get-or-create, so a
// restarted controller in the same process reuses them instead of throwing on duplicate registration).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface RouterMetrics {
  readonly peerInfo: Gauge<'address' | 'type' | 'asn' | 'state'>;
  readonly advertisementsSent: Counter<'type'>;
  readonly advertisementsReceived: Counter;
  readonly internalPeersSyncTime: Histogram;
  readonly routesSyncTime: Histogram;
  readonly hostRoutesSyncTime: Histogram;
  readonly hostRoutesSynced: Gauge;
  readonly hostRoutesAdded: Counter;
  readonly hostRoutesRemoved: Counter;
  /** Ours: 1 while the node has no pod CIDR (the seed's minikube failure). */
  readonly podCidrMissing: Gauge;
  /** Ours: CNI plugin binaries the config names but the bin dirs lack. */
  readonly cniPluginsMissing: Gauge;
  /** Ours: invalid annotations/flags currently ignored (one per message). */
  readonly configErrors: Gauge;
  readonly syncErrors: Counter<'step'>;
  /** Ours: route syncs that read the kernel (the others diffed against what the last one left). */
  readonly hostRoutesReads: Counter;
}

function getOr<T>(reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make();
}

export function createRouterMetrics(reg: Registry): RouterMetrics {
  const registers = [reg];
  const secs = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    peerInfo: getOr(reg, 'kube_router_bgp_peer_info', () => new Gauge({ name: 'kube_router_bgp_peer_info', help: 'BGP peer information', labelNames: ['address', 'type', 'asn', 'state'] as const, registers })),
    advertisementsSent: getOr(reg, 'kube_router_controller_bgp_advertisements_sent', () => new Counter({ name: 'kube_router_controller_bgp_advertisements_sent', help: 'Routes advertised (newly added to our announcements)', labelNames: ['type'] as const, registers })),
    advertisementsReceived: getOr(reg, 'kube_router_controller_bgp_advertisements_received', () => new Counter({ name: 'kube_router_controller_bgp_advertisements_received', help: 'Best-path changes received from peers', registers })),
    internalPeersSyncTime: getOr(reg, 'kube_router_controller_bgp_internal_peers_sync_time', () => new Histogram({ name: 'kube_router_controller_bgp_internal_peers_sync_time', help: 'Time to sync internal BGP peers (s)', buckets: secs, registers })),
    routesSyncTime: getOr(reg, 'kube_router_controller_routes_sync_time', () => new Histogram({ name: 'kube_router_controller_routes_sync_time', help: 'Full routing controller sync time (s)', buckets: secs, registers })),
    hostRoutesSyncTime: getOr(reg, 'kube_router_host_routes_sync_time', () => new Histogram({ name: 'kube_router_host_routes_sync_time', help: 'Time to sync kernel routes with best paths (s)', buckets: secs, registers })),
    hostRoutesSynced: getOr(reg, 'kube_router_host_routes_synced', () => new Gauge({ name: 'kube_router_host_routes_synced', help: 'Routes currently injected into the kernel', registers })),
    hostRoutesAdded: getOr(reg, 'kube_router_host_routes_added', () => new Counter({ name: 'kube_router_host_routes_added', help: 'Routes added or replaced in the kernel', registers })),
    hostRoutesRemoved: getOr(reg, 'kube_router_host_routes_removed', () => new Counter({ name: 'kube_router_host_routes_removed', help: 'Routes removed from the kernel', registers })),
    podCidrMissing: getOr(reg, 'kube_router_router_pod_cidr_missing', () => new Gauge({ name: 'kube_router_router_pod_cidr_missing', help: '1 while this node has no pod CIDR (set --allocate-node-cidrs/--cluster-cidr or kube-router.io/pod-cidr)', registers })),
    cniPluginsMissing: getOr(reg, 'kube_router_router_cni_plugins_missing', () => new Gauge({ name: 'kube_router_router_cni_plugins_missing', help: 'CNI plugin binaries named by the config but not installed', registers })),
    configErrors: getOr(reg, 'kube_router_router_config_errors', () => new Gauge({ name: 'kube_router_router_config_errors', help: 'Invalid BGP annotations/flags currently being ignored', registers })),
    syncErrors: getOr(reg, 'kube_router_router_sync_errors_total', () => new Counter({ name: 'kube_router_router_sync_errors_total', help: 'Failed router sync steps', labelNames: ['step'] as const, registers })),
    hostRoutesReads: getOr(reg, 'kube_router_router_route_reads_total', () => new Counter({ name: 'kube_router_router_route_reads_total', help: 'Route syncs that read the kernel\'s routes (the others diffed against the state the previous sync left)', registers })),
  };
}
