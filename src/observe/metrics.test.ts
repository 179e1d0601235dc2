import { afterEach, describe, expect, it } from 'vitest';
import type { HttpEndpoint } from './http.js';
import { counter, createRegistry, gauge, histogram, metricName, startMetricsServer } from './metrics.js';
import { freePort } from '../testing/observe.js';

let endpoint: HttpEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

describe('metrics endpoint', () => {
  it('serves kube_router_build_info and controller metrics at --metrics-path', async () => {
    const registry = createRegistry({ version: '9.8.7' });
    const h = histogram(registry, 'controller_iptables_sync_time', 'Time of a full firewall sync in seconds.');
    h.observe(0.02);
    gauge(registry, 'controller_policy_chains', 'Policy chains.').set(4);
    endpoint = await startMetricsServer({ registry, addr: '127.0.0.1', port: await freePort(), path: '/custom-metrics' });
    const res = await fetch(`http://127.0.0.1:${endpoint!.port}/custom-metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    expect(body).toContain(`kube_router_build_info{version="9.8.7",nodeversion="${process.version}"} 1`);
    expect(body).toContain('kube_router_controller_iptables_sync_time_count 1');
    expect(body).toContain('kube_router_controller_policy_chains 4');
    expect((await fetch(`http://127.0.0.1:${endpoint!.port}/metrics`)).status).toBe(404);
  });

  it('is off at port 0', async () => {
    const registry = createRegistry({ version: '1.0.0' });
    expect(await startMetricsServer({ registry, addr: '127.0.0.1', port: 0, path: '/metrics' })).toBeUndefined();
  });

  it('fails with the address when the port is taken', async () => {
    const registry = createRegistry({ version: '1.0.0' });
    const port = await freePort();
    endpoint = await startMetricsServer({ registry, addr: '127.0.0.1', port, path: '/metrics' });
    await expect(startMetricsServer({ registry, addr: '127.0.0.1', port, path: '/metrics' })).rejects.toThrow(
      `metrics server: listen tcp 127.0.0.1:${port}: EADDRINUSE`,
    );
  });
});

describe('metric helpers', () => {
  it('prefix names with kube_router_ once and return the existing metric on re-creation', () => {
    expect(metricName('host_routes_added')).toBe('kube_router_host_routes_added');
    expect(metricName('kube_router_host_routes_added')).toBe('kube_router_host_routes_added');
    const registry = createRegistry({ version: '1.0.0' });
    const a = counter(registry, 'host_routes_added', 'Routes added.');
    const b = counter(registry, 'host_routes_added', 'Routes added.');
    expect(b).toBe(a);
    expect(() => gauge(registry, 'host_routes_added', 'x')).toThrow(/another type/);
  });
});
