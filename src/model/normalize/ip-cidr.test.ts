import { describe, expect, it } from 'vitest';
import {
  canonicalCIDR,
  cidrContains,
  cidrContainsIP,
  cidrSize,
  firstFreeSubnet,
  firstHost,
  formatCIDR,
  hostPrefix,
  networkOf,
  nthSubnet,
  parseCIDR,
  parseCIDROrIP,
  sameCIDR,
} from './cidr.js';
import { bigIntToIP, canonicalIP, formatIP, GO_ADDRESSES, ipFamily, ipToBigInt, parseIP } from './ip.js';

// Go's net.ParseIP / ParseCIDR syntax with hextet spelling of mapped addresses, as the CLI uses it.
const GO = { strict: true, dottedMapped: false } as const;

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

describe('strict (Go net.ParseIP) syntax and text style', () => {
  it('rejects leading zeros only when strict', () => {
    expect(canonicalIP('010.0.0.1', GO)).toBeUndefined();
    expect(canonicalIP('::ffff:010.0.0.1', GO)).toBeUndefined();
    expect(canonicalIP('0.0.0.0', GO)).toBe('0.0.0.0');
    expect(canonicalCIDR('10.0.0.0/08', GO)).toBeUndefined();
    expect(canonicalCIDR('10.0.0.0/08')).toBe('10.0.0.0/8');
    expect(canonicalCIDR('010.0.0.0/8', GO)).toBeUndefined();
    expect(canonicalCIDR('10.0.0.0/0', GO)).toBe('0.0.0.0/0');
    expect(ipFamily('010.1.1.1', GO)).toBeUndefined();
    expect(ipFamily('010.1.1.1')).toBe(4);
  });

  it('spells IPv4-mapped addresses in hextets when asked', () => {
    expect(canonicalIP('::ffff:10.0.0.1', GO)).toBe('::ffff:a00:1');
    expect(canonicalIP('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
    expect(canonicalCIDR('::ffff:10.0.0.1/128', GO)).toBe('::ffff:a00:1/128');
    const c = parseCIDR('::ffff:10.1.2.3/120')!;
    expect(c.text).toBe('::ffff:10.1.2.0/120');
    expect(formatCIDR(c, { dottedMapped: false })).toBe('::ffff:a01:200/120');
  });
});

describe('host prefixes, networks and equality', () => {
  it('reads a bare address as its host prefix only in parseCIDROrIP', () => {
    expect(parseCIDROrIP('10.1.2.3')?.text).toBe('10.1.2.3/32');
    expect(parseCIDROrIP('FD00::1')?.text).toBe('fd00::1/128');
    expect(parseCIDROrIP('10.1.2.3/8')?.text).toBe('10.0.0.0/8');
    expect(parseCIDROrIP('10.1.2')).toBeUndefined();
    expect(parseCIDROrIP('1.2.3.4::')).toBeUndefined();
    expect(parseCIDROrIP(undefined)).toBeUndefined();
    expect(parseCIDR('10.1.2.3')).toBeUndefined();
  });

  it('computes the network around an address', () => {
    expect(networkOf('10.244.1.77', 24)?.text).toBe('10.244.1.0/24');
    expect(networkOf('10.244.1.77', 0)?.text).toBe('0.0.0.0/0');
    expect(networkOf('fd00:1:2:3::9', 48)?.text).toBe('fd00:1:2::/48');
    expect(networkOf('10.244.1.77', 33)).toBeUndefined();
    expect(networkOf('10.244.1.77', 1.5)).toBeUndefined();
    expect(networkOf('bogus', 8)).toBeUndefined();
  });

  it('compares networks by family, length and bits', () => {
    const p = (s: string) => parseCIDR(s)!;
    expect(sameCIDR(p('10.1.0.0/16'), p('10.1.9.9/16'))).toBe(true);
    expect(sameCIDR(p('10.1.0.0/16'), p('10.1.0.0/17'))).toBe(false);
    expect(sameCIDR(p('10.1.0.0/16'), p('10.2.0.0/16'))).toBe(false);
    expect(sameCIDR(p('0.0.0.0/0'), p('::/0'))).toBe(false);
  });

  it('tests containment of an address given the CIDR as text', () => {
    expect(cidrContainsIP('10.244.1.0/24', '10.244.1.9')).toBe(true);
    expect(cidrContainsIP('10.244.1.0/24', '10.244.2.9')).toBe(false);
    expect(cidrContainsIP('not-a-cidr', '10.244.2.9')).toBe(false);
    expect(cidrContainsIP('10.244.1.0/24', 'bogus')).toBe(false);
  });
});

describe('subnet allocation', () => {
  it('enumerates the subnets of a range in order', () => {
    expect(nthSubnet('10.244.0.0/16', 24, 0)).toBe('10.244.0.0/24');
    expect(nthSubnet('10.244.0.0/16', 24, 2)).toBe('10.244.2.0/24');
    expect(nthSubnet('10.244.0.0/16', 24, 255)).toBe('10.244.255.0/24');
    expect(nthSubnet('10.244.0.0/16', 24, 256)).toBeUndefined();
    expect(nthSubnet('10.244.0.0/16', 24, -1)).toBeUndefined();
    expect(nthSubnet('10.244.7.7/16', 16, 0)).toBe('10.244.0.0/16');
    expect(nthSubnet('0.0.0.0/0', 1, 1)).toBe('128.0.0.0/1');
    expect(nthSubnet('fd00:10::/48', 64, 3)).toBe('fd00:10:0:3::/64');
    expect(nthSubnet('fd00:10::/48', 64, 65536)).toBeUndefined();
  });

  it('throws for a range or mask size that is a configuration error', () => {
    expect(() => nthSubnet('10.244.0.0', 24, 0)).toThrow('bad CIDR 10.244.0.0');
    expect(() => nthSubnet('10.244.0.0/16', 8, 0)).toThrow('mask size 8 does not fit in 10.244.0.0/16');
    expect(() => nthSubnet('10.244.0.0/16', 33, 0)).toThrow('does not fit');
    expect(() => firstFreeSubnet('x', 24, new Set())).toThrow('bad CIDR');
  });

  it('allocates the lowest free subnet', () => {
    expect(firstFreeSubnet('10.244.0.0/16', 24, new Set())).toBe('10.244.0.0/24');
    expect(firstFreeSubnet('10.244.0.0/16', 24, new Set(['10.244.0.0/24', '10.244.2.0/24']))).toBe('10.244.1.0/24');
    expect(firstFreeSubnet('10.244.0.0/23', 24, new Set(['10.244.0.0/24', '10.244.1.0/24']))).toBeUndefined();
  });
});

describe('address arithmetic', () => {
  it('converts addresses to integers and back', () => {
    expect(ipToBigInt(parseIP('10.0.1.2')!)).toBe(0x0a000102n);
    expect(ipToBigInt(parseIP('255.255.255.255')!)).toBe(0xffffffffn);
    expect(ipToBigInt(parseIP('::ffff:10.0.0.1')!)).toBe(0xffff0a000001n);
    expect(ipToBigInt(parseIP('fd00::1')!)).toBe((0xfd00n << 112n) | 1n);
    expect(formatIP(bigIntToIP(0x0a000102n, 4)!)).toBe('10.0.1.2');
    expect(formatIP(bigIntToIP(0n, 6)!)).toBe('::');
    expect(formatIP(bigIntToIP((1n << 128n) - 1n, 6)!)).toBe('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
    expect(bigIntToIP(1n << 32n, 4)).toBeUndefined();
    expect(bigIntToIP(1n << 128n, 6)).toBeUndefined();
    expect(bigIntToIP(-1n, 4)).toBeUndefined();
  });

  it('gives the first host (network + 1) of a CIDR', () => {
    expect(firstHost('10.244.1.0/24')).toBe('10.244.1.1');
    expect(firstHost('10.244.1.77/24')).toBe('10.244.1.1');
    expect(firstHost('10.244.1.254/31')).toBe('10.244.1.255');
    expect(firstHost('10.255.255.255/8')).toBe('10.0.0.1');
    expect(firstHost('fd00:1::/64')).toBe('fd00:1::1');
    expect(firstHost('fd00:1:0:0:ffff::/64')).toBe('fd00:1::1');
    expect(firstHost('fd00:1:0:0:ffff::/80')).toBe('fd00:1::ffff:0:0:1');
    expect(firstHost('::ffff:10.0.0.0/104')).toBe('::ffff:10.0.0.1');
    expect(firstHost('::ffff:10.0.0.0/104', GO_ADDRESSES)).toBe('::ffff:a00:1');
    expect(firstHost(parseCIDR('192.168.0.0/16')!)).toBe('192.168.0.1');
    expect(firstHost('10.0.0.5/32')).toBeUndefined();
    expect(firstHost('fd00::5/128')).toBeUndefined();
    expect(firstHost('10.0.0.5')).toBeUndefined();
    expect(firstHost('010.0.0.0/8', GO_ADDRESSES)).toBeUndefined();
  });

  it('counts the addresses of a CIDR', () => {
    expect(cidrSize(parseCIDR('10.96.0.0/12')!)).toBe(1n << 20n);
    expect(cidrSize(parseCIDR('10.0.0.1/32')!)).toBe(1n);
    expect(cidrSize(parseCIDR('0.0.0.0/0')!)).toBe(1n << 32n);
    expect(cidrSize(parseCIDR('fd00::/64')!)).toBe(1n << 64n);
  });

  it('writes the host prefix of an address', () => {
    expect(hostPrefix('10.1.2.3')).toBe('10.1.2.3/32');
    expect(hostPrefix('FD00:0::1')).toBe('fd00::1/128');
    expect(hostPrefix('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1/128');
    expect(hostPrefix('::ffff:10.0.0.1', GO_ADDRESSES)).toBe('::ffff:a00:1/128');
    expect(hostPrefix('010.1.2.3')).toBe('10.1.2.3/32');
    expect(hostPrefix('010.1.2.3', GO_ADDRESSES)).toBeUndefined();
    expect(hostPrefix('10.1.2.0/24')).toBeUndefined();
    expect(hostPrefix('fe80::1%eth0')).toBeUndefined();
    expect(hostPrefix(undefined)).toBeUndefined();
  });

  it('tests containment of a parsed address', () => {
    expect(cidrContainsIP('10.0.0.0/8', parseIP('10.255.0.1')!)).toBe(true);
    expect(cidrContainsIP('10.0.0.0/8', parseIP('::ffff:10.0.0.1')!)).toBe(false);
    expect(cidrContainsIP('::ffff:0.0.0.0/96', parseIP('::ffff:10.0.0.1')!)).toBe(true);
  });
});
