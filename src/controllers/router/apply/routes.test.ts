import { describe, expect, it } from 'vitest';
import { parseRouteStateBatch } from './routes.js';

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
