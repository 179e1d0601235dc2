// Turns the text of one flag occurrence into its typed value, or into the one-line reason it is wrong.
// All per-value rules live here (types, bounds, formats); rules across flags live in parse.ts.

import type { FlagSpec } from './flag-spec.js';
import { canonicalIP, GO_ADDRESSES, ipFamily } from '../model/normalize/ip.js';
import { canonicalCIDR } from '../model/normalize/cidr.js';
import { formatDuration, parseBool, parseDuration, parseInteger, parsePortRange, splitList } from './values.js';
import { KrtError } from '../observe/errors.js';

/** A rejected value; `expected` completes "invalid value "x" for --flag: expected ...". */
export class ValueError extends KrtError {
  constructor(
    readonly value: string,
    readonly expected: string,
  ) {
    super('KRT_VALUE_INVALID', `expected ${expected}`);
  }
}

/**
 * Address flags accept exactly what Go's net.ParseIP / net.ParseCIDR accept (so a kube-router command line
 * keeps working), and hand controllers one canonical spelling because they compare CIDRs as strings;
 * IPv4-mapped addresses have always come out in hextets (::ffff:a00:1).
 */
export const FLAG_ADDRESSES = GO_ADDRESSES;

const EXPECT = {
  bool: 'true or false',
  duration: 'a duration such as 90s, 5m or 1h30m',
  int: 'an integer',
  ip: 'an IP address such as 10.0.0.1 or fd00::1',
  cidr: 'a CIDR such as 10.96.0.0/12 or fd00:10:96::/112',
  port: 'a port number',
  'port-range': 'a port range such as 30000-32767 or 30000:32767',
} as const;

function rangeText(min: string | number | undefined, max: string | number | undefined): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  if (min !== undefined) return `of at least ${min}`;
  return `of at most ${max}`;
}

function durationValue(spec: FlagSpec, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new ValueError(text, EXPECT.duration);
  const min = spec.min === undefined ? 0 : parseDuration(String(spec.min))!;
  const max = spec.max === undefined ? Infinity : parseDuration(String(spec.max))!;
  if (ms < min || ms > max) {
    if (spec.min === undefined && spec.max === undefined) throw new ValueError(text, 'a non-negative duration such as 90s');
    const lo = spec.min === undefined ? '0s' : String(spec.min);
    throw new ValueError(text, spec.max === undefined ? `a duration of at least ${lo}` : `a duration from ${lo} to ${spec.max}`);
  }
  return ms;
}

function intValue(spec: FlagSpec, text: string, what: 'int' | 'port'): number {
  const min = typeof spec.min === 'number' ? spec.min : what === 'port' ? 0 : undefined;
  const max = typeof spec.max === 'number' ? spec.max : what === 'port' ? 65535 : undefined;
  const n = parseInteger(text);
  const noun = what === 'port' ? 'a port number' : 'an integer';
  const bounds = min === undefined && max === undefined ? '' : ` ${rangeText(min, max)}`;
  if (n === undefined || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new ValueError(text, `${noun}${bounds}`);
  }
  return n;
}

function ipValue(text: string): string {
  const ip = canonicalIP(text, FLAG_ADDRESSES);
  if (ip === undefined) throw new ValueError(text, EXPECT.ip);
  return ip;
}

function cidrValue(text: string): string {
  const c = canonicalCIDR(text, FLAG_ADDRESSES);
  if (c === undefined) throw new ValueError(text, EXPECT.cidr);
  return c;
}

/** Per-flag rules that a type and bounds cannot say (formats kube-router checks itself). */
function checkSpecific(spec: FlagSpec, value: unknown, text: string): void {
  switch (spec.name) {
    case 'router-id':
      if (value !== '' && value !== 'generate' && ipFamily(String(value), FLAG_ADDRESSES) !== 4) {
        throw new ValueError(text, 'an IPv4 address or "generate"');
      }
      break;
    case 'metrics-path':
      if (!String(value).startsWith('/')) throw new ValueError(text, 'an HTTP path starting with /');
      break;
    case 'cluster-asn': {
      // kube-router accepts only private ASNs for the cluster (RFC 6996), 0 meaning its default.
      const asn = value as number;
      if (asn !== 0 && !((asn >= 64512 && asn <= 65535) || (asn >= 4200000000 && asn <= 4294967294))) {
        throw new ValueError(text, 'a private AS number (64512-65535 or 4200000000-4294967294), or 0 for 64512');
      }
      break;
    }
    case 'peer-router-asns':
      for (const asn of value as number[]) {
        // AS_TRANS (RFC 6793) and the reserved blocks cannot be a real peer.
        if (asn === 23456 || asn === 65535 || (asn >= 65536 && asn <= 131071) || asn === 4294967295) {
          throw new ValueError(String(asn), 'a non-reserved AS number (not 23456, 65535, 65536-131071 or 4294967295)');
        }
      }
      break;
    case 'peer-router-passwords':
      for (const pw of value as string[]) {
        if (pw === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(pw) || pw.length % 4 !== 0) {
          throw new ValueError(pw, 'base64-encoded passwords, comma-separated');
        }
      }
      break;
  }
}

/** The typed value of a single occurrence; list flags get the items of this occurrence only. */
export function convertValue(spec: FlagSpec, text: string): unknown {
  let value: unknown;
  switch (spec.type) {
    case 'bool': {
      const b = parseBool(text);
      if (b === undefined) throw new ValueError(text, EXPECT.bool);
      value = b;
      break;
    }
    case 'string':
      value = text;
      break;
    case 'int':
      value = intValue(spec, text, 'int');
      break;
    case 'port':
      value = intValue(spec, text, 'port');
      break;
    case 'duration':
      value = durationValue(spec, text);
      break;
    case 'ip':
      value = text === '' ? '' : ipValue(text);
      break;
    case 'cidr':
      value = cidrValue(text);
      break;
    case 'port-range': {
      const r = parsePortRange(text);
      if (r === undefined) throw new ValueError(text, EXPECT['port-range']);
      value = r;
      break;
    }
    case 'enum':
      if (!spec.values?.includes(text)) throw new ValueError(text, `one of ${spec.values?.join(', ')}`);
      value = text;
      break;
    case 'cidr-list':
      value = listItems(text, (item) => cidrValue(item), 'CIDRs');
      break;
    case 'ip-list':
      value = listItems(text, (item) => ipValue(item), 'IP addresses');
      break;
    case 'string-list':
      value = splitList(text);
      break;
    case 'int-list':
      value = listItems(text, (item) => intValue(spec, item, 'int'), 'integers');
      break;
  }
  checkSpecific(spec, value, text);
  return value;
}

function listItems<T>(text: string, one: (item: string) => T, plural: string): T[] {
  return splitList(text).map((item) => {
    if (item === '') throw new ValueError(text, `comma-separated ${plural} without empty entries`);
    return one(item);
  });
}

/** What a value of this flag looks like, for "needs a value" messages. */
export function expectation(spec: FlagSpec): string {
  switch (spec.type) {
    case 'string':
      return 'expected a string';
    case 'enum':
      return `expected one of ${spec.values?.join(', ')}`;
    case 'cidr-list':
      return 'expected comma-separated CIDRs such as 10.96.0.0/12';
    case 'ip-list':
      return 'expected comma-separated IP addresses';
    case 'string-list':
      return 'expected comma-separated strings';
    case 'int-list':
      return 'expected comma-separated integers';
    default:
      return `expected ${EXPECT[spec.type]}`;
  }
}

/** Value for display in logs and the startup line. */
export function displayValue(spec: FlagSpec, value: unknown): string {
  if (spec.secret) return '<redacted>';
  if (spec.type === 'port-range') {
    const r = value as { from: number; to: number };
    return `${r.from}-${r.to}`;
  }
  if (spec.type === 'duration') return formatDuration(value as number);
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
