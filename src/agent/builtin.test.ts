import { describe, expect, it } from 'vitest';
import { routerDefaults } from '../controllers/router/options.js';
import { defaultConfig, parseAgentArgs } from '../cli/parse.js';
import { routerOptionsFrom } from './builtin.js';

describe('flags -> router options', () => {
  it('kube-router defaults give the router its own defaults', () => {
    expect(routerOptionsFrom(defaultConfig(), {})).toEqual(routerDefaults({}, {}));
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
