import { describe, expect, it } from 'vitest';
import { canonicalIP } from '../model/normalize/ip.js';
import { canonicalCIDR, parseCIDR } from '../model/normalize/cidr.js';
import { FLAG_ADDRESSES } from './convert.js';
import { formatDuration, parseBool, parseDuration, parseInteger, parsePortRange, splitList } from './values.js';

describe('parseDuration (Go time.ParseDuration)', () => {
  it.each([
    ['0', 0],
    ['5m', 300_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1.s', 1000],
    ['1000ms', 1000],
    ['18h12m16s', 65_536_000],
    ['1h1m1s1ms', 3_661_001],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['-2s', -2000],
    ['+2s', 2000],
    ['0s', 0],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '5x', 's', '.s', '1h 30m', '5 m', '1d', 'h1', '--1s', 'abc', '1e3s', '10000000000h'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('formats like Go Duration.String()', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(300_000)).toBe('5m0s');
    expect(formatDuration(5_400_000)).toBe('1h30m0s');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(300)).toBe('300ms');
  });
});

describe('parseBool (strconv.ParseBool)', () => {
  it.each(['1', 't', 'T', 'TRUE', 'true', 'True'])('%s is true', (t) => expect(parseBool(t)).toBe(true));
  it.each(['0', 'f', 'F', 'FALSE', 'false', 'False'])('%s is false', (t) => expect(parseBool(t)).toBe(false));
  it.each(['yes', 'no', 'on', '', 'tRUE', '2'])('%j is rejected', (t) => expect(parseBool(t)).toBeUndefined());
});

describe('parseInteger (strconv.ParseInt base 0)', () => {
  it.each([
    ['0', 0],
    ['179', 179],
    ['-3', -3],
    ['0x10', 16],
    ['017', 15],
    ['0b101', 5],
    ['1_000', 1000],
    ['4294967295', 4294967295],
  ])('%s = %d', (t, n) => expect(parseInteger(t)).toBe(n));
  it.each(['', '1.5', '08', '1e3', ' 1', 'ten', '_1', '99999999999999999999'])('rejects %j', (t) =>
    expect(parseInteger(t)).toBeUndefined(),
  );
});

describe('parsePortRange', () => {
  it('accepts both separators', () => {
    expect(parsePortRange('30000-32767')).toEqual({ from: 30000, to: 32767 });
    expect(parsePortRange('30000:32767')).toEqual({ from: 30000, to: 32767 });
    expect(parsePortRange('80-80')).toEqual({ from: 80, to: 80 });
  });
  it.each(['30000', '0-100', '100-65536', '200-100', '1-2-3', 'a-b', '30000--32767', ''])('rejects %j', (t) =>
    expect(parsePortRange(t)).toBeUndefined(),
  );
});

describe('CIDRs and addresses', () => {
  it('canonicalizes as Go does (host bits cleared, RFC 5952 text)', () => {
    expect(canonicalCIDR('10.96.0.1/12', FLAG_ADDRESSES)).toBe('10.96.0.0/12');
    expect(canonicalCIDR('0.0.0.0/0', FLAG_ADDRESSES)).toBe('0.0.0.0/0');
    expect(canonicalCIDR('192.168.1.77/32', FLAG_ADDRESSES)).toBe('192.168.1.77/32');
    expect(canonicalCIDR('FD00:0:0:0:0:0:0:1/64', FLAG_ADDRESSES)).toBe('fd00::/64');
    expect(canonicalCIDR('2001:db8:0:0:1:0:0:1/128', FLAG_ADDRESSES)).toBe('2001:db8::1:0:0:1/128');
    expect(canonicalCIDR('fd00:10:96::ff/112', FLAG_ADDRESSES)).toBe('fd00:10:96::/112');
    expect(canonicalCIDR('::ffff:10.0.0.1/128', FLAG_ADDRESSES)).toBe('::ffff:a00:1/128');
    expect(parseCIDR('10.0.0.0/8', FLAG_ADDRESSES)?.family).toBe(4);
    expect(parseCIDR('::/0', FLAG_ADDRESSES)?.family).toBe(6);
  });
  it.each(['10.0.0.0', '10.0.0.0/33', '::/129', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0/8', '010.0.0.0/8', 'fe80::1%eth0/64', 'x/8', '/8'])(
    'rejects %j',
    (t) => expect(parseCIDR(t, FLAG_ADDRESSES)).toBeUndefined(),
  );
  it('canonical IPs', () => {
    expect(canonicalIP('10.0.0.1', FLAG_ADDRESSES)).toBe('10.0.0.1');
    expect(canonicalIP('2001:DB8::0:1', FLAG_ADDRESSES)).toBe('2001:db8::1');
    expect(canonicalIP('1:0:0:1:0:0:0:1', FLAG_ADDRESSES)).toBe('1:0:0:1::1');
    expect(canonicalIP('1:0:1:0:1:0:1:0', FLAG_ADDRESSES)).toBe('1:0:1:0:1:0:1:0');
    expect(canonicalIP('10.0.0.256', FLAG_ADDRESSES)).toBeUndefined();
    expect(canonicalIP('', FLAG_ADDRESSES)).toBeUndefined();
  });
  it('splits lists as pflag does', () => {
    expect(splitList('')).toEqual([]);
    expect(splitList('a, b ,c')).toEqual(['a', 'b', 'c']);
    expect(splitList('a,,b')).toEqual(['a', '', 'b']);
  });
});
