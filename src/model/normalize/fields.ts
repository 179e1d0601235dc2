import type { Labels, Protocol } from '../types.js';
import { canonicalIP } from './ip.js';
import { reject } from './result.js';

/**
 * Typed readers over loosely-typed input. Informers hand us either plain JSON (watch events) or client-node
 * model class instances (list results), so we only rely on own enumerable fields, never on prototypes.
 */
export type Raw = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An optional nested object: absent/null gives undefined, anything else but an object is rejected. */
export function optObject(v: unknown, path: string): Raw | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) reject('invalid_field', `${path}: expected an object, got ${describe(v)}`);
  return v;
}

export function optArray(v: unknown, path: string): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) reject('invalid_field', `${path}: expected an array, got ${describe(v)}`);
  return v;
}

export function optString(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') reject('invalid_field', `${path}: expected a string, got ${describe(v)}`);
  return v;
}

export function optBool(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') reject('invalid_field', `${path}: expected a boolean, got ${describe(v)}`);
  return v;
}

export function optInt(v: unknown, path: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    reject('invalid_field', `${path}: expected an integer in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    reject('invalid_field', `${path}: must be one of ${allowed.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

/** A string->string map (labels, annotations, selectors). Copied so the model never aliases input. */
export function labelMap(v: unknown, path: string): Labels {
  const o = optObject(v, path);
  if (!o) return {};
  const entries: [string, string][] = [];
  for (const [k, val] of Object.entries(o)) {
    if (typeof val !== 'string') reject('invalid_field', `${path}[${JSON.stringify(k)}]: expected a string value, got ${describe(val)}`);
    entries.push([k, val]);
  }
  // fromEntries defines own properties, so an odd key such as "__proto__" cannot touch the prototype.
  return Object.fromEntries(entries);
}

export interface Meta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly deleting: boolean;
}

/** Reads metadata; name is required, namespace too when `namespaced`. */
export function readMeta(raw: unknown, namespaced: boolean): Meta {
  if (!isObject(raw)) reject('not_object', `expected an object, got ${describe(raw)}`);
  const md = optObject(raw['metadata'], 'metadata');
  if (!md) reject('missing_metadata', 'metadata is missing');
  const name = md['name'];
  if (typeof name !== 'string' || name === '') reject('missing_metadata', 'metadata.name is missing or empty');
  const ns = md['namespace'];
  if (namespaced && (typeof ns !== 'string' || ns === '')) {
    reject('missing_metadata', `metadata.namespace is missing or empty (object ${name})`);
  }
  const del = md['deletionTimestamp'];
  return {
    name,
    namespace: namespaced ? (ns as string) : '',
    uid: optString(md['uid'], 'metadata.uid') ?? '',
    labels: labelMap(md['labels'], 'metadata.labels'),
    annotations: labelMap(md['annotations'], 'metadata.annotations'),
    deleting: del !== undefined && del !== null && del !== '',
  };
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** Protocol with the API default TCP. */
export function protocolOf(v: unknown, path: string): Protocol {
  if (v === undefined || v === null || v === '') return 'TCP';
  if (typeof v !== 'string' || !(PROTOCOLS as readonly string[]).includes(v)) {
    reject('invalid_protocol', `${path}: protocol must be TCP, UDP or SCTP, got ${describe(v)}`);
  }
  return v as Protocol;
}

/** A required port number 1..65535. */
export function portNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    reject('invalid_port', `${path}: port must be an integer in [1, 65535], got ${describe(v)}`);
  }
  return v;
}

/** An optional port where 0 or absent means "none" (hostPort, nodePort, healthCheckNodePort). */
export function optPort(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null || v === 0) return undefined;
  return portNumber(v, path);
}

/**
 * An IntOrString port: a number 1..65535, or a name. A decimal string is read as its number, because
 * client-side YAML often quotes numbers and the meaning is unambiguous.
 */
export function portOrName(v: unknown, path: string): number | string {
  if (typeof v === 'string') {
    if (/^[0-9]+$/.test(v)) return portNumber(Number(v), path);
    if (v === '' || v.length > 63 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(v)) {
      reject('invalid_port', `${path}: invalid port name ${describe(v)}`);
    }
    return v;
  }
  return portNumber(v, path);
}

/** A required IP address, canonicalized. */
export function ipAt(v: unknown, path: string): string {
  const ip = canonicalIP(v);
  if (ip === undefined) reject('invalid_ip', `${path}: invalid IP address ${describe(v)}`);
  return ip;
}

/** A list of IPs, canonicalized, duplicates removed (order kept). */
export function ipList(v: unknown, path: string): string[] {
  const out: string[] = [];
  optArray(v, path).forEach((item, i) => {
    const ip = ipAt(item, `${path}[${i}]`);
    if (!out.includes(ip)) out.push(ip);
  });
  return out;
}
