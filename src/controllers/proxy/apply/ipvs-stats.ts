// Per-service IPVS traffic figures: each service's counters and the kernel's per-second estimates, read
// through the proxy's IPVS writer (one generic-netlink service dump, or `ipvsadm -L -n --exact --stats`
// and `--rate` on the fallback), exported under kube-router's metric names with its labels
// {svc_namespace, service_name, service_vip, protocol, port}. A DSR (fwmark) service is labelled as the
// address it serves: its VIP, protocol and port, as that external IP would be without DSR. Read when
// Prometheus scrapes, and only when metrics are on (--metrics-port); one read serves every gauge of a scrape.
import type { Gauge, Registry } from 'prom-client';
import type { IpvsServiceStats, IpvsStats } from '../../../dataplane/ipvs/types.js';
import { gauge } from '../../../observe/metrics.js';
import { virtualServerKey, type VirtualServer } from '../compile/plan.js';

/** The statistics keyed as the plan keys its virtual servers (IPv4 fwmark services as `fwmark/MARK`; IPv6 ones are never ours). */
export function statsByKey(entries: readonly IpvsServiceStats[]): Map<string, IpvsStats> {
  const out = new Map<string, IpvsStats>();
  for (const { service: s, stats } of entries) {
    if (s.fwmark !== undefined) {
      if (s.family === 4) out.set(virtualServerKey({ fwmark: s.fwmark, protocol: 'tcp', address: '', port: 0 }), stats);
    } else out.set(virtualServerKey(s), stats);
  }
  return out;
}

const LABELS = ['svc_namespace', 'service_name', 'service_vip', 'protocol', 'port'] as const;
const METRICS: readonly [string, keyof IpvsStats, string][] = [
  ['service_total_connections', 'conns', 'Total incoming connections made'],
  ['service_packets_in', 'inPkts', 'Total incoming packets'],
  ['service_packets_out', 'outPkts', 'Total outgoing packets'],
  ['service_bytes_in', 'inBytes', 'Total incoming bytes'],
  ['service_bytes_out', 'outBytes', 'Total outgoing bytes'],
  ['service_pps_in', 'inPps', 'Incoming packets per second'],
  ['service_pps_out', 'outPps', 'Outgoing packets per second'],
  ['service_cps', 'cps', 'Service connections per second'],
  ['service_bps_in', 'inBps', 'Incoming bytes per second'],
  ['service_bps_out', 'outBps', 'Outgoing bytes per second'],
];

/** The service metrics; `servers()` gives the virtual servers of the last applied plan. */
export class IpvsServiceMetrics {
  private readonly gauges: Gauge<string>[];
  private readonly exportTime: Gauge<string>;
  private inflight: Promise<void> | undefined;

  constructor(
    registry: Registry,
    private readonly read: () => Promise<readonly IpvsServiceStats[]>,
    private readonly servers: () => ReadonlyMap<string, VirtualServer>,
    private readonly onError: (e: Error) => void,
  ) {
    const refresh = () => this.refresh();
    this.gauges = METRICS.map(([name, , help]) => {
      const g = gauge(registry, name, help, LABELS);
      // prom-client awaits collect() before reading a gauge: every gauge waits for the same read.
      (g as unknown as { collect: () => Promise<void> }).collect = refresh;
      return g;
    });
    this.exportTime = gauge(registry, 'controller_ipvs_metrics_export_time', 'Time it took to read the IPVS statistics for the service metrics (seconds)');
  }

  refresh(): Promise<void> {
    this.inflight ??= this.collect().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async collect(): Promise<void> {
    const t0 = performance.now();
    let stats: Map<string, IpvsStats>;
    try {
      stats = statsByKey(await this.read());
    } catch (e) {
      this.onError(e as Error);
      return;
    }
    for (const g of this.gauges) g.reset();
    for (const [key, v] of this.servers()) {
      const st = stats.get(key);
      if (!st) continue;
      const labels = { svc_namespace: v.service.namespace, service_name: v.service.name, service_vip: v.address, protocol: v.protocol, port: String(v.port) };
      METRICS.forEach(([, field], i) => this.gauges[i]!.set(labels, st[field]));
    }
    this.exportTime.set((performance.now() - t0) / 1000);
  }
}
