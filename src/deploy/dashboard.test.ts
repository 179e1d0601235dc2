// The Grafana dashboard queries only metrics the agent registers, and has a panel for every kube_router_
// metric; the registered names come from the agent's own code (agent-metrics.ts), not from a list here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentMetricFamilies, type MetricFamily } from './agent-metrics.js';
import { buildDashboard, metricsIn, ROWS, type RowSpec } from './dashboard.js';
import { ROOT } from './generate.js';

type Panel = { id: number; type: string; title: string; targets?: { expr: string }[]; gridPos: { x: number; y: number; w: number; h: number } };

let families: MetricFamily[];
beforeAll(async () => {
  families = await agentMetricFamilies();
});

function problems(dashboard: Record<string, unknown>) {
  const series = new Set(families.flatMap((f) => f.series));
  const panels = (dashboard.panels as Panel[]).filter((p) => p.type !== 'row');
  const unknown: string[] = [];
  const used = new Set<string>();
  for (const p of panels) {
    for (const t of p.targets ?? []) {
      for (const m of metricsIn(t.expr)) {
        used.add(m);
        if (!series.has(m)) unknown.push(`${p.title}: ${m}`);
      }
    }
  }
  const withoutPanel = families.filter((f) => f.name.startsWith('kube_router_') && !f.series.some((s) => used.has(s))).map((f) => f.name);
  return { unknown, withoutPanel, panels };
}

describe('grafana dashboard', () => {
  it('the agent registers the kube-router metrics the dashboard is about', () => {
    const names = families.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['kube_router_build_info', 'kube_router_controller_iptables_sync_time', 'kube_router_bgp_peer_info', 'process_resident_memory_bytes']));
    expect(families.find((f) => f.name === 'kube_router_controller_iptables_sync_time')!.series).toContain('kube_router_controller_iptables_sync_time_bucket');
  });

  it('deploy/grafana/kube-router-ts.json queries only registered metrics and covers every kube_router_ metric', () => {
    const onDisk = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/kube-router-ts.json'), 'utf8'));
    const { unknown, withoutPanel, panels } = problems(onDisk);
    expect(unknown).toEqual([]);
    expect(withoutPanel).toEqual([]);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    // No two panels share a grid cell.
    const cells = new Set<string>();
    for (const p of panels) for (let dx = 0; dx < p.gridPos.w; dx++) for (let dy = 0; dy < p.gridPos.h; dy++) {
      const c = `${p.gridPos.x + dx},${p.gridPos.y + dy}`;
      expect(cells.has(c), `${p.title} overlaps at ${c}`).toBe(false);
      cells.add(c);
    }
  });

  it('a panel on a metric that does not exist, or a metric without a panel, is reported', () => {
    const broken: RowSpec[] = [
      { title: 'x', panels: [{ title: 'typo', type: 'timeseries', exprs: [{ expr: 'rate(kube_router_controller_iptables_sync_tme_count[5m])' }] }] },
    ];
    const { unknown, withoutPanel } = problems(buildDashboard(broken));
    expect(unknown).toEqual(['typo: kube_router_controller_iptables_sync_tme_count']);
    expect(withoutPanel).toContain('kube_router_controller_policy_chains');
    expect(ROWS.length).toBeGreaterThan(0);
  });

  it('reads metric names out of PromQL', () => {
    expect(metricsIn('histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{instance=~"$instance", x="rate(b)"}[5m])))')).toEqual(['a_bucket']);
    expect(metricsIn('sum(rate(x_sum[5m])) / sum(rate(x_count[1h30m])) > 0 and on(instance) up')).toEqual(['x_sum', 'x_count', 'up']);
    expect(metricsIn('count(kube_router_build_info{instance=~"$instance"})')).toEqual(['kube_router_build_info']);
  });
});
