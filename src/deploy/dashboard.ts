// The Grafana dashboard (deploy/grafana/kube-router-ts.json), built from the panel list below.
// src/deploy/dashboard.test.ts checks every metric a query names against what the agent registers, and that
// every kube_router_ metric has a panel. `npm run deploy:generate` writes the JSON.

export interface PanelSpec {
  readonly title: string;
  readonly type: 'timeseries' | 'stat' | 'table';
  readonly unit?: string;
  readonly description?: string;
  /** PromQL; `$SEL` is replaced by the dashboard's instance selector. */
  readonly exprs: readonly { readonly expr: string; readonly legend?: string }[];
}

export interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

const SEL = 'instance=~"$instance"';
const q = (expr: string, legend?: string) => ({ expr: expr.replaceAll('$SEL', SEL), ...(legend ? { legend } : {}) });
const quantiles = (metric: string, legend = '{{instance}}') => [
  q(`histogram_quantile(0.99, sum by (instance, le) (rate(${metric}_bucket{$SEL}[5m])))`, `p99 ${legend}`),
  q(`sum by (instance) (rate(${metric}_sum{$SEL}[5m])) / sum by (instance) (rate(${metric}_count{$SEL}[5m]))`, `mean ${legend}`),
];
const syncTime = (title: string, metric: string, description: string): PanelSpec => ({ title, type: 'timeseries', unit: 's', description, exprs: quantiles(metric) });

export const ROWS: readonly RowSpec[] = [
  {
    title: 'Agents',
    panels: [
      { title: 'Agents up', type: 'stat', exprs: [q('count(kube_router_build_info{$SEL})')] },
      { title: 'Versions', type: 'table', exprs: [q('kube_router_build_info{$SEL}')] },
      { title: 'Objects in the agent cache', type: 'timeseries', exprs: [q('max by (kind) (kube_router_cluster_objects{$SEL})', '{{kind}}')] },
      {
        title: 'Objects rejected / watch restarts',
        type: 'timeseries',
        unit: 'ops',
        description: 'Objects the agent refused as malformed (it keeps the last good version) and informer restarts after list/watch failures.',
        exprs: [
          q('sum by (kind, reason) (rate(kube_router_rejected_objects_total{$SEL}[5m]))', 'rejected {{kind}} {{reason}}'),
          q('sum by (kind) (rate(kube_router_watch_restarts_total{$SEL}[5m]))', 'restarts {{kind}}'),
        ],
      },
    ],
  },
  {
    title: 'Network policy (firewall)',
    panels: [
      syncTime('Firewall sync time', 'kube_router_controller_iptables_sync_time', 'A whole firewall sync: compile, save, ipset and iptables restore.'),
      syncTime('Policy compile time', 'kube_router_controller_policy_chains_sync_time', 'Compiling chains and sets from the cluster state.'),
      {
        title: 'iptables / ipset restore and save time',
        type: 'timeseries',
        unit: 's',
        exprs: [
          ...quantiles('kube_router_controller_iptables_v4_restore_time', 'v4 restore {{instance}}'),
          ...quantiles('kube_router_controller_iptables_v6_restore_time', 'v6 restore {{instance}}'),
          ...quantiles('kube_router_controller_iptables_v4_save_time', 'save {{instance}}'),
          ...quantiles('kube_router_controller_policy_ipset_v4_restore_time', 'ipset restore {{instance}}'),
        ],
      },
      {
        title: 'Policy chains and sets',
        type: 'timeseries',
        exprs: [q('kube_router_controller_policy_chains{$SEL}', 'chains {{instance}}'), q('kube_router_controller_policy_ipsets{$SEL}', 'ipsets {{instance}}')],
      },
      {
        title: 'Firewall sync failures / policy warnings',
        type: 'timeseries',
        unit: 'ops',
        description: 'Failed syncs are retried with backoff; warnings are policy parts skipped as invalid or unsupported.',
        exprs: [
          q('rate(kube_router_controller_policy_sync_failures{$SEL}[5m])', 'failures {{instance}}'),
          q('rate(kube_router_controller_policy_warnings{$SEL}[5m])', 'warnings {{instance}}'),
        ],
      },
    ],
  },
  {
    title: 'Service proxy (IPVS)',
    panels: [
      syncTime('IPVS sync time', 'kube_router_controller_ipvs_services_sync_time', 'A whole service proxy sync: compile, read IPVS, apply the differences.'),
      {
        title: 'IPVS virtual servers',
        type: 'timeseries',
        description: 'Writer: 1 for the one in use, netlink (resident socket) or ipvsadm (the fallback when the addon cannot load).',
        exprs: [
          q('kube_router_controller_ipvs_services{$SEL}', 'virtual servers {{instance}}'),
          q('kube_router_controller_ipvs_writer{$SEL}', '{{writer}} writer {{instance}}'),
        ],
      },
      {
        title: 'Proxy sync failures / services left out',
        type: 'timeseries',
        unit: 'ops',
        description: 'Failed syncs are retried with backoff; left out: bad annotations, external IPs outside the allowed ranges, address conflicts.',
        exprs: [
          q('rate(kube_router_controller_ipvs_sync_failures{$SEL}[5m])', 'failures {{instance}}'),
          q('rate(kube_router_controller_ipvs_services_skipped{$SEL}[5m])', 'left out {{instance}}'),
        ],
      },
      {
        title: 'UDP flows flushed / IPVS statistics read time',
        type: 'timeseries',
        description: 'UDP conntrack entries deleted because their backend left the service (per second), and how long the last read of the per-service IPVS statistics took (seconds).',
        exprs: [
          q('rate(kube_router_controller_ipvs_udp_conntrack_flushed{$SEL}[5m])', 'flushed/s {{instance}}'),
          q('kube_router_controller_ipvs_metrics_export_time{$SEL}', 'stats read s {{instance}}'),
        ],
      },
    ],
  },
  {
    title: 'Services (IPVS traffic, the 10 busiest)',
    panels: [
      {
        title: 'Service bytes per second',
        type: 'timeseries',
        unit: 'Bps',
        description: "The kernel's per-service rate estimate, summed over the nodes selected; in: client to service, out: replies.",
        exprs: [
          q('topk(10, sum by (svc_namespace, service_name) (kube_router_service_bps_in{$SEL}))', 'in {{svc_namespace}}/{{service_name}}'),
          q('topk(10, sum by (svc_namespace, service_name) (kube_router_service_bps_out{$SEL}))', 'out {{svc_namespace}}/{{service_name}}'),
        ],
      },
      {
        title: 'Service packets per second',
        type: 'timeseries',
        unit: 'pps',
        exprs: [
          q('topk(10, sum by (svc_namespace, service_name) (kube_router_service_pps_in{$SEL}))', 'in {{svc_namespace}}/{{service_name}}'),
          q('topk(10, sum by (svc_namespace, service_name) (kube_router_service_pps_out{$SEL}))', 'out {{svc_namespace}}/{{service_name}}'),
        ],
      },
      {
        title: 'Service connections per second',
        type: 'timeseries',
        unit: 'cps',
        exprs: [q('topk(10, sum by (svc_namespace, service_name) (kube_router_service_cps{$SEL}))', '{{svc_namespace}}/{{service_name}}')],
      },
      {
        title: 'Service totals since the virtual server was created',
        type: 'table',
        description: 'One row per service address, protocol and port on each node: connections, packets and bytes.',
        exprs: [
          q('kube_router_service_total_connections{$SEL}'),
          q('kube_router_service_packets_in{$SEL}'),
          q('kube_router_service_packets_out{$SEL}'),
          q('kube_router_service_bytes_in{$SEL}'),
          q('kube_router_service_bytes_out{$SEL}'),
        ],
      },
    ],
  },
  {
    title: 'Routing and BGP',
    panels: [
      { title: 'BGP peers', type: 'table', description: 'One row per peer: address, type, ASN and session state.', exprs: [q('kube_router_bgp_peer_info{$SEL}')] },
      {
        title: 'BGP advertisements',
        type: 'timeseries',
        unit: 'ops',
        exprs: [
          q('sum by (instance, type) (rate(kube_router_controller_bgp_advertisements_sent{$SEL}[5m]))', 'sent {{type}} {{instance}}'),
          q('rate(kube_router_controller_bgp_advertisements_received{$SEL}[5m])', 'received {{instance}}'),
        ],
      },
      syncTime('Routing sync time', 'kube_router_controller_routes_sync_time', 'A whole routing controller sync.'),
      syncTime('Internal peer sync time', 'kube_router_controller_bgp_internal_peers_sync_time', 'Reconciling the BGP sessions to the other nodes.'),
      syncTime('Host route sync time', 'kube_router_host_routes_sync_time', 'Writing best paths into the kernel routing table.'),
      {
        title: 'Host routes',
        type: 'timeseries',
        exprs: [
          q('kube_router_host_routes_synced{$SEL}', 'in kernel {{instance}}'),
          q('rate(kube_router_host_routes_added{$SEL}[5m])', 'added/s {{instance}}'),
          q('rate(kube_router_host_routes_removed{$SEL}[5m])', 'removed/s {{instance}}'),
          q('rate(kube_router_router_route_reads_total{$SEL}[5m])', 'kernel reads/s {{instance}}'),
        ],
      },
      {
        title: 'Node problems',
        type: 'timeseries',
        description: 'Non-zero: no pod CIDR on the node, CNI plugins missing from /opt/cni/bin, invalid routing configuration, failed syncs.',
        exprs: [
          q('kube_router_router_pod_cidr_missing{$SEL} > 0', 'no pod CIDR {{instance}}'),
          q('kube_router_router_cni_plugins_missing{$SEL} > 0', 'CNI plugins missing {{instance}}'),
          q('kube_router_router_config_errors{$SEL} > 0', 'config errors {{instance}}'),
          q('rate(kube_router_router_sync_errors_total{$SEL}[5m]) > 0', 'sync errors/s {{instance}}'),
        ],
      },
    ],
  },
  {
    title: 'Process',
    panels: [
      { title: 'Resident memory', type: 'timeseries', unit: 'bytes', exprs: [q('process_resident_memory_bytes{$SEL}', '{{instance}}'), q('nodejs_heap_size_used_bytes{$SEL}', 'heap {{instance}}')] },
      { title: 'CPU', type: 'timeseries', unit: 'percentunit', exprs: [q('rate(process_cpu_seconds_total{$SEL}[5m])', '{{instance}}')] },
      { title: 'Event loop lag p99', type: 'timeseries', unit: 's', exprs: [q('nodejs_eventloop_lag_p99_seconds{$SEL}', '{{instance}}')] },
      { title: 'GC time', type: 'timeseries', unit: 's', exprs: [q('sum by (instance) (rate(nodejs_gc_duration_seconds_sum{$SEL}[5m]))', '{{instance}}')] },
    ],
  },
];

export function buildDashboard(rows: readonly RowSpec[] = ROWS): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({ type: 'row', id: id++, title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    row.panels.forEach((p, i) => {
      const w = 12;
      panels.push({
        type: p.type,
        id: id++,
        title: p.title,
        ...(p.description ? { description: p.description } : {}),
        datasource,
        gridPos: { h: 8, w, x: (i % 2) * w, y: y + Math.floor(i / 2) * 8 },
        fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}) }, overrides: [] },
        options: p.type === 'table' ? { showHeader: true } : {},
        targets: p.exprs.map((e, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource,
          expr: e.expr,
          ...(p.type === 'table' ? { format: 'table', instant: true } : {}),
          ...(e.legend ? { legendFormat: e.legend } : {}),
        })),
      });
    });
    y += Math.ceil(row.panels.length / 2) * 8;
  }
  return {
    title: 'kube-router-ts',
    uid: 'kube-router-ts',
    description: "kube-router-ts node agents: firewall, service proxy and per-service traffic, routing/BGP and process metrics (kube-router's metric names).",
    tags: ['kube-router', 'networking'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        { type: 'datasource', name: 'datasource', label: 'Data source', query: 'prometheus', current: {} },
        {
          type: 'query',
          name: 'instance',
          label: 'Node',
          datasource,
          query: { query: 'label_values(kube_router_build_info, instance)', refId: 'instance' },
          definition: 'label_values(kube_router_build_info, instance)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: {},
          refresh: 2,
        },
      ],
    },
    panels,
  };
}

export function renderDashboard(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n';
}

/** The metric names a PromQL expression reads (identifiers followed by a selector or standing alone). */
export function metricsIn(expr: string): string[] {
  const noStrings = expr.replace(/"[^"]*"/g, '""');
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const words = [...noLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset']);
  return [...new Set(words.filter((w) => !keywords.has(w) && !/^\d/.test(w) && !/^(\d+[smhdwy])+$/.test(w)))];
}
