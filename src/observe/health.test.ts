import { afterEach, describe, expect, it } from 'vitest';
import { HealthMonitor, startHealthServer, type HealthStatus } from './health.js';
import type { HttpEndpoint } from './http.js';
import { createLogger } from './logger.js';
import { freePort, MemoryLog, sleep } from '../testing/observe.js';

let endpoint: HttpEndpoint | undefined;
let monitor: HealthMonitor | undefined;
afterEach(async () => {
  monitor?.stop();
  await endpoint?.close();
  endpoint = undefined;
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${endpoint!.port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('/healthz over real HTTP', () => {
  it('is 200 while controllers beat, then 500 naming the stale one', async () => {
    monitor = new HealthMonitor({ graceMs: 100, startupGraceMs: 200 });
    endpoint = await startHealthServer({ monitor, addr: '127.0.0.1', port: await freePort() });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'OK\n' }); // nothing registered yet

    monitor.register('firewall', 300);
    monitor.register('router', 300);
    monitor.beat('firewall');
    monitor.beat('router');
    const keepRouterAlive = setInterval(() => monitor!.beat('router'), 50);
    try {
      expect(await get('/healthz')).toEqual({ status: 200, body: 'OK\n' });
      await sleep(600); // > 300 ms period + 100 ms grace + 30 ms (period/10)
      const bad = await get('/healthz');
      expect(bad.status).toBe(500);
      expect(bad.body).toMatch(/^firewall: no successful sync for \d+(\.\d)?s \(allowed 0\.4s: period 0\.3s \+ grace 0\.1s\)$/m);
      expect(bad.body).not.toContain('router');

      const json = JSON.parse((await get('/healthz/json')).body) as HealthStatus;
      expect(json.healthy).toBe(false);
      const byName = Object.fromEntries(json.controllers.map((c) => [c.name, c]));
      expect(byName.firewall!.healthy).toBe(false);
      expect(byName.router!.healthy).toBe(true);
      expect(byName.router!.periodMs).toBe(300);
      expect(Date.parse(byName.router!.lastSync!)).toBeGreaterThan(Date.now() - 1000);

      monitor.beat('firewall');
      expect(await get('/healthz')).toEqual({ status: 200, body: 'OK\n' });
    } finally {
      clearInterval(keepRouterAlive);
    }
  });

  it('fails for a controller that reports a problem until its next beat', async () => {
    monitor = new HealthMonitor();
    endpoint = await startHealthServer({ monitor, addr: '127.0.0.1', port: await freePort() });
    monitor.register('router', 60_000);
    monitor.problem('router', 'node lab-node-1 has no pod CIDR', 'KRT_ROUTER_NO_POD_CIDR');
    const bad = await get('/healthz');
    const json = JSON.parse((await get('/healthz/json')).body) as { controllers: { name: string; code: string | null }[] };
    expect(json.controllers.find((c) => c.name === 'router')?.code).toBe('KRT_ROUTER_NO_POD_CIDR');
    expect(bad).toEqual({ status: 500, body: 'unhealthy\nrouter: problem: node lab-node-1 has no pod CIDR\n' });
    const verbose = await get('/healthz?verbose');
    expect(verbose.body).toBe('[-]router failed: problem: node lab-node-1 has no pod CIDR\nhealthz check failed\n');
    monitor.beat('router');
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/healthz?verbose')).body).toMatch(/^\[\+\]router ok \(last sync 0s ago\)\nhealthz check passed\n$/);
    const ok = JSON.parse((await get('/healthz/json')).body) as { controllers: { name: string; code: string | null }[] };
    expect(ok.controllers.find((c) => c.name === 'router')?.code).toBe(null);
    expect((await get('/nope')).status).toBe(404);
  });

  it('reports a degraded controller with its code while still answering 200, until cleared', async () => {
    monitor = new HealthMonitor();
    endpoint = await startHealthServer({ monitor, addr: '127.0.0.1', port: await freePort() });
    monitor.register('router', 60_000);
    monitor.beat('router');
    monitor.degraded('router', 'own Node object missing', 'KRT_ROUTER_OWN_NODE_MISSING');
    expect(await get('/healthz')).toEqual({ status: 200, body: 'OK (degraded)\nrouter: degraded: own Node object missing [KRT_ROUTER_OWN_NODE_MISSING]\n' });
    const json = JSON.parse((await get('/healthz/json')).body) as HealthStatus;
    expect(json).toMatchObject({ healthy: true, degraded: true });
    expect(json.controllers[0]).toMatchObject({ healthy: true, degraded: 'own Node object missing', code: 'KRT_ROUTER_OWN_NODE_MISSING' });
    monitor.beat('router'); // a beat does not clear it: the held state is still held
    expect((await get('/healthz?verbose')).body).toContain('degraded: own Node object missing [KRT_ROUTER_OWN_NODE_MISSING]');
    monitor.problem('router', 'broken', 'KRT_ROUTER_NO_POD_CIDR');
    expect((await get('/healthz')).status).toBe(500);
    monitor.beat('router');
    monitor.degraded('router', undefined);
    expect(await get('/healthz')).toEqual({ status: 200, body: 'OK\n' });
    expect(JSON.parse((await get('/healthz/json')).body)).toMatchObject({ healthy: true, degraded: false });
  });

  it('gives a controller its start-up allowance before the first beat', async () => {
    monitor = new HealthMonitor({ graceMs: 50, startupGraceMs: 300 });
    endpoint = await startHealthServer({ monitor, addr: '127.0.0.1', port: await freePort() });
    monitor.register('firewall', 100);
    await sleep(200);
    expect((await get('/healthz')).status).toBe(200);
    await sleep(350);
    const bad = await get('/healthz');
    expect(bad.status).toBe(500);
    expect(bad.body).toContain('firewall: no successful sync since it started');
  });
});

describe('health without HTTP (--health-port=0)', () => {
  it('serves nothing but still logs missed beats and recoveries', async () => {
    const sink = new MemoryLog();
    monitor = new HealthMonitor({ graceMs: 20, startupGraceMs: 0, checkIntervalMs: 25, log: createLogger({ verbosity: 0, destination: sink }) });
    expect(await startHealthServer({ monitor, addr: '', port: 0 })).toBeUndefined();
    monitor.register('firewall', 50);
    monitor.beat('firewall');
    monitor.start();
    await sleep(250);
    monitor.beat('firewall');
    await sleep(40);
    const msgs = sink.lines.map((l) => `${l.level} ${l.controller} ${l.msg}`);
    expect(msgs.filter((m) => m === 'warn firewall controller failed its health check')).toHaveLength(1);
    expect(msgs).toContain('info firewall controller is healthy again');
    expect(sink.lines.find((l) => l.msg === 'controller failed its health check')?.reason).toMatch(/no successful sync for/);
  });
});
