// core/v1 Namespace, Node and Pod strategies: the defaults and validation of the real registry that
// matter to a network agent (ports, IPs, CIDRs), not the whole PodSpec.
import type { ResourceDef } from '../resources.js';
import { AGE_COLUMN, NAME_COLUMN, age, col } from '../resources.js';
import type { KubeObject } from '../selectors.js';
import type { FieldErrors } from '../status.js';
import { isObject, nameProblem, validateIP, validatePortNumber, validateProtocol } from '../validation.js';
import { parseCIDR } from '../../model/normalize/cidr.js';

export const namespaces: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'namespaces',
  singular: 'namespace',
  kind: 'Namespace',
  namespaced: false,
  shortNames: ['ns'],
  hasStatus: true,
  resetStatusOnCreate: true,
  nameRule: 'label',
  defaults(obj) {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
    obj.spec ??= {};
    obj.spec.finalizers ??= ['kubernetes'];
  },
  prepareCreate(obj) {
    obj.status = { phase: 'Active' };
  },
  columns: [NAME_COLUMN, col('Status'), AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, o.status?.phase ?? '', age(o.metadata.creationTimestamp, now)],
};

function nodeReady(o: KubeObject): string {
  const c = (o.status?.conditions ?? []).find((x: KubeObject) => x?.type === 'Ready');
  let s = c?.status === 'True' ? 'Ready' : c ? 'NotReady' : 'Unknown';
  if (o.spec?.unschedulable) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

function nodeAddr(o: KubeObject, type: string): string {
  const a = (o.status?.addresses ?? []).find((x: KubeObject) => x?.type === type);
  return a?.address ?? '<none>';
}

function validateCIDRList(errs: FieldErrors, list: unknown, field: string): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) return errs.invalid(field, list, 'must be a list');
  if (list.length > 2) errs.invalid(field, list, 'may specify no more than one CIDR for each IP family');
  list.forEach((c, i) => {
    if (typeof c !== 'string' || !parseCIDR(c)) errs.invalid(`${field}[${i}]`, c, 'must be a valid CIDR');
  });
}

export const nodes: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'nodes',
  singular: 'node',
  kind: 'Node',
  namespaced: false,
  shortNames: ['no'],
  hasStatus: true,
  // A kubelet registers its Node with status filled in; the real strategy keeps it.
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  defaults(obj) {
    obj.spec ??= {};
    const s = obj.spec;
    if (Array.isArray(s.podCIDRs) && s.podCIDRs.length && !s.podCIDR) s.podCIDR = s.podCIDRs[0];
    if (typeof s.podCIDR === 'string' && s.podCIDR && !s.podCIDRs) s.podCIDRs = [s.podCIDR];
  },
  validate(obj, errs, old) {
    const s = obj.spec ?? {};
    if (s.podCIDR !== undefined && s.podCIDR !== '' && (typeof s.podCIDR !== 'string' || !parseCIDR(s.podCIDR)))
      errs.invalid('spec.podCIDR', s.podCIDR, 'must be a valid CIDR');
    validateCIDRList(errs, s.podCIDRs, 'spec.podCIDRs');
    if (Array.isArray(s.podCIDRs) && s.podCIDRs.length && s.podCIDR && s.podCIDRs[0] !== s.podCIDR)
      errs.invalid('spec.podCIDRs', s.podCIDRs, 'the first CIDR must match spec.podCIDR');
    const oldCIDRs: unknown = old?.spec?.podCIDRs;
    if (Array.isArray(oldCIDRs) && oldCIDRs.length && JSON.stringify(oldCIDRs) !== JSON.stringify(s.podCIDRs ?? []))
      errs.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid');
    nodeStatusChecks(obj, errs);
  },
  validateStatus: nodeStatusChecks,
  columns: [NAME_COLUMN, col('Status'), col('Roles'), AGE_COLUMN, col('Version'), col('Internal-IP', 1), col('External-IP', 1)],
  cells: (o, now) => [
    o.metadata.name,
    nodeReady(o),
    nodeRoles(o),
    age(o.metadata.creationTimestamp, now),
    o.status?.nodeInfo?.kubeletVersion ?? '',
    nodeAddr(o, 'InternalIP'),
    nodeAddr(o, 'ExternalIP'),
  ],
};

function nodeStatusChecks(obj: KubeObject, errs: FieldErrors): void {
  const addrs = obj.status?.addresses;
  if (addrs === undefined) return;
  if (!Array.isArray(addrs)) return errs.invalid('status.addresses', addrs, 'must be a list');
  addrs.forEach((a: KubeObject, i: number) => {
    if (!isObject(a) || typeof a.type !== 'string') errs.required(`status.addresses[${i}].type`);
    else if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && a.address !== undefined)
      validateIP(errs, a.address, `status.addresses[${i}].address`);
  });
}

function containersOf(spec: KubeObject): KubeObject[] {
  return [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])];
}

function qosClass(spec: KubeObject): string {
  let any = false;
  let guaranteed = true;
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined || (req[r] !== undefined && String(req[r]) !== String(lim[r]))) guaranteed = false;
    }
  }
  return !any ? 'BestEffort' : guaranteed ? 'Guaranteed' : 'Burstable';
}

function validatePodStatus(obj: KubeObject, errs: FieldErrors): void {
  const st = obj.status;
  if (!isObject(st)) return;
  if (st.podIP !== undefined && st.podIP !== '') validateIP(errs, st.podIP, 'status.podIP');
  if (st.hostIP !== undefined && st.hostIP !== '') validateIP(errs, st.hostIP, 'status.hostIP');
  if (st.podIPs === undefined) return;
  if (!Array.isArray(st.podIPs)) return errs.invalid('status.podIPs', st.podIPs, 'must be a list');
  const seen = new Set<string>();
  st.podIPs.forEach((p: KubeObject, i: number) => {
    if (!isObject(p) || !validateIP(errs, p.ip, `status.podIPs[${i}].ip`)) return;
    if (seen.has(p.ip)) errs.duplicate(`status.podIPs[${i}].ip`, p.ip);
    seen.add(p.ip);
  });
  if (st.podIP && st.podIPs.length && st.podIPs[0]?.ip !== st.podIP)
    errs.invalid('status.podIPs[0].ip', st.podIPs[0]?.ip, 'must be equal to status.podIP');
}

export const pods: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'pods',
  singular: 'pod',
  kind: 'Pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  hasStatus: true,
  resetStatusOnCreate: true,
  nameRule: 'subdomain',
  defaults(obj) {
    obj.spec ??= {};
    const s = obj.spec;
    s.restartPolicy ??= 'Always';
    s.dnsPolicy ??= 'ClusterFirst';
    s.schedulerName ??= 'default-scheduler';
    s.terminationGracePeriodSeconds ??= 30;
    s.securityContext ??= {};
    s.enableServiceLinks ??= true;
    for (const c of containersOf(s)) {
      if (!isObject(c)) continue;
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      if (c.imagePullPolicy === undefined && typeof c.image === 'string')
        c.imagePullPolicy = /:latest$/.test(c.image) || !/:[^/]+$/.test(c.image) ? 'Always' : 'IfNotPresent';
      c.resources ??= {};
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) p.protocol ??= 'TCP';
    }
  },
  prepareCreate(obj) {
    obj.status = { phase: 'Pending', qosClass: qosClass(obj.spec) };
  },
  validate(obj, errs, old) {
    const s = obj.spec;
    if (!Array.isArray(s.containers) || s.containers.length === 0) errs.required('spec.containers');
    const names = new Set<string>();
    const lists: [string, unknown][] = [['containers', s.containers], ['initContainers', s.initContainers]];
    for (const [field, list] of lists) {
      if (!Array.isArray(list)) continue;
      list.forEach((c: KubeObject, i: number) => {
        const f = `spec.${field}[${i}]`;
        if (!isObject(c)) return errs.invalid(f, c, 'must be an object');
        if (typeof c.name !== 'string' || !c.name) errs.required(`${f}.name`);
        else {
          const p = nameProblem(c.name, 'label');
          if (p) errs.invalid(`${f}.name`, c.name, p);
          if (names.has(c.name)) errs.duplicate(`${f}.name`, c.name);
          names.add(c.name);
        }
        if (typeof c.image !== 'string' || !c.image.trim()) errs.required(`${f}.image`);
        if (c.ports !== undefined && !Array.isArray(c.ports)) return errs.invalid(`${f}.ports`, c.ports, 'must be a list');
        (c.ports ?? []).forEach((p: KubeObject, j: number) => {
          const pf = `${f}.ports[${j}]`;
          if (!isObject(p)) return errs.invalid(pf, p, 'must be an object');
          validatePortNumber(errs, p.containerPort, `${pf}.containerPort`);
          if (p.hostPort !== undefined && p.hostPort !== 0) validatePortNumber(errs, p.hostPort, `${pf}.hostPort`);
          validateProtocol(errs, p.protocol, `${pf}.protocol`);
        });
      });
    }
    if (s.nodeName !== undefined && s.nodeName !== '' && (typeof s.nodeName !== 'string' || nameProblem(s.nodeName, 'subdomain')))
      errs.invalid('spec.nodeName', s.nodeName, 'must be a valid node name');
    if (old && old.spec?.nodeName && s.nodeName !== old.spec.nodeName)
      errs.forbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)');
    validatePodStatus(obj, errs);
  },
  validateStatus: validatePodStatus,
  columns: [NAME_COLUMN, col('Ready'), col('Status'), col('Restarts', 0, 'string'), AGE_COLUMN, col('IP', 1), col('Node', 1), col('Nominated Node', 1), col('Readiness Gates', 1)],
  cells: (o, now) => {
    const statuses: KubeObject[] = Array.isArray(o.status?.containerStatuses) ? o.status.containerStatuses : [];
    const total = Array.isArray(o.spec?.containers) ? o.spec.containers.length : 0;
    const ready = statuses.filter((c) => c?.ready).length;
    const restarts = statuses.reduce((n, c) => n + (Number(c?.restartCount) || 0), 0);
    const phase = o.metadata.deletionTimestamp ? 'Terminating' : (o.status?.reason ?? o.status?.phase ?? 'Unknown');
    return [o.metadata.name, `${ready}/${total}`, phase, String(restarts), age(o.metadata.creationTimestamp, now), o.status?.podIP ?? '<none>', o.spec?.nodeName || '<none>', '<none>', '<none>'];
  },
};
