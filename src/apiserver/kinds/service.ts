// core/v1 Service: defaults, validation and ClusterIP / NodePort allocation as the real REST storage does
// them, including carrying allocated values across PUTs that omit them (patchAllocatedValues).
import type { ResourceDef, StrategyContext } from '../resources.js';
import { AGE_COLUMN, NAME_COLUMN, age, col, formatSelector } from '../resources.js';
import type { KubeObject } from '../selectors.js';
import type { FieldErrors } from '../status.js';
import { ownerOf } from '../allocator.js';
import { parseIP } from '../../model/normalize/ip.js';
import {
  isObject, nameProblem, validateIP, validateIntOrStringPort, validateLabels, validatePortNumber, validateProtocol,
} from '../validation.js';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function needsNodePorts(s: KubeObject): boolean {
  return s.type === 'NodePort' || (s.type === 'LoadBalancer' && s.allocateLoadBalancerNodePorts !== false);
}

function defaults(obj: KubeObject, ctx: StrategyContext): void {
  obj.spec ??= {};
  const s = obj.spec;
  // Go defaulting treats "" like absent for these enum-ish strings.
  for (const k of ['type', 'sessionAffinity', 'internalTrafficPolicy', 'externalTrafficPolicy', 'ipFamilyPolicy', 'clusterIP'])
    if (s[k] === '' || s[k] === null) delete s[k];
  s.type ??= 'ClusterIP';
  s.sessionAffinity ??= 'None';
  if (Array.isArray(s.ports))
    for (const p of s.ports) {
      if (!isObject(p)) continue;
      p.protocol ??= 'TCP';
      if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
    }
  if (s.type === 'ExternalName') return;
  s.internalTrafficPolicy ??= 'Cluster';
  if (s.type === 'NodePort' || s.type === 'LoadBalancer') s.externalTrafficPolicy ??= 'Cluster';
  if (s.type === 'LoadBalancer') s.allocateLoadBalancerNodePorts ??= true;
  s.ipFamilyPolicy ??= 'SingleStack';
  if (!Array.isArray(s.ipFamilies) || s.ipFamilies.length === 0) {
    const fams = ctx.alloc.families();
    // The families of the requested cluster IPs, in their order (clusterIPs wins over clusterIP).
    const asked = (Array.isArray(s.clusterIPs) && s.clusterIPs.length ? s.clusterIPs : [s.clusterIP])
      .map((ip: unknown) => (typeof ip === 'string' ? parseIP(ip) : undefined))
      .filter((p: ReturnType<typeof parseIP>) => p !== undefined)
      .map((p: NonNullable<ReturnType<typeof parseIP>>) => (p.family === 4 ? 'IPv4' : 'IPv6'));
    const primary = asked[0] ?? fams[0]!;
    s.ipFamilies = asked.length === 2
      ? asked
      : s.ipFamilyPolicy !== 'SingleStack' && fams.length === 2 ? [primary, fams.find((f) => f !== primary)!] : [primary];
  }
}

function validate(obj: KubeObject, errs: FieldErrors, old: KubeObject | undefined, ctx: StrategyContext): void {
  const s = obj.spec;
  if (!TYPES.includes(s.type)) return errs.notSupported('spec.type', s.type, TYPES);
  const external = s.type === 'ExternalName';
  if (external) {
    if (typeof s.externalName !== 'string' || !s.externalName) errs.required('spec.externalName');
    else if (nameProblem(s.externalName.replace(/\.$/, ''), 'subdomain')) errs.invalid('spec.externalName', s.externalName, 'must be a valid DNS name');
  }
  if (!['None', 'ClientIP'].includes(s.sessionAffinity)) errs.notSupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']);
  if (s.internalTrafficPolicy !== undefined && !['Cluster', 'Local'].includes(s.internalTrafficPolicy))
    errs.notSupported('spec.internalTrafficPolicy', s.internalTrafficPolicy, ['Cluster', 'Local']);
  if (s.externalTrafficPolicy !== undefined) {
    if (s.type !== 'NodePort' && s.type !== 'LoadBalancer')
      errs.invalid('spec.externalTrafficPolicy', s.externalTrafficPolicy, 'may only be set for externally-accessible services');
    else if (!['Cluster', 'Local'].includes(s.externalTrafficPolicy))
      errs.notSupported('spec.externalTrafficPolicy', s.externalTrafficPolicy, ['Cluster', 'Local']);
  }
  validateLabels(errs, s.selector, 'spec.selector');
  const headless = s.clusterIP === 'None';
  const ports: unknown = s.ports ?? [];
  if (!Array.isArray(ports)) errs.invalid('spec.ports', ports, 'must be a list');
  else {
    if (ports.length === 0 && !external && !headless) errs.required('spec.ports');
    const names = new Set<string>();
    const keys = new Set<string>();
    ports.forEach((p: KubeObject, i: number) => {
      const f = `spec.ports[${i}]`;
      if (!isObject(p)) return errs.invalid(f, p, 'must be an object');
      if (ports.length > 1 && !p.name) errs.required(`${f}.name`);
      if (typeof p.name === 'string' && p.name) {
        const np = nameProblem(p.name, 'label');
        if (np) errs.invalid(`${f}.name`, p.name, np);
        if (names.has(p.name)) errs.duplicate(`${f}.name`, p.name);
        names.add(p.name);
      }
      validatePortNumber(errs, p.port, `${f}.port`);
      validateProtocol(errs, p.protocol, `${f}.protocol`);
      validateIntOrStringPort(errs, p.targetPort, `${f}.targetPort`);
      const key = `${p.port}/${p.protocol}`;
      if (keys.has(key)) errs.duplicate(f, { port: p.port, protocol: p.protocol });
      keys.add(key);
      if (p.nodePort !== undefined && p.nodePort !== 0) {
        if (!needsNodePorts(s) && s.type !== 'LoadBalancer')
          errs.forbidden(`${f}.nodePort`, `may not be used when \`type\` is '${s.type}'`);
        else validatePortNumber(errs, p.nodePort, `${f}.nodePort`);
      }
    });
  }
  if (Array.isArray(s.externalIPs)) s.externalIPs.forEach((ip: unknown, i: number) => validateIP(errs, ip, `spec.externalIPs[${i}]`));
  if (s.loadBalancerIP) validateIP(errs, s.loadBalancerIP, 'spec.loadBalancerIP');
  if (external) {
    if (s.clusterIP && s.clusterIP !== 'None' && s.clusterIP !== '')
      errs.forbidden('spec.clusterIP', 'may not be set for ExternalName services');
  } else {
    if (!['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(s.ipFamilyPolicy))
      errs.notSupported('spec.ipFamilyPolicy', s.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']);
    if (s.ipFamilyPolicy === 'RequireDualStack' && ctx.alloc.families().length < 2)
      errs.invalid('spec.ipFamilyPolicy', s.ipFamilyPolicy, 'this cluster is not configured for dual-stack services');
    const families = s.ipFamilies as unknown[];
    families.forEach((f, i) => {
      if (f !== 'IPv4' && f !== 'IPv6') errs.notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']);
      else if (families.indexOf(f) !== i) errs.duplicate(`spec.ipFamilies[${i}]`, f);
      else if (!ctx.alloc.cidrFor(f)) errs.invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster');
    });
    if (families.length > 2) errs.invalid('spec.ipFamilies', families, 'may specify no more than 2 values');
    if (families.length > 1 && s.ipFamilyPolicy === 'SingleStack')
      errs.invalid('spec.ipFamilyPolicy', s.ipFamilyPolicy, "must be RequireDualStack or PreferDualStack when multiple 'ipFamilies' are specified");
    // Each requested cluster IP is of the family at its index.
    const ips: unknown[] = Array.isArray(s.clusterIPs) ? s.clusterIPs : [];
    ips.forEach((ip, i) => {
      const p = typeof ip === 'string' && ip !== 'None' && ip !== '' ? parseIP(ip) : undefined;
      const want = families[i];
      if (p && (want === 'IPv4' || want === 'IPv6') && (p.family === 4 ? 'IPv4' : 'IPv6') !== want)
        errs.invalid(`spec.clusterIPs[${i}]`, ip, `expected an ${want} value as indicated by \`ipFamilies[${i}]\``);
    });
    if (old && old.spec?.type !== 'ExternalName' && old.spec?.clusterIP && s.clusterIP && s.clusterIP !== old.spec.clusterIP)
      errs.invalid('spec.clusterIPs[0]', s.clusterIP, 'may not change once set');
  }
  if (!errs.any) allocate(obj, errs, old, ctx);
}

/** Fills clusterIP(s) and nodePorts; runs after validation so it only ever sees well-formed specs. */
function allocate(obj: KubeObject, errs: FieldErrors, old: KubeObject | undefined, ctx: StrategyContext): void {
  const s = obj.spec;
  const owner = ownerOf(obj);
  if (s.type === 'ExternalName') {
    delete s.clusterIP;
    delete s.clusterIPs;
  } else if (s.clusterIP === 'None') {
    s.clusterIPs = ['None'];
  } else {
    const ips: string[] = [];
    const wanted: string[] = Array.isArray(s.clusterIPs) && s.clusterIPs.length ? s.clusterIPs : s.clusterIP ? [s.clusterIP] : [];
    (s.ipFamilies as ('IPv4' | 'IPv6')[]).forEach((fam, i) => {
      const req = wanted[i];
      if (req) {
        const p = ctx.alloc.ipProblem(req, owner);
        if (p) return errs.invalid(`spec.clusterIPs[${i}]`, req, p);
        ips.push(req);
      } else {
        const ip = ctx.alloc.nextIP(fam);
        if (!ip) return errs.invalid('spec.clusterIPs', '', `failed to allocate IP for family ${fam}: range is full`);
        ips.push(ip);
      }
    });
    s.clusterIP = ips[0];
    s.clusterIPs = ips;
  }
  const taken = new Set<number>();
  const oldPorts: KubeObject[] = Array.isArray(old?.spec?.ports) ? old!.spec.ports : [];
  for (const p of s.ports ?? []) {
    if (!needsNodePorts(s)) {
      if (s.type !== 'LoadBalancer') delete p.nodePort;
      continue;
    }
    if (!p.nodePort) {
      const prev = oldPorts.find((o) => o.port === p.port && o.protocol === p.protocol && o.nodePort);
      if (prev) p.nodePort = prev.nodePort;
    }
    if (p.nodePort) {
      const problem = ctx.alloc.portProblem(p.nodePort, owner);
      if (problem) errs.invalid('spec.ports[].nodePort', p.nodePort, problem);
      taken.add(p.nodePort);
      continue;
    }
    const n = ctx.alloc.nextPort(taken);
    if (n === undefined) return errs.invalid('spec.ports[].nodePort', 0, 'range is full');
    p.nodePort = n;
    taken.add(n);
  }
  if (s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local') {
    if (!s.healthCheckNodePort) s.healthCheckNodePort = old?.spec?.healthCheckNodePort ?? ctx.alloc.nextPort(taken);
  } else delete s.healthCheckNodePort;
}

function externalIP(o: KubeObject): string {
  const s = o.spec ?? {};
  if (s.type === 'ExternalName') return s.externalName ?? '<none>';
  const ips: string[] = [...(Array.isArray(s.externalIPs) ? s.externalIPs : [])];
  for (const ing of o.status?.loadBalancer?.ingress ?? []) if (ing?.ip || ing?.hostname) ips.push(ing.ip ?? ing.hostname);
  if (ips.length) return ips.join(',');
  return s.type === 'LoadBalancer' ? '<pending>' : '<none>';
}

export const services: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'services',
  singular: 'service',
  kind: 'Service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  hasStatus: true,
  resetStatusOnCreate: true,
  nameRule: 'dns1035',
  defaults,
  prepareCreate(obj) {
    obj.status = { loadBalancer: {} };
  },
  prepareUpdate(obj, old) {
    const s = obj.spec;
    const o = old.spec ?? {};
    // A PUT that omits allocated values keeps them, unless the type change makes them meaningless.
    if (s && !s.clusterIP && o.clusterIP && s.type !== 'ExternalName' && o.type !== 'ExternalName') {
      s.clusterIP = o.clusterIP;
      s.clusterIPs ??= o.clusterIPs;
      s.ipFamilies ??= o.ipFamilies;
      s.ipFamilyPolicy ??= o.ipFamilyPolicy;
    }
  },
  validate,
  committed(obj, old, ctx) {
    if (old) ctx.alloc.forget(old);
    if (obj) ctx.alloc.record(obj);
  },
  columns: [NAME_COLUMN, col('Type'), col('Cluster-IP'), col('External-IP'), col('Port(s)'), AGE_COLUMN, col('Selector', 1)],
  cells: (o, now) => [
    o.metadata.name,
    o.spec?.type ?? '',
    o.spec?.clusterIP || '<none>',
    externalIP(o),
    (o.spec?.ports ?? []).map((p: KubeObject) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`)).join(',') || '<none>',
    age(o.metadata.creationTimestamp, now),
    formatSelector(o.spec?.selector),
  ],
};
