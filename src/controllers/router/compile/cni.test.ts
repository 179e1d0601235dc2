import { describe, expect, it } from 'vitest';
import { buildCniConfig, requiredCniPlugins } from './cni.js';

const params = { podCidrs: ['10.244.1.0/24'], mtu: 1450, hairpinMode: true, portmap: true, listFormat: true };
type AnyJson = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('buildCniConfig', () => {
  it('builds a bridge + host-local + portmap conflist from nothing', () => {
    const c = buildCniConfig(undefined, params) as AnyJson;
    expect(c.plugins[0]).toMatchObject({ type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, hairpinMode: true, mtu: 1450 });
    expect(c.plugins[0].ipam).toEqual({ type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] });
    expect(c.plugins[1].type).toBe('portmap');
    expect(requiredCniPlugins(c)).toEqual(['bridge', 'host-local', 'loopback', 'portmap']);
  });
  it('keeps operator-added fields and plugins, replaces only what it owns', () => {
    const existing = {
      cniVersion: '0.4.0', name: 'mynet', operatorNote: 'keep me',
      plugins: [
        { type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, mtu: 9000, ipam: { type: 'host-local', subnet: '10.9.9.0/24', dataDir: '/var/lib/x' }, custom: 1 },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
      ],
    };
    const c = buildCniConfig(existing, { ...params, podCidrs: ['10.244.1.0/24', 'fd00:1::/64'], portmap: false }) as AnyJson;
    expect(c.operatorNote).toBe('keep me');
    expect(c.cniVersion).toBe('0.4.0');
    expect(c.name).toBe('mynet');
    expect(c.plugins[0].custom).toBe(1);
    expect(c.plugins[0].mtu).toBe(1450);
    expect(c.plugins[0].ipam).toEqual({ type: 'host-local', dataDir: '/var/lib/x', ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:1::/64' }]] });
    expect(c.plugins.map((p: AnyJson) => p.type)).toEqual(['bridge', 'bandwidth']);
    expect(existing.plugins[0]!.ipam!.subnet).toBe('10.9.9.0/24'); // input untouched
  });
  it('upgrades a single-plugin .conf to a list when writing a .conflist', () => {
    const c = buildCniConfig({ cniVersion: '0.3.1', name: 'k', type: 'bridge', bridge: 'kube-bridge', ipam: { type: 'host-local' } }, params) as AnyJson;
    expect(c.type).toBeUndefined();
    expect(c.plugins[0]).toMatchObject({ type: 'bridge', ipam: { ranges: [[{ subnet: '10.244.1.0/24' }]] } });
  });
  it('keeps the single-plugin format for a .conf file', () => {
    const c = buildCniConfig(undefined, { ...params, listFormat: false }) as AnyJson;
    expect(c.plugins).toBeUndefined();
    expect(c).toMatchObject({ type: 'bridge', bridge: 'kube-bridge', name: 'kubernetes' });
  });
  it('does not set mtu when 0', () => {
    const c = buildCniConfig(undefined, { ...params, mtu: 0 }) as AnyJson;
    expect(c.plugins[0].mtu).toBeUndefined();
  });
});
