import { describe, expect, it } from 'vitest';
import type { RoutePlan } from '../compile/routes.js';
import { diffRoutes, parseRouteStateBatch, stateAfterApply, type KernelRouteState } from './routes.js';

// Lines as `ip -j -d -4 -batch -` prints them for `route show table all proto 17` then `link show`.
const routes = JSON.stringify([
  { type: 'unicast', dst: '10.244.2.0/24', gateway: '172.20.0.13', dev: 'eth0', table: 'main', protocol: '17' },
  { type: 'unicast', dst: '10.244.3.0/24', dev: 'tun-0123456789a', prefsrc: '172.20.0.11', table: 'main' },
  { type: 'unicast', dst: '172.20.1.12', dev: 'tun-0123456789a', table: '77' },
  { type: 'unicast', dst: '10.9.0.0/16', gateway: '172.20.0.1', dev: 'eth0', table: '200' },
]);
const links = JSON.stringify([
  { ifname: 'eth0', linkinfo: { info_kind: 'veth' } },
  { ifname: 'tun-0123456789a', linkinfo: { info_kind: 'ipip', info_data: { local: '172.20.0.11', remote: '172.20.1.12' } } },
]);

describe('parseRouteStateBatch', () => {
  it('splits one read into main-table routes, table-77 routes and links; other tables are not ours', () => {
    const got = parseRouteStateBatch(`${routes}\n${links}\n`, true);
    expect(got.routes).toEqual([
      { dst: '10.244.2.0/24', via: '172.20.0.13', dev: 'eth0' },
      { dst: '10.244.3.0/24', dev: 'tun-0123456789a', src: '172.20.0.11' },
    ]);
    expect(got.policyRoutes).toEqual([{ dst: '172.20.1.12/32', dev: 'tun-0123456789a' }]);
    expect(got.links.map((l) => l.ifname)).toEqual(['eth0', 'tun-0123456789a']);
  });
  it('reads empty lists and the second family without links', () => {
    expect(parseRouteStateBatch('[]\n[]\n', true)).toEqual({ routes: [], policyRoutes: [], links: [] });
    expect(parseRouteStateBatch('[]\n', false)).toEqual({ routes: [], policyRoutes: [], links: [] });
  });
  it('refuses output that is not one list per command (a failed line), so the sync retries instead of deleting', () => {
    expect(() => parseRouteStateBatch('[]\n', true)).toThrow(/expected 2 JSON lists, got 1/);
  });
});

describe('stateAfterApply', () => {
  const tun = { name: 'tun-0123456789a', family: 4 as const, local: '172.20.0.11', remote: '172.20.1.12', encap: 'ipip' as const, encapPort: 5555 };
  const plan: RoutePlan = {
    routes: [
      { dst: '10.244.2.0/24', family: 4, via: '172.20.0.13' },
      { dst: '10.244.3.0/24', family: 4, dev: 'tun-0123456789a', src: '172.20.0.11' },
    ],
    policyRoutes: [{ dst: '172.20.1.12/32', family: 4, dev: 'tun-0123456789a' }],
    tunnels: [tun],
    unroutable: [],
  };
  // As read from the kernel: one route of ours to drop, one to change, a tunnel that is not wanted.
  const parsed = parseRouteStateBatch(`${routes}\n${links}\n`, true);
  const before: KernelRouteState = {
    routes: [{ dst: '10.244.9.0/24', via: '172.20.0.19', dev: 'eth0' }, { dst: '10.244.2.0/24', via: '172.20.0.99', dev: 'eth0' }],
    policyRoutes: [],
    tunnels: [{ name: 'tun-ffffffffff0', kind: 'ipip', local: '172.20.0.11', remote: '172.20.9.9' }],
  };
  const apply = (p: RoutePlan, s: KernelRouteState, del = true) => diffRoutes(p, s.routes, s.tunnels, del, s.policyRoutes);

  it('leaves a state the same plan has nothing to do against, as a read after the apply would', () => {
    expect(apply(plan, before).commands.length).toBeGreaterThan(0);
    const after = stateAfterApply(plan, before, true)!;
    expect(apply(plan, after).commands).toEqual([]);
    // The kernel's own answer after such an apply (parsed) gives the same verdict.
    expect(apply(plan, { routes: parsed.routes, policyRoutes: parsed.policyRoutes, tunnels: after.tunnels }).commands).toEqual([]);
  });
  it('the next plan diffs against it as against that read: what changed is written, what went is deleted', () => {
    const after = stateAfterApply(plan, before, true)!;
    const next: RoutePlan = { ...plan, routes: [{ dst: '10.244.4.0/24', family: 4, via: '172.20.0.14' }, plan.routes[1]!] };
    expect(apply(next, after).commands).toEqual([
      'route replace 10.244.4.0/24 via 172.20.0.14 proto 17',
      'route del 10.244.2.0/24 proto 17',
    ]);
  });
  it('under a removal hold keeps what was not deleted', () => {
    const after = stateAfterApply(plan, before, false)!;
    expect(after.routes.map((r) => r.dst).sort()).toEqual(['10.244.2.0/24', '10.244.3.0/24', '10.244.9.0/24']);
    expect(after.tunnels.map((t) => t.name).sort()).toEqual(['tun-0123456789a', 'tun-ffffffffff0']);
    expect(apply(plan, after, true).commands).toEqual(['route del 10.244.9.0/24 proto 17', 'link del tun-ffffffffff0']);
  });
  it('gives up (the next sync reads) where a replace leaves an unknown result: two routes of ours to one prefix', () => {
    const dup = { ...before, routes: [...before.routes, { dst: '10.244.2.0/24', via: '172.20.0.98', dev: 'eth0' }] };
    expect(stateAfterApply(plan, dup, true)).toBeUndefined();
  });
});
