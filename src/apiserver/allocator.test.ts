import { describe, expect, it } from 'vitest';
import { ServiceAllocator } from './allocator.js';

const svc = (name: string, clusterIPs: string[]) => ({ metadata: { namespace: 'default', name }, spec: { clusterIPs } });

describe('ServiceAllocator addresses', () => {
  it('hands out IPv4 addresses from .2, skipping broadcast, and wraps around', () => {
    const a = new ServiceAllocator('10.96.0.0/29');
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ip = a.nextIP('IPv4')!;
      got.push(ip);
      a.record(svc(`s${i}`, [ip]));
    }
    // /29: .0 network, .1 for the `kubernetes` Service, .7 broadcast.
    expect(got).toEqual(['10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5', '10.96.0.6']);
    expect(a.nextIP('IPv4')).toBeUndefined();
    a.forget(svc('s1', ['10.96.0.3']));
    expect(a.nextIP('IPv4')).toBe('10.96.0.3');
  });

  it('hands out IPv6 addresses up to the last one and spells them canonically', () => {
    const a = new ServiceAllocator('10.96.0.0/12,fd00:10:96::fffe/126');
    expect(a.families()).toEqual(['IPv4', 'IPv6']);
    expect(a.nextIP('IPv6')).toBe('fd00:10:96::fffe');
    expect(a.nextIP('IPv6')).toBe('fd00:10:96::ffff');
  });

  it('keys addresses by canonical text, so another spelling of a taken IP is taken', () => {
    const a = new ServiceAllocator('10.96.0.0/12,fd00::/108');
    a.record(svc('x', ['10.96.0.10', 'FD00:0::a']));
    expect(a.ipProblem('010.096.000.010', 'default/y')).toBe('provided IP is already allocated');
    expect(a.ipProblem('fd00::A', 'default/y')).toBe('provided IP is already allocated');
    expect(a.ipProblem('10.96.0.10', 'default/x')).toBeUndefined();
    expect(a.ipProblem('10.96.0.11', 'default/y')).toBeUndefined();
  });

  it('explains an address outside the ranges or not an address', () => {
    const a = new ServiceAllocator('10.96.7.7/12,fd00::1/108');
    expect(a.ipProblem('192.168.0.1', 'default/y')).toBe(
      'the provided IP (192.168.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12,fd00::/108',
    );
    expect(a.ipProblem('::ffff:10.96.0.1', 'default/y')).toContain('not in the valid range');
    expect(a.ipProblem('fe80::1%eth0', 'default/y')).toBe('must be a valid IP address');
  });

  it('rejects bad ranges at construction', () => {
    expect(() => new ServiceAllocator('10.96.0.0')).toThrow('invalid service CIDR');
    expect(() => new ServiceAllocator('10.96.0.0/12,10.97.0.0/16')).toThrow('at most one IPv4 and one IPv6');
  });
});
