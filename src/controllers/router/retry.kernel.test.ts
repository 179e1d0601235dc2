// Retries: a failed kernel step is retried with backoff (SyncRunner for the full sync, the route worker's
// own backoff for routes) instead of waiting for the 10-minute periods these agents run with, and a failed
// apply leaves the previous kernel state in place. Failures are injected into node n1's commands; the
// assertions are on the kernel.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBgpNetwork } from '../../testing/router/memory-bgp.js';
import { TestClusterView, testNode } from '../../testing/router/memory-cluster.js';
import { startNodeAgent, type NodeAgent } from '../../testing/router/harness.js';
import { failingExec, type FaultyExec } from '../../testing/exec.js';
import { createUnderlay, deleteNetnsWithPrefix, nsRun, nsTry, routesProto17 } from '../../testing/router/netns.js';
import { waitFor } from '../../testing/wait.js';

const P = 'krt-rt2-r-';
const IP = { n1: '172.31.7.11', n2: '172.31.7.12', n3: '172.31.7.13' };
const cluster = new TestClusterView();
const net = new MemoryBgpNetwork();
const agents: NodeAgent[] = [];
const dirs: string[] = [];
const slow = { routesSyncPeriodMs: 600_000, injectedRoutesSyncPeriodMs: 600_000 };
const faults: FaultyExec[] = [];
// One fault per kind of step, each firing once: the bridge's `ip -batch` (at start), the ipset restore (armed
// by the second test) and the routes' `ip -force -batch` carrying n3's pod CIDR (third test).
let ipsetArmed = false;

function agent(name: string, wrap?: Parameters<typeof startNodeAgent>[0]['wrapExec']): NodeAgent {
  const cniDir = mkdtempSync(join(tmpdir(), `${P}${name}-`));
  dirs.push(cniDir);
  const a = startNodeAgent({ nodeName: name, netns: `${P}${name}`, cluster, speakerFactory: (o) => net.createSpeaker(o), opts: slow, cniDir, watchKernel: false, ...(wrap ? { wrapExec: wrap } : {}) });
  agents.push(a);
  return a;
}
const route = (ns: string, dst: string) => routesProto17(ns).find((r) => r.dst === dst);

beforeAll(() => {
  deleteNetnsWithPrefix(P);
  const ul = createUnderlay(P);
  for (const n of ['n1', 'n2', 'n3'] as const) ul.addNode(n, `${IP[n]}/24`);
  cluster.setNode(testNode('n1', IP.n1, ['10.246.1.0/24']));
  cluster.setNode(testNode('n2', IP.n2, ['10.246.2.0/24']));
});

afterAll(async () => {
  for (const a of agents) await a.controller.stop().catch(() => undefined);
  deleteNetnsWithPrefix(P);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('router retries failed steps with backoff', () => {
  it('a failed bridge setup fails the full sync, which is retried without waiting for the period', async () => {
    const a1 = agent('n1', (e) => {
      const bridge = failingExec(e, (cmd, args, input) => cmd === 'ip' && args.includes('-batch') && !args.includes('-force') && !!input?.includes('kube-bridge'));
      const ipset = failingExec(bridge, (cmd, args) => ipsetArmed && cmd === 'ipset' && args.includes('restore'));
      const routes = failingExec(ipset, (cmd, args, input) => cmd === 'ip' && args.includes('-force') && !!input?.includes('10.246.3.0/24'));
      faults.push(bridge, ipset, routes);
      return routes;
    });
    const a2 = agent('n2');
    const t0 = Date.now();
    await Promise.all([a1.controller.start(), a2.controller.start()]);
    // The first full sync failed (no bridge yet) and start() returned anyway.
    expect(faults[0]!.injected).toBe(1);
    await waitFor('kube-bridge on n1 after the retry', () => nsTry(`${P}n1`, 'ip', ['-br', 'addr', 'show', 'kube-bridge']).out.includes('10.246.1.1/24'), 10_000);
    expect((await waitFor('n1 route to n2 pods', () => route(`${P}n1`, '10.246.2.0/24'), 10_000)).gateway).toBe(IP.n2);
    // Far below the 600 s period: only a retry can have done it.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await a1.metrics.getSingleMetricAsString('kube_router_router_sync_errors_total')).toMatch(/step="bridge"\} 1/);
    await waitFor('n1 healthy again', () => a1.health.problem_ === undefined && a1.health.beats > 0);
  });

  it('a failed ipset update keeps the previous sets until the retry brings the new node in', async () => {
    expect(nsRun(`${P}n1`, 'ipset', ['list', 'kube-router-pod-subnets'])).toContain('10.246.2.0/24');
    ipsetArmed = true;
    cluster.setNode(testNode('n3', IP.n3, ['10.246.3.0/24']));
    await waitFor('the injected ipset failure', () => faults[1]!.injected === 1, 5000, 5);
    // Right after the failure: the old entries are all still there, the new one not yet.
    const during = nsRun(`${P}n1`, 'ipset', ['list', 'kube-router-pod-subnets']);
    expect(during).toContain('10.246.1.0/24');
    expect(during).toContain('10.246.2.0/24');
    expect(during).not.toContain('10.246.3.0/24');
    await waitFor('n3 pod CIDR in the set after the retry', () => nsRun(`${P}n1`, 'ipset', ['list', 'kube-router-pod-subnets']).includes('10.246.3.0/24'), 10_000);
  });

  it('a failed route install is retried at once with backoff, not at the next period or best-path change', async () => {
    // n3's agent advertises its pod CIDR; n1's first batch carrying it fails. Nothing else changes after
    // that (no cluster event, kernel watch off, 600 s periods): only the route worker's retry installs it.
    const a3 = agent('n3');
    const t0 = Date.now();
    await a3.controller.start();
    await waitFor('the injected route failure', () => faults[2]!.injected === 1, 10_000, 5);
    const r = await waitFor('n1 route to n3 pods after the retry', () => route(`${P}n1`, '10.246.3.0/24'), 10_000);
    expect(r.gateway).toBe(IP.n3);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await agents[0]!.metrics.getSingleMetricAsString('kube_router_router_sync_errors_total')).toMatch(/step="routes"\} 1/);
  });
});
