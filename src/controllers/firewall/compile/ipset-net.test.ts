import { describe, expect, it } from 'vitest';
import { parseCIDR } from '../../../model/normalize/cidr.js';
import { ipsetNet, splitZero } from './ipset-net.js';

describe('hash:net spellings', () => {
  const p = (s: string) => parseCIDR(s)!;

  it('prints host prefixes without a length, as ipset save does', () => {
    expect(ipsetNet(p('10.1.2.3/32'))).toBe('10.1.2.3');
    expect(ipsetNet(p('10.1.2.0/24'))).toBe('10.1.2.0/24');
    expect(ipsetNet(p('fd00::1/128'))).toBe('fd00::1');
    expect(ipsetNet(p('FD00::/64'))).toBe('fd00::/64');
    // The kernel prints IPv4-mapped nets with a dotted tail.
    expect(ipsetNet(p('::ffff:10.1.2.0/120'))).toBe('::ffff:10.1.2.0/120');
  });

  it('splits a /0 into the two halves of the address space and leaves others alone', () => {
    expect(splitZero(p('0.0.0.0/0')).map((n) => n.text)).toEqual(['0.0.0.0/1', '128.0.0.0/1']);
    expect(splitZero(p('::/0')).map((n) => n.text)).toEqual(['::/1', '8000::/1']);
    expect(splitZero(p('10.0.0.0/8')).map((n) => n.text)).toEqual(['10.0.0.0/8']);
  });
});
