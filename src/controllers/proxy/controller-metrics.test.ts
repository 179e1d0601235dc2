// The per-service IPVS metrics exist from the controller's construction when --metrics-port is set, so the
// first scrape (and the Grafana dashboard) sees the families before the proxy has synced, empty until then.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { emptyClusterView } from '../../agent/cluster.js';
import { defaultConfig } from '../../cli/parse.js';
import { HealthMonitor } from '../../observe/health.js';
import { createLogger } from '../../observe/logger.js';
import { MemoryLog } from '../../testing/observe.js';
import { createProxyController } from './controller.js';
import { proxyOptionsFrom } from './options.js';

async function scrapeBeforeStart(metricsPort: number): Promise<string> {
  const registry = new Registry();
  const log = createLogger({ verbosity: 0, destination: new MemoryLog() });
  createProxyController({ nodeName: 'n1', cluster: emptyClusterView(), log, metrics: registry, health: new HealthMonitor({ log }) }, proxyOptionsFrom({ ...defaultConfig(), metricsPort }, 'n1'));
  return registry.metrics();
}

describe('service proxy metrics', () => {
  it('registers the ten service families and the UDP flush counter before the first sync, without samples', async () => {
    const text = await scrapeBeforeStart(8080);
    for (const name of ['total_connections', 'packets_in', 'packets_out', 'bytes_in', 'bytes_out', 'pps_in', 'pps_out', 'cps', 'bps_in', 'bps_out']) {
      expect(text).toContain(`# TYPE kube_router_service_${name} gauge`);
      expect(text).not.toMatch(new RegExp(`^kube_router_service_${name}\\{`, 'm'));
    }
    expect(text).toContain('kube_router_controller_ipvs_udp_conntrack_flushed 0');
  });

  it('leaves the service families out when metrics are off', async () => {
    const text = await scrapeBeforeStart(0);
    expect(text).not.toContain('kube_router_service_');
    expect(text).toContain('kube_router_controller_ipvs_udp_conntrack_flushed 0');
  });
});
