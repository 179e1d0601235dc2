import { describe, expect, it } from 'vitest';
import { canonicalCIDR, cidrContains, cidrContainsIP, parseCIDR } from './cidr.js';
import { canonicalIP, ipFamily } from './ip.js';

describe('canonicalIP', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['010.000.000.001', '10.0.0.1'],
    ['255.255.255.255', '255.255.255.255'],
    ['0.0.0.0', '0.0.0.0'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['::ffff:a01:203', '::ffff:10.1.2.3'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['::1.2.3.4', '::102:304'],
  ])('%s -> %s', (input, want) => {
    expect(canonicalIP(input)).toBe(want);
  });

  it.each([
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4/32', '1.2.3.0x1', 'a.b.c.d',
    '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', '12345::', 'g::1', 'fe80::1%eth0', ':1::', '1:2:3:4:5:6:7:1.2.3.4',
    '1.2.3.4::', 'None', 1234, null, undefined, {},
  ])('rejects %j', (input) => {
    expect(canonicalIP(input)).toBeUndefined();
  });

  it('reports the family', () => {
    expect(ipFamily('10.1.1.1')).toBe(4);
    expect(ipFamily('fd00::1')).toBe(6);
    expect(ipFamily('::ffff:1.2.3.4')).toBe(6);
    expect(ipFamily('x')).toBeUndefined();
  });
});

describe('canonicalCIDR', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['10.1.2.3/32', '10.1.2.3/32'],
    ['192.168.1.129/25', '192.168.1.128/25'],
    ['192.168.1.255/23', '192.168.0.0/23'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['1.2.3.4/0', '0.0.0.0/0'],
    ['2001:DB8::1/64', '2001:db8::/64'],
    ['2001:db8:1:2:3:4:5:6/127', '2001:db8:1:2:3:4:5:6/127'],
    ['2001:db8:1:2:3:4:5:7/127', '2001:db8:1:2:3:4:5:6/127'],
    ['2001:db8:ffff::/20', '2001::/20'],
    ['::/0', '::/0'],
    ['fd00::1/128', 'fd00::1/128'],
  ])('%s -> %s', (input, want) => {
    expect(canonicalCIDR(input)).toBe(want);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/', '/8', '10.0.0.0/8/8', 'fd00::/129', '10.0.0.0/0x8', 'x/8', 7])(
    'rejects %j',
    (input) => {
      expect(canonicalCIDR(input)).toBeUndefined();
    },
  );

  it('tests containment per family and prefix', () => {
    const p = (s: string) => parseCIDR(s)!;
    expect(cidrContains(p('10.0.0.0/8'), p('10.1.0.0/16'))).toBe(true);
    expect(cidrContains(p('10.0.0.0/8'), p('10.0.0.0/8'))).toBe(true);
    expect(cidrContains(p('10.0.0.0/16'), p('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(p('10.0.0.0/8'), p('11.0.0.0/16'))).toBe(false);
    expect(cidrContains(p('0.0.0.0/0'), p('203.0.113.0/24'))).toBe(true);
    expect(cidrContains(p('::/0'), p('10.0.0.0/8'))).toBe(false);
    expect(cidrContains(p('2001:db8::/32'), p('2001:db8:5::/48'))).toBe(true);
    expect(cidrContains(p('2001:db8::/32'), p('2001:db9::/48'))).toBe(false);
    expect(cidrContainsIP(p('192.168.0.0/23'), '192.168.1.200')).toBe(true);
    expect(cidrContainsIP(p('192.168.0.0/23'), '192.168.2.1')).toBe(false);
    expect(cidrContainsIP(p('192.168.0.0/23'), 'fd00::1')).toBe(false);
  });
});
