// Per-service IPVS traffic figures, read from `ipvsadm -L -n --exact --stats` (totals) and `--rate`
// (per-second estimates), exported under kube-router's metric names with its labels
// {svc_namespace, service_name, service_vip, protocol, port}. Read when Prometheus scrapes, and only
// when metrics are on (--metrics-port); one read serves every gauge of that scrape.
import type { Gauge, Registry } from 'prom-client';
import type { Exec } from '../../../dataplane/exec.js';
import { gauge } from '../../../observe/metrics.js';
import { virtualServerKey, type IpvsProtocol, type VirtualServer } from '../compile/plan.js';

export interface IpvsServiceStats {
  readonly conns: number;
  readonly inPkts: number;
  readonly outPkts: number;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly cps: number;
  readonly inPps: number;
  readonly outPps: number;
  readonly inBps: number;
  readonly outBps: number;
}

const PROTO: Record<string, IpvsProtocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** Five numbers per virtual server line of `ipvsadm -L -n --exact --stats|--rate`, keyed by virtualServerKey. */
export function parseIpvsList(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    const proto = PROTO[t[0] ?? ''];
    if (!proto || !t[1]) continue;
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(t[1]) ?? /^([^:]+):(\d+)$/.exec(t[1]);
    if (!m) continue;
    const nums = t.slice(2, 7).map(Number);
    if (nums.length !== 5 || nums.some((n) => !Number.isFinite(n))) continue;
    out.set(virtualServerKey({ protocol: proto, address: m[1] as string, port: Number(m[2]) }), nums);
  }
  return out;
}

export function joinStats(stats: string, rate: string): Map<string, IpvsServiceStats> {
  const s = parseIpvsList(stats);
  const r = parseIpvsList(rate);
  const out = new Map<string, IpvsServiceStats>();
  for (const [k, [conns, inPkts, outPkts, inBytes, outBytes] = []] of s) {
    const [cps, inPps, outPps, inBps, outBps] = r.get(k) ?? [0, 0, 0, 0, 0];
    out.set(k, { conns: conns!, inPkts: inPkts!, outPkts: outPkts!, inBytes: inBytes!, outBytes: outBytes!, cps: cps!, inPps: inPps!, outPps: outPps!, inBps: inBps!, outBps: outBps! });
  }
  return out;
}

const LABELS = ['svc_namespace', 'service_name', 'service_vip', 'protocol', 'port'] as const;
const METRICS: readonly [string, keyof IpvsServiceStats, string][] = [
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

  constructor(registry: Registry, private readonly exec: Exec, private readonly servers: () => ReadonlyMap<string, VirtualServer>, private readonly onError: (e: Error) => void) {
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
    this.inflight ??= this.read().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async read(): Promise<void> {
    const t0 = performance.now();
    let stats: Map<string, IpvsServiceStats>;
    try {
      const [s, r] = await Promise.all([this.exec('ipvsadm', ['-L', '-n', '--exact', '--stats']), this.exec('ipvsadm', ['-L', '-n', '--exact', '--rate'])]);
      stats = joinStats(s.stdout, r.stdout);
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
