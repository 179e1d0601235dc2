import { describe, expect, it } from 'vitest';
import { testNode } from '../../../testing/router/memory-cluster.js';
import { resolvePodCidrs } from './pod-cidr.js';
import { canonicalCIDR, cidrContainsIP, firstHost } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../../model/normalize/ip.js';

const v4 = { enableIpv4: true, enableIpv6: false };

describe('resolvePodCidrs', () => {
  it('takes node.spec.podCIDRs', () => {
    const r = resolvePodCidrs(testNode('a', '10.0.0.1', ['10.244.1.0/24']), 'a', v4);
    expect(r).toMatchObject({ ok: true, cidrs: ['10.244.1.0/24'], source: 'spec' });
  });
  it('prefers the kube-router.io/pod-cidr annotation and canonicalises it', () => {
    const r = resolvePodCidrs(testNode('a', '10.0.0.1', ['10.244.1.0/24'], { 'kube-router.io/pod-cidr': '10.9.0.7/16' }), 'a', v4);
    expect(r).toMatchObject({ ok: true, cidrs: ['10.9.0.0/16'], source: 'annotation' });
  });
  it('reads dual-stack kube-router.io/pod-cidrs and keeps only enabled families', () => {
    const n = testNode('a', '10.0.0.1', [], { 'kube-router.io/pod-cidrs': '10.244.3.0/24, fd00:10:244:3::/64' });
    expect(resolvePodCidrs(n, 'a', v4)).toMatchObject({ ok: true, cidrs: ['10.244.3.0/24'] });
    expect(resolvePodCidrs(n, 'a', { enableIpv4: true, enableIpv6: true })).toMatchObject({ ok: true, cidrs: ['10.244.3.0/24', 'fd00:10:244:3::/64'] });
  });
  it('reports a missing CIDR with the fix, not a half config', () => {
    const r = resolvePodCidrs(testNode('mini', '10.0.0.1', []), 'mini', v4);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toContain('--allocate-node-cidrs');
    expect(r.reason).toContain('--cluster-cidr');
    expect(r.reason).toContain('kube-router.io/pod-cidr');
  });
  it('falls back to the spec and warns when the annotation is garbage', () => {
    const r = resolvePodCidrs(testNode('a', '10.0.0.1', ['10.244.1.0/24'], { 'kube-router.io/pod-cidr': 'banana' }), 'a', v4);
    expect(r).toMatchObject({ ok: true, cidrs: ['10.244.1.0/24'], source: 'spec' });
    expect(r.warnings[0]).toContain('banana');
  });
  it('reports an unknown node', () => {
    expect(resolvePodCidrs(undefined, 'ghost', v4)).toMatchObject({ ok: false });
  });
  it('needs an IPv6 CIDR when IPv6 is enabled', () => {
    const r = resolvePodCidrs(testNode('a', '10.0.0.1', ['10.244.1.0/24']), 'a', { enableIpv4: true, enableIpv6: true });
    expect(r.ok).toBe(false);
  });
});

describe('cidr helpers as routing uses them', () => {
  it('canonicalises and computes gateways', () => {
    expect(canonicalCIDR('fd00:0:0:0::5/64', GO_ADDRESSES)).toBe('fd00::/64');
    expect(canonicalCIDR('10.1.2.3/8', GO_ADDRESSES)).toBe('10.0.0.0/8');
    expect(canonicalCIDR('10.1.2.3/33', GO_ADDRESSES)).toBeUndefined();
    expect(firstHost('10.244.1.0/24', GO_ADDRESSES)).toBe('10.244.1.1');
    expect(firstHost('fd00:1::/64', GO_ADDRESSES)).toBe('fd00:1::1');
    expect(cidrContainsIP('172.31.0.0/24', '172.31.0.9')).toBe(true);
    expect(cidrContainsIP('172.31.0.0/24', '172.31.1.9')).toBe(false);
  });
  it('writes IPv4-mapped addresses in hextets, as the kernel routes are compared', () => {
    expect(canonicalCIDR('::ffff:10.244.0.0/120', GO_ADDRESSES)).toBe('::ffff:af4:0/120');
    expect(firstHost('::ffff:10.244.0.0/120', GO_ADDRESSES)).toBe('::ffff:af4:1');
  });
  it('rejects what Go net.ParseIP rejects (leading zeros, zones) in annotations', () => {
    const n = testNode('a', '10.0.0.1', ['10.244.1.0/24'], { 'kube-router.io/pod-cidr': '010.9.0.0/16,fe80::1%eth0/64' });
    const r = resolvePodCidrs(n, 'a', v4);
    expect(r).toMatchObject({ ok: true, cidrs: ['10.244.1.0/24'], source: 'spec' });
    expect(r.warnings[0]).toContain('010.9.0.0/16');
  });
});
