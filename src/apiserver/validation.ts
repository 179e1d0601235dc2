// Shared field validators with the messages of k8s.io/apimachinery/pkg/util/validation, so a 422 from
// this server reads like one from kube-apiserver.
import type { FieldErrors } from './status.js';
import type { KubeObject } from './selectors.js';
// Addresses as Kubernetes 1.32 validation reads them: sloppy IPv4 (leading zeros are decimal), CIDRs whose
// host bits may be set: the shared parser's default syntax.
import { cidrContains, parseCIDR } from '../model/normalize/cidr.js';
import { parseIP } from '../model/normalize/ip.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export type NameRule = 'label' | 'subdomain' | 'dns1035';

export function nameProblem(name: string, rule: NameRule): string | undefined {
  if (rule === 'label') {
    if (name.length > 63) return 'must be no more than 63 characters';
    if (!DNS1123_LABEL.test(name))
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
  } else if (rule === 'dns1035') {
    if (name.length > 63) return 'must be no more than 63 characters';
    if (!DNS1035_LABEL.test(name))
      return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
  } else {
    if (name.length > 253) return 'must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(name))
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  }
  return undefined;
}

export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    if (!prefix) return 'prefix part must be non-empty';
    const p = nameProblem(prefix, 'subdomain');
    if (p) return `prefix part ${p}`;
    name = n;
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
  }
  if (!name) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name))
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  return undefined;
}

export function validateLabels(errs: FieldErrors, labels: unknown, field: string): void {
  if (labels === undefined || labels === null) return;
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    errs.invalid(field, labels, 'must be a map of string to string');
    return;
  }
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const p = qualifiedNameProblem(k);
    if (p) errs.invalid(field, k, p);
    if (typeof v !== 'string') errs.invalid(`${field}[${k}]`, v, 'must be a string');
    else if (v.length > 63 || !LABEL_VALUE.test(v))
      errs.invalid(
        field,
        v,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      );
  }
}

export function validateAnnotations(errs: FieldErrors, ann: unknown, field: string): void {
  if (ann === undefined || ann === null) return;
  if (typeof ann !== 'object' || Array.isArray(ann)) {
    errs.invalid(field, ann, 'must be a map of string to string');
    return;
  }
  let total = 0;
  for (const [k, v] of Object.entries(ann as Record<string, unknown>)) {
    const p = qualifiedNameProblem(k.toLowerCase());
    if (p) errs.invalid(field, k, p);
    if (typeof v !== 'string') errs.invalid(`${field}[${k}]`, v, 'must be a string');
    else total += k.length + v.length;
  }
  if (total > 256 * 1024) errs.invalid(field, '', 'must have at most 262144 bytes');
}

/** Structured metav1.LabelSelector, as used in NetworkPolicy and friends. */
export function validateLabelSelector(errs: FieldErrors, sel: unknown, field: string): void {
  if (sel === undefined || sel === null) return;
  if (typeof sel !== 'object' || Array.isArray(sel)) {
    errs.invalid(field, sel, 'must be an object');
    return;
  }
  const s = sel as KubeObject;
  validateLabels(errs, s.matchLabels, `${field}.matchLabels`);
  if (s.matchExpressions === undefined || s.matchExpressions === null) return;
  if (!Array.isArray(s.matchExpressions)) {
    errs.invalid(`${field}.matchExpressions`, s.matchExpressions, 'must be a list');
    return;
  }
  s.matchExpressions.forEach((e: KubeObject, i: number) => {
    const f = `${field}.matchExpressions[${i}]`;
    if (!e || typeof e !== 'object') return errs.invalid(f, e, 'must be an object');
    if (typeof e.key !== 'string' || !e.key) errs.required(`${f}.key`);
    else {
      const p = qualifiedNameProblem(e.key);
      if (p) errs.invalid(`${f}.key`, e.key, p);
    }
    const values = e.values ?? [];
    if (!Array.isArray(values)) return errs.invalid(`${f}.values`, values, 'must be a list');
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.required(`${f}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\'');
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.forbidden(`${f}.values`, 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\'');
        break;
      default:
        errs.notSupported(`${f}.operator`, e.operator, ['DoesNotExist', 'Exists', 'In', 'NotIn']);
    }
    values.forEach((v: unknown, j: number) => {
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
        errs.invalid(`${f}.values[${j}]`, v, 'a valid label must be an empty string or consist of alphanumeric characters');
    });
  });
}

export function validatePortNumber(errs: FieldErrors, v: unknown, field: string, required = true): void {
  if (v === undefined || v === null) {
    if (required) errs.required(field);
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
    errs.invalid(field, v, 'must be between 1 and 65535, inclusive');
}

export function portNameProblem(v: string): string | undefined {
  if (v.length > 15) return 'must be no more than 15 characters';
  if (!IANA_SVC_NAME.test(v)) return 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)';
  if (v.includes('--')) return 'must not contain consecutive hyphens';
  if (!/[a-z]/.test(v)) return 'must contain at least one letter (a-z)';
  return undefined;
}

/** An IntOrString port: a number in 1..65535 or an IANA service name. */
export function validateIntOrStringPort(errs: FieldErrors, v: unknown, field: string): void {
  if (typeof v === 'string') {
    const p = portNameProblem(v);
    if (p) errs.invalid(field, v, p);
  } else validatePortNumber(errs, v, field);
}

export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;

export function validateProtocol(errs: FieldErrors, v: unknown, field: string): void {
  if (v === undefined) return;
  if (!(PROTOCOLS as readonly unknown[]).includes(v)) errs.notSupported(field, v, PROTOCOLS);
}

export function validateCIDRWithExcept(errs: FieldErrors, block: KubeObject, field: string): void {
  if (typeof block.cidr !== 'string' || !block.cidr) return errs.required(`${field}.cidr`);
  const c = parseCIDR(block.cidr);
  if (!c) return errs.invalid(`${field}.cidr`, block.cidr, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)');
  if (block.except === undefined || block.except === null) return;
  if (!Array.isArray(block.except)) return errs.invalid(`${field}.except`, block.except, 'must be a list');
  block.except.forEach((ex: unknown, i: number) => {
    const f = `${field}.except[${i}]`;
    const e = typeof ex === 'string' ? parseCIDR(ex) : undefined;
    if (!e) return errs.invalid(f, ex, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)');
    if (!cidrContains(c, e) || c.prefix >= e.prefix)
      errs.invalid(f, ex, 'must be a strict subset of `cidr`');
  });
}

export function validateIP(errs: FieldErrors, v: unknown, field: string): boolean {
  if (typeof v !== 'string' || !parseIP(v)) {
    errs.invalid(field, v, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
    return false;
  }
  return true;
}

export function isObject(v: unknown): v is KubeObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
