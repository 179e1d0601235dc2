// NetworkPolicy, EndpointSlice, Lease and (accept-and-drop) Event strategies.
import type { ResourceDef } from '../resources.js';
import { AGE_COLUMN, NAME_COLUMN, age, col, formatSelector } from '../resources.js';
import type { KubeObject } from '../selectors.js';
import type { FieldErrors } from '../status.js';
import { parseIP } from '../../model/normalize/ip.js';
import {
  isObject, nameProblem, validateCIDRWithExcept, validateIntOrStringPort, validateLabelSelector, validatePortNumber,
  validateProtocol,
} from '../validation.js';

function eachRule(spec: KubeObject, fn: (rule: KubeObject, dir: 'ingress' | 'egress', i: number) => void): void {
  for (const dir of ['ingress', 'egress'] as const) {
    const rules: unknown = spec[dir];
    if (Array.isArray(rules)) rules.forEach((r, i) => isObject(r) && fn(r, dir, i));
  }
}

function validatePeers(errs: FieldErrors, peers: unknown, field: string): void {
  if (peers === undefined || peers === null) return;
  if (!Array.isArray(peers)) return errs.invalid(field, peers, 'must be a list');
  peers.forEach((p: unknown, i: number) => {
    const f = `${field}[${i}]`;
    if (!isObject(p)) return errs.invalid(f, p, 'must be an object');
    const kinds = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => p[k] !== undefined && p[k] !== null);
    if (kinds.length === 0) errs.required(f, 'must specify a peer');
    else if (p.ipBlock != null && kinds.length > 1) errs.forbidden(f, 'may not specify more than 1 peer type');
    validateLabelSelector(errs, p.podSelector, `${f}.podSelector`);
    validateLabelSelector(errs, p.namespaceSelector, `${f}.namespaceSelector`);
    if (p.ipBlock != null) {
      if (!isObject(p.ipBlock)) errs.invalid(`${f}.ipBlock`, p.ipBlock, 'must be an object');
      else validateCIDRWithExcept(errs, p.ipBlock, `${f}.ipBlock`);
    }
  });
}

function validatePolicyPorts(errs: FieldErrors, ports: unknown, field: string): void {
  if (ports === undefined || ports === null) return;
  if (!Array.isArray(ports)) return errs.invalid(field, ports, 'must be a list');
  ports.forEach((p: unknown, i: number) => {
    const f = `${field}[${i}]`;
    if (!isObject(p)) return errs.invalid(f, p, 'must be an object');
    validateProtocol(errs, p.protocol, `${f}.protocol`);
    if (p.port !== undefined && p.port !== null) validateIntOrStringPort(errs, p.port, `${f}.port`);
    if (p.endPort === undefined || p.endPort === null) return;
    if (p.port === undefined || p.port === null) return errs.required(`${f}.port`, 'must be specified when endPort is specified');
    if (typeof p.port !== 'number') return errs.forbidden(`${f}.endPort`, 'may not be specified when `port` is non-numeric');
    validatePortNumber(errs, p.endPort, `${f}.endPort`);
    if (typeof p.endPort === 'number' && p.endPort < p.port)
      errs.invalid(`${f}.endPort`, p.endPort, 'must be greater than or equal to `port`');
  });
}

export const networkpolicies: ResourceDef = {
  group: 'networking.k8s.io',
  version: 'v1',
  resource: 'networkpolicies',
  singular: 'networkpolicy',
  kind: 'NetworkPolicy',
  namespaced: true,
  shortNames: ['netpol'],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  defaults(obj) {
    obj.spec ??= {};
    const s = obj.spec;
    s.podSelector ??= {};
    eachRule(s, (r) => {
      if (Array.isArray(r.ports)) for (const p of r.ports) if (isObject(p)) p.protocol ??= 'TCP';
    });
    if (s.policyTypes === undefined || s.policyTypes === null || (Array.isArray(s.policyTypes) && s.policyTypes.length === 0)) {
      s.policyTypes = Array.isArray(s.egress) && s.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    }
  },
  validate(obj, errs) {
    const s = obj.spec;
    if (!isObject(s.podSelector)) errs.invalid('spec.podSelector', s.podSelector, 'must be an object');
    else validateLabelSelector(errs, s.podSelector, 'spec.podSelector');
    if (!Array.isArray(s.policyTypes)) errs.invalid('spec.policyTypes', s.policyTypes, 'must be a list');
    else {
      if (s.policyTypes.length > 2) errs.forbidden('spec.policyTypes', 'may not specify more than two policyTypes');
      const seen = new Set<unknown>();
      s.policyTypes.forEach((t: unknown, i: number) => {
        if (t !== 'Ingress' && t !== 'Egress') errs.notSupported(`spec.policyTypes[${i}]`, t, ['Egress', 'Ingress']);
        if (seen.has(t)) errs.duplicate(`spec.policyTypes[${i}]`, t);
        seen.add(t);
      });
    }
    for (const dir of ['ingress', 'egress']) {
      if (s[dir] !== undefined && s[dir] !== null && !Array.isArray(s[dir])) errs.invalid(`spec.${dir}`, s[dir], 'must be a list');
      else if (Array.isArray(s[dir])) s[dir].forEach((r: unknown, i: number) => !isObject(r) && errs.invalid(`spec.${dir}[${i}]`, r, 'must be an object'));
    }
    eachRule(s, (r, dir, i) => {
      validatePolicyPorts(errs, r.ports, `spec.${dir}[${i}].ports`);
      validatePeers(errs, dir === 'ingress' ? r.from : r.to, `spec.${dir}[${i}].${dir === 'ingress' ? 'from' : 'to'}`);
    });
  },
  columns: [NAME_COLUMN, col('Pod-Selector'), AGE_COLUMN],
  cells: (o, now) => {
    const sel = o.spec?.podSelector ?? {};
    const text = sel.matchExpressions?.length ? JSON.stringify(sel) : formatSelector(sel.matchLabels);
    return [o.metadata.name, text === '<none>' ? '<none>' : text, age(o.metadata.creationTimestamp, now)];
  },
};

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

export const endpointslices: ResourceDef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  resource: 'endpointslices',
  singular: 'endpointslice',
  kind: 'EndpointSlice',
  namespaced: true,
  shortNames: [],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  defaults(obj) {
    if (Array.isArray(obj.ports))
      for (const p of obj.ports) {
        if (!isObject(p)) continue;
        p.protocol ??= 'TCP';
        p.name ??= '';
      }
  },
  validate(obj, errs) {
    if (!ADDRESS_TYPES.includes(obj.addressType)) errs.notSupported('addressType', obj.addressType, ADDRESS_TYPES);
    const eps: unknown = obj.endpoints ?? [];
    if (!Array.isArray(eps)) errs.invalid('endpoints', eps, 'must be a list');
    else {
      if (eps.length > 1000) errs.invalid('endpoints', eps.length, 'must have at most 1000 items');
      eps.forEach((e: unknown, i: number) => {
        const f = `endpoints[${i}]`;
        if (!isObject(e)) return errs.invalid(f, e, 'must be an object');
        if (!Array.isArray(e.addresses) || e.addresses.length === 0) return errs.required(`${f}.addresses`);
        if (e.addresses.length > 100) errs.invalid(`${f}.addresses`, e.addresses.length, 'must have at most 100 items');
        e.addresses.forEach((a: unknown, j: number) => {
          const af = `${f}.addresses[${j}]`;
          if (typeof a !== 'string') return errs.invalid(af, a, 'must be a string');
          if (obj.addressType === 'FQDN') {
            if (nameProblem(a, 'subdomain')) errs.invalid(af, a, 'must be a valid FQDN');
            return;
          }
          const ip = parseIP(a);
          if (!ip || (ip.family === 4) !== (obj.addressType === 'IPv4')) errs.invalid(af, a, `must be a valid ${obj.addressType} address`);
        });
        if (e.conditions !== undefined && !isObject(e.conditions)) errs.invalid(`${f}.conditions`, e.conditions, 'must be an object');
      });
    }
    const ports: unknown = obj.ports ?? [];
    if (!Array.isArray(ports)) return errs.invalid('ports', ports, 'must be a list');
    if (ports.length > 20000) errs.invalid('ports', ports.length, 'must have at most 20000 items');
    const names = new Set<string>();
    ports.forEach((p: unknown, i: number) => {
      const f = `ports[${i}]`;
      if (!isObject(p)) return errs.invalid(f, p, 'must be an object');
      if (typeof p.name === 'string' && p.name) {
        const np = nameProblem(p.name, 'label');
        if (np) errs.invalid(`${f}.name`, p.name, np);
      }
      if (names.has(p.name)) errs.duplicate(`${f}.name`, p.name);
      names.add(p.name);
      validateProtocol(errs, p.protocol, `${f}.protocol`);
      if (p.port !== undefined && p.port !== null && (typeof p.port !== 'number' || !Number.isInteger(p.port) || p.port < 0 || p.port > 65535))
        errs.invalid(`${f}.port`, p.port, 'must be between 0 and 65535, inclusive');
    });
  },
  columns: [NAME_COLUMN, col('AddressType'), col('Ports'), col('Endpoints'), AGE_COLUMN],
  cells: (o, now) => {
    const ports = (o.ports ?? []).map((p: KubeObject) => String(p.port ?? '')).join(',') || '<unset>';
    const addrs: string[] = [];
    for (const e of o.endpoints ?? []) for (const a of e?.addresses ?? []) addrs.push(a);
    const shown = addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '');
    return [o.metadata.name, o.addressType ?? '', ports, shown || '<unset>', age(o.metadata.creationTimestamp, now)];
  },
};

export const leases: ResourceDef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  resource: 'leases',
  singular: 'lease',
  kind: 'Lease',
  namespaced: true,
  shortNames: [],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  validate(obj, errs) {
    const d = obj.spec?.leaseDurationSeconds;
    if (d !== undefined && d !== null && (typeof d !== 'number' || !Number.isInteger(d) || d <= 0))
      errs.invalid('spec.leaseDurationSeconds', d, 'must be greater than 0');
  },
  columns: [NAME_COLUMN, col('Holder'), AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, o.spec?.holderIdentity ?? '', age(o.metadata.creationTimestamp, now)],
};

export const events: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'events',
  singular: 'event',
  kind: 'Event',
  namespaced: true,
  shortNames: ['ev'],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  sink: true,
};
