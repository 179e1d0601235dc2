import { describe, expect, it } from 'vitest';
import type { Route } from '../../../bgp/api.js';
import { compileRoutes, tunnelName, type RouteInputs } from './routes.js';
import { diffRoutes } from '../apply/routes.js';

const r = (prefix: string, nextHop: string, peer: string | undefined = nextHop): Route => ({
  prefix, family: prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast', nextHop, ...(peer ? { peer } : {}), asPath: [], communities: [], stale: false,
});
const base: RouteInputs = {
  bestPaths: [], ownPrefixes: ['10.244.1.0/24'], nodeIPs: ['172.31.0.11'], localSubnets: ['172.31.0.0/24'],
  clusterNodeIPs: new Set(['172.31.0.11', '172.31.0.12', '172.31.5.13']), enableOverlay: true, overlayType: 'subnet',
  overlayEncap: 'ipip', overlayEncapPort: 5555, enableIpv4: true, enableIpv6: false,
};

describe('tunnelName', () => {
  it('is tun- plus 11 hex chars of sha256 of the address without dots', () => {
    // sha256("1723105") — computed independently with `printf 1723105 | sha256sum`.
    expect(tunnelName('172.31.0.5')).toBe('tun-a0d1b396969');
    expect(tunnelName('172.31.0.5')).toHaveLength(15);
    expect(tunnelName('fd00::1')).toMatch(/^tun-[0-9a-f]{11}$/);
  });
});

describe('compileRoutes', () => {
  it('same subnet: direct route via the node', () => {
    const p = compileRoutes({ ...base, bestPaths: [r('10.244.2.0/24', '172.31.0.12')] });
    expect(p.routes).toEqual([{ dst: '10.244.2.0/24', family: 4, via: '172.31.0.12' }]);
    expect(p.tunnels).toEqual([]);
  });
  it('other subnet with overlay subnet: ipip tunnel and a route over it', () => {
    const p = compileRoutes({ ...base, bestPaths: [r('10.244.3.0/24', '172.31.5.13')] });
    const name = tunnelName('172.31.5.13');
    expect(p.tunnels).toEqual([{ name, family: 4, local: '172.31.0.11', remote: '172.31.5.13', encap: 'ipip', encapPort: 5555 }]);
    expect(p.routes).toEqual([{ dst: '10.244.3.0/24', family: 4, dev: name, src: '172.31.0.11' }]);
  });
  it('overlay full tunnels even on the same subnet', () => {
    const p = compileRoutes({ ...base, overlayType: 'full', bestPaths: [r('10.244.2.0/24', '172.31.0.12')] });
    expect(p.routes[0]!.dev).toBe(tunnelName('172.31.0.12'));
  });
  it('other subnet without overlay: nothing, with a reason', () => {
    const p = compileRoutes({ ...base, enableOverlay: false, bestPaths: [r('10.244.3.0/24', '172.31.5.13')] });
    expect(p.routes).toEqual([]);
    expect(p.unroutable[0]!.reason).toContain('--enable-overlay');
  });
  it('never tunnels to a non-node next hop (a ToR), skips own, local and default routes', () => {
    const p = compileRoutes({ ...base, bestPaths: [r('192.0.2.0/24', '10.9.9.9'), r('10.244.1.0/24', '172.31.0.12'), r('10.244.9.0/24', '172.31.0.11', undefined), r('0.0.0.0/0', '172.31.0.1')] });
    expect(p.routes).toEqual([]);
    expect(p.tunnels).toEqual([]);
    expect(p.unroutable).toHaveLength(1);
  });
});

describe('diffRoutes', () => {
  const plan = compileRoutes({ ...base, bestPaths: [r('10.244.2.0/24', '172.31.0.12'), r('10.244.3.0/24', '172.31.5.13')] });
  const tun = tunnelName('172.31.5.13');
  it('adds tunnels before their routes, one batch', () => {
    const d = diffRoutes(plan, [], [], true);
    expect(d.commands).toEqual([
      `link add name ${tun} type ipip local 172.31.0.11 remote 172.31.5.13`, `link set ${tun} up`,
      'route replace 10.244.2.0/24 via 172.31.0.12 proto 17', `route replace 10.244.3.0/24 dev ${tun} src 172.31.0.11 proto 17`,
      `route replace 172.31.5.13/32 dev ${tun} table 77 proto 17`,
    ]);
  });
  it('is empty when the kernel already matches', () => {
    const d = diffRoutes(plan, [{ dst: '10.244.2.0/24', via: '172.31.0.12', dev: 'eth0' }, { dst: '10.244.3.0/24', dev: tun, src: '172.31.0.11' }], [{ name: tun, kind: 'ipip', local: '172.31.0.11', remote: '172.31.5.13' }], true, [{ dst: '172.31.5.13/32', dev: tun }]);
    expect(d.commands).toEqual([]);
  });
  it('removes stale routes and tunnels, but not while deletes are held', () => {
    const kernel = [{ dst: '10.244.7.0/24', via: '172.31.0.17' }];
    const tunnels = [{ name: 'tun-00000000000', kind: 'ipip', remote: '172.31.9.9' }];
    const empty = { routes: [], tunnels: [], unroutable: [] };
    expect(diffRoutes(empty, kernel, tunnels, true).commands).toEqual(['route del 10.244.7.0/24 proto 17', 'link del tun-00000000000']);
    expect(diffRoutes(empty, kernel, tunnels, false).commands).toEqual([]);
  });
  it('replaces a route whose next hop moved', () => {
    const d = diffRoutes(plan, [{ dst: '10.244.2.0/24', via: '172.31.0.99' }], [], false);
    expect(d.commands).toContain('route replace 10.244.2.0/24 via 172.31.0.12 proto 17');
  });
  it('policy table: each tunnel\'s remote node through the tunnel; stale entries go, held during graceful restart', () => {
    const stale = [{ dst: '172.31.9.9/32', dev: 'tun-00000000000' }];
    const d = diffRoutes(plan, [], [], true, stale);
    expect(d.commands.filter((c) => c.includes('table 77'))).toEqual([
      `route replace 172.31.5.13/32 dev ${tun} table 77 proto 17`, 'route del 172.31.9.9/32 table 77 proto 17',
    ]);
    expect(diffRoutes(plan, [], [], false, stale).commands).not.toContain('route del 172.31.9.9/32 table 77 proto 17');
  });
  it('a recreated tunnel gets its routes back in both tables', () => {
    const wrong = [{ name: tun, kind: 'ipip', local: '172.31.0.11', remote: '172.31.5.99' }];
    const d = diffRoutes(plan, [{ dst: '10.244.3.0/24', dev: tun, src: '172.31.0.11' }], wrong, true, [{ dst: '172.31.5.13/32', dev: tun }]);
    expect(d.commands).toContain(`link del ${tun}`);
    expect(d.commands).toContain(`route replace 10.244.3.0/24 dev ${tun} src 172.31.0.11 proto 17`);
    expect(d.commands).toContain(`route replace 172.31.5.13/32 dev ${tun} table 77 proto 17`);
  });
  it('fou encap adds the fou port and encap options', () => {
    const p = compileRoutes({ ...base, overlayEncap: 'fou', bestPaths: [r('10.244.3.0/24', '172.31.5.13')] });
    expect(diffRoutes(p, [], [], true).commands.slice(0, 2)).toEqual(['fou add port 5555 ipproto 4', `link add name ${tun} type ipip local 172.31.0.11 remote 172.31.5.13 encap fou encap-sport auto encap-dport 5555`]);
  });
});
