import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { IpvsServiceStats, IpvsStats } from '../../../dataplane/ipvs/types.js';
import { virtualServerKey, type VirtualServer } from '../compile/plan.js';
import { conntrackDeleteArgs } from './conntrack.js';
import { HealthCheckServers } from './health-server.js';
import { IpvsServiceMetrics, statsByKey } from './ipvs-stats.js';
import { chainRules, inputJump } from './vip-firewall.js';

describe('IPVS service metrics', () => {
  const stats = (conns: number, extra: Partial<IpvsStats> = {}): IpvsStats => ({ conns, inPkts: 80, outPkts: 64, inBytes: 5200, outBytes: 90120, cps: 2, inPps: 13, outPps: 11, inBps: 866, outBps: 15020, ...extra });
  const web: VirtualServer = { protocol: 'tcp', address: '10.96.0.10', port: 80, scheduler: 'rr', flags: [], realServers: [], service: { namespace: 'default', name: 'web', port: 'http', via: 'clusterIP' } };
  // A DSR address: IPVS knows it only by its mark; the plan knows the VIP, protocol and port it stands for.
  const dsr: VirtualServer = { ...web, fwmark: 4242, address: '192.0.2.20', realServers: [], service: { namespace: 'default', name: 'edge', port: 'http', via: 'externalIP' } };
  const kernel: IpvsServiceStats[] = [
    { service: { protocol: 'tcp', address: '10.96.0.10', port: 80 }, stats: stats(12) },
    { service: { protocol: 'udp', address: '10.96.0.10', port: 53 }, stats: stats(3) },
    { service: { fwmark: 4242, family: 4 }, stats: stats(7, { inBytes: 2 ** 40 }) },
    // Someone else's IPv6 fwmark service with the same mark: never ours (DSR marks IPv4 only).
    { service: { fwmark: 4242, family: 6 }, stats: stats(99) },
  ];

  it('keys statistics as the plan keys its servers, fwmark services by their mark', () => {
    const m = statsByKey(kernel);
    expect([...m.keys()]).toEqual(['tcp/10.96.0.10:80', 'udp/10.96.0.10:53', virtualServerKey(dsr)]);
    expect(m.get(virtualServerKey(dsr))?.conns).toBe(7);
  });

  it('exports them under kube-router names and labels, DSR services as the VIP they serve, read once per scrape', async () => {
    let reads = 0;
    const registry = new Registry();
    const plan = new Map([[virtualServerKey(web), web], [virtualServerKey(dsr), dsr]]);
    new IpvsServiceMetrics(registry, async () => (reads++, kernel), () => plan, (e) => { throw e; });
    const text = await registry.metrics();
    expect(text).toContain('kube_router_service_total_connections{svc_namespace="default",service_name="web",service_vip="10.96.0.10",protocol="tcp",port="80"} 12');
    expect(text).toContain('kube_router_service_bytes_out{svc_namespace="default",service_name="web",service_vip="10.96.0.10",protocol="tcp",port="80"} 90120');
    expect(text).toContain('kube_router_service_pps_in{svc_namespace="default",service_name="web",service_vip="10.96.0.10",protocol="tcp",port="80"} 13');
    expect(text).toContain('kube_router_service_total_connections{svc_namespace="default",service_name="edge",service_vip="192.0.2.20",protocol="tcp",port="80"} 7');
    expect(text).toContain(`kube_router_service_bytes_in{svc_namespace="default",service_name="edge",service_vip="192.0.2.20",protocol="tcp",port="80"} ${2 ** 40}`);
    expect(text).toContain('kube_router_service_cps{');
    expect(text).toContain('kube_router_service_bps_in{');
    // The UDP service is not in the plan: not exported.
    expect(text).not.toContain('protocol="udp"');
    expect(text).not.toContain(' 99\n');
    expect(reads).toBe(1);
  });
});

describe('VIP firewall rules', () => {
  it('accepts served ports and routing ICMP, then rejects the rest except the node addresses', () => {
    const r = chainRules(4);
    expect(r[0]).toContain('--match-set kube-router-svip-prt dst,dst');
    expect(r[0]).toMatch(/-j ACCEPT$/);
    expect(r.slice(1, 4).map((x) => /--icmp-type (\d+)/.exec(x)?.[1])).toEqual(['8', '11', '3']);
    expect(r[4]).toBe('-m set ! --match-set kube-router-local-ips dst -m comment --comment "reject all unexpected traffic to service IPs" -j REJECT --reject-with icmp-port-unreachable');
    expect(chainRules(6)[4]).toContain('inet6:kube-router-local-ips');
    expect(inputJump(4)).toBe('-m set --match-set kube-router-svip dst -m comment --comment "handle traffic to IPVS service IPs in custom chain" -j KUBE-ROUTER-SERVICES');
  });
});

describe('UDP conntrack flush', () => {
  it('matches one backend of one service: original destination VIP:port, replies from backend:port', () => {
    expect(conntrackDeleteArgs({ vip: '10.96.0.10', port: 53, address: '10.244.0.5', targetPort: 5353 })).toEqual([
      '-D', '-p', 'udp', '--orig-dst', '10.96.0.10', '--orig-port-dst', '53', '--reply-src', '10.244.0.5', '--reply-port-src', '5353',
    ]);
  });
});

describe('healthCheckNodePort servers', () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  it('answers as kube-proxy does: 200 with local endpoints, 503 without, and closes removed ports', async () => {
    const errors: string[] = [];
    const s = new HealthCheckServers({ host: '127.0.0.1', onError: (_p, e) => errors.push(e.message) });
    try {
      await s.sync(new Map([[port, { namespace: 'default', name: 'web', localEndpoints: 2 }]]));
      let r = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(r.headers.get('x-load-balancing-endpoint-weight')).toBe('2');
      expect(await r.json()).toEqual({ service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
      await s.sync(new Map([[port, { namespace: 'default', name: 'web', localEndpoints: 0 }]]));
      r = await fetch(`http://127.0.0.1:${port}/`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { localEndpoints: number }).localEndpoints).toBe(0);
      await s.sync(new Map([[port, { namespace: 'default', name: 'web', localEndpoints: 1 }]]));
      s.setHealthy(false);
      r = await fetch(`http://127.0.0.1:${port}/`);
      expect(r.status).toBe(503);
      expect(((await r.json()) as { serviceProxyHealthy: boolean }).serviceProxyHealthy).toBe(false);
      await s.sync(new Map());
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
      expect(errors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('kube-dummy-if addresses', () => {
  it("are the VIPs, never the link's own IPv6 link-local address (a restart used to fail deleting it)", async () => {
    const { parseAddrShow } = await import('./dummy-link.js');
    const show = [
      '5: kube-dummy-if    inet 10.96.0.10/32 scope global kube-dummy-if\\       valid_lft forever preferred_lft forever',
      '5: kube-dummy-if    inet6 fd00::10/128 scope global \\       valid_lft forever preferred_lft forever',
      '5: kube-dummy-if    inet6 fe80::8c1e:4ff:fe2b:1a7c/64 scope link \\       valid_lft forever preferred_lft forever',
    ].join('\n');
    expect(parseAddrShow(show)).toEqual(['10.96.0.10', 'fd00::10']);
  });
});
