import { describe, expect, it } from 'vitest';
import { proxyOptionsFrom } from '../controllers/proxy/options.js';
import { routerDefaults, routerOptionsFrom } from '../controllers/router/options.js';
import { defaultConfig, parseAgentArgs } from '../cli/parse.js';
import { configKey } from '../cli/flag-spec.js';
import { FLAGS } from '../cli/flags.js';

describe('flags -> router options', () => {
  it('kube-router defaults give the router its own defaults, with bridge hairpin on because the proxy runs', () => {
    expect(routerOptionsFrom(defaultConfig(), {})).toEqual({ ...routerDefaults({}, {}), hairpinMode: true });
    const noProxy = parseAgentArgs(['--run-service-proxy=false']);
    if (noProxy.kind !== 'run') throw new Error('no config');
    expect(routerOptionsFrom(noProxy.config, {})).toEqual(routerDefaults({}, {}));
  });

  it('takes every default from the flag table (the values kube-router has)', () => {
    expect(routerDefaults({}, {})).toMatchObject({
      clusterAsn: 0, nodesFullMesh: true, enableIbgp: true, enableOverlay: true, overlayType: 'subnet',
      overlayEncap: 'ipip', overlayEncapPort: 5555, advertisePodCidr: true, advertiseClusterIp: false,
      advertiseExternalIp: false, advertiseLoadbalancerIp: false, bgpGracefulRestart: false,
      bgpGracefulRestartTimeMs: 90_000, bgpGracefulRestartDeferralTimeMs: 360_000, bgpHoldtimeMs: 90_000,
      bgpPort: 179, peerRouterIps: [], peerRouterAsns: [], peerRouterPorts: [], peerRouterPasswords: [],
      peerRouterPasswordsFile: '', peerRouterMultihopTtl: 0, routerId: '', routesSyncPeriodMs: 300_000,
      injectedRoutesSyncPeriodMs: 60_000, enablePodEgress: true, autoMtu: true, mtu: 0, enableCni: true,
      hairpinMode: false, cniConfFile: '/etc/cni/net.d/10-kuberouter.conflist', cniBinDirs: ['/opt/cni/bin', '/usr/lib/cni'],
      cniPortmap: true, enableIpv4: true, enableIpv6: false, serviceClusterIpRange: ['10.96.0.0/12'],
      serviceExternalIpRange: [], loadbalancerIpRange: [],
    });
  });

  it('gives the router every router-owned flag of the table, so a new flag needs no second list', () => {
    const keys = FLAGS.filter((f) => f.owner === 'router').map((f) => configKey(f));
    expect(keys.length).toBeGreaterThan(30);
    for (const k of keys) expect(Object.keys(routerDefaults({}, {}))).toContain(k);
  });

  it('carries typed flag values through', () => {
    const out = parseAgentArgs([
      '--bgp-holdtime=30s',
      '--overlay-type=full',
      '--peer-router-ips=192.0.2.1',
      '--peer-router-asns=65001',
      '--service-cluster-ip-range=10.100.0.1/16',
    ]);
    if (out.kind !== 'run') throw new Error('no config');
    const o = routerOptionsFrom(out.config, { KUBE_ROUTER_CNI_CONF_FILE: '/tmp/x.conflist' });
    expect(o).toMatchObject({
      bgpHoldtimeMs: 30_000,
      overlayType: 'full',
      peerRouterIps: ['192.0.2.1'],
      peerRouterAsns: [65001],
      serviceClusterIpRange: ['10.100.0.0/16'],
      cniConfFile: '/tmp/x.conflist',
    });
  });
});

describe('flags -> proxy options', () => {
  it('gives the proxy every proxy-owned flag of the table and the shared ones, at kube-router defaults', () => {
    const o = proxyOptionsFrom(defaultConfig(), 'n1');
    for (const f of FLAGS.filter((x) => x.owner === 'proxy' && !('action' in x))) expect(Object.keys(o)).toContain(configKey(f));
    expect(o).toMatchObject({
      nodeName: 'n1', ipvsSyncPeriodMs: 300_000, ipvsGracefulTermination: false, ipvsGracefulPeriodMs: 30_000,
      masqueradeAll: false, nodeportBindonAllIp: false, excludedCidrs: [], strictExternalIpValidation: true,
      serviceTcpTimeoutMs: 0, serviceTcpfinTimeoutMs: 0, serviceUdpTimeoutMs: 0, hairpinMode: false,
      enableIpv4: true, enableIpv6: false, serviceExternalIpRange: [], loadbalancerIpRange: [],
      serviceNodePortRange: { from: 30000, to: 32767 },
    });
  });

  it('carries typed flag values through', () => {
    const out = parseAgentArgs(['--ipvs-graceful-termination', '--ipvs-graceful-period=5s', '--service-node-port-range=31000-31010', '--excluded-cidrs=10.1.0.0/16']);
    if (out.kind !== 'run') throw new Error('no config');
    expect(proxyOptionsFrom(out.config, 'n1')).toMatchObject({
      ipvsGracefulTermination: true,
      ipvsGracefulPeriodMs: 5_000,
      serviceNodePortRange: { from: 31000, to: 31010 },
      excludedCidrs: ['10.1.0.0/16'],
    });
  });
});
