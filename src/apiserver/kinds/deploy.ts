// The kinds a node-agent install manifest carries (deploy/all.yaml): ServiceAccount, ConfigMap, DaemonSet,
// ClusterRole, ClusterRoleBinding. The server stores them and checks the few rules whose breakage would make
// a real API server refuse the manifest (selector vs template labels, roleRef, rule shape); nothing runs
// them: there is no controller manager behind this server.
import type { ResourceDef } from '../resources.js';
import { AGE_COLUMN, NAME_COLUMN, age, col } from '../resources.js';
import type { KubeObject } from '../selectors.js';
import type { FieldErrors } from '../status.js';
import { isObject, validateLabelSelector } from '../validation.js';

export const serviceaccounts: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'serviceaccounts',
  singular: 'serviceaccount',
  kind: 'ServiceAccount',
  namespaced: true,
  shortNames: ['sa'],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  columns: [NAME_COLUMN, AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)],
};

export const configmaps: ResourceDef = {
  group: '',
  version: 'v1',
  resource: 'configmaps',
  singular: 'configmap',
  kind: 'ConfigMap',
  namespaced: true,
  shortNames: ['cm'],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  validate(obj, errs) {
    const data: unknown = obj.data;
    if (data === undefined || data === null) return;
    if (!isObject(data)) return errs.invalid('data', data, 'must be an object');
    for (const [k, v] of Object.entries(data)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(k)) errs.invalid(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
      if (typeof v !== 'string') errs.invalid(`data[${k}]`, v, 'must be a string');
    }
  },
  columns: [NAME_COLUMN, col('Data', 0, 'integer'), AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, Object.keys(o.data ?? {}).length, age(o.metadata.creationTimestamp, now)],
};

function labelsMatch(selector: KubeObject, labels: Record<string, string>): boolean {
  const ml: unknown = selector.matchLabels;
  if (!isObject(ml)) return true;
  return Object.entries(ml).every(([k, v]) => labels[k] === v);
}

export const daemonsets: ResourceDef = {
  group: 'apps',
  version: 'v1',
  resource: 'daemonsets',
  singular: 'daemonset',
  kind: 'DaemonSet',
  namespaced: true,
  shortNames: ['ds'],
  hasStatus: true,
  resetStatusOnCreate: true,
  nameRule: 'subdomain',
  defaults(obj) {
    obj.spec ??= {};
    obj.spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
    obj.spec.revisionHistoryLimit ??= 10;
  },
  prepareCreate(obj) {
    obj.metadata.generation = 1;
    obj.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  },
  validate(obj, errs) {
    const s = obj.spec;
    if (!isObject(s.selector)) return errs.required('spec.selector');
    validateLabelSelector(errs, s.selector, 'spec.selector');
    const tmpl: unknown = s.template;
    if (!isObject(tmpl)) return errs.required('spec.template');
    const labels = (isObject(tmpl.metadata) && isObject(tmpl.metadata.labels) ? tmpl.metadata.labels : {}) as Record<string, string>;
    if (!labelsMatch(s.selector, labels)) errs.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`');
    const pod: unknown = tmpl.spec;
    if (!isObject(pod) || !Array.isArray(pod.containers) || pod.containers.length === 0)
      return errs.required('spec.template.spec.containers');
    const volumes = new Set(Array.isArray(pod.volumes) ? pod.volumes.map((v: KubeObject) => v?.name) : []);
    for (const kind of ['initContainers', 'containers'] as const) {
      const list: unknown = pod[kind];
      if (!Array.isArray(list)) continue;
      list.forEach((c: unknown, i: number) => {
        const f = `spec.template.spec.${kind}[${i}]`;
        if (!isObject(c)) return errs.invalid(f, c, 'must be an object');
        if (typeof c.name !== 'string' || !c.name) errs.required(`${f}.name`);
        if (typeof c.image !== 'string' || !c.image) errs.required(`${f}.image`);
        const mounts: unknown = c.volumeMounts;
        if (Array.isArray(mounts))
          mounts.forEach((m: KubeObject, j: number) => {
            if (!volumes.has(m?.name)) errs.invalid(`${f}.volumeMounts[${j}].name`, m?.name, 'not found');
          });
      });
    }
  },
  columns: [NAME_COLUMN, col('Desired', 0, 'integer'), col('Current', 0, 'integer'), col('Ready', 0, 'integer'), AGE_COLUMN],
  cells: (o, now) => [
    o.metadata.name,
    o.status?.desiredNumberScheduled ?? 0,
    o.status?.currentNumberScheduled ?? 0,
    o.status?.numberReady ?? 0,
    age(o.metadata.creationTimestamp, now),
  ],
};

function validateRules(errs: FieldErrors, rules: unknown): void {
  if (rules === undefined || rules === null) return;
  if (!Array.isArray(rules)) return errs.invalid('rules', rules, 'must be a list');
  rules.forEach((r: unknown, i: number) => {
    const f = `rules[${i}]`;
    if (!isObject(r)) return errs.invalid(f, r, 'must be an object');
    if (!Array.isArray(r.verbs) || r.verbs.length === 0) errs.required(`${f}.verbs`, 'verbs must contain at least one value');
    const urls = Array.isArray(r.nonResourceURLs) && r.nonResourceURLs.length > 0;
    if (!urls && (!Array.isArray(r.apiGroups) || r.apiGroups.length === 0))
      errs.required(`${f}.apiGroups`, 'resource rules must supply at least one api group');
    if (!urls && (!Array.isArray(r.resources) || r.resources.length === 0))
      errs.required(`${f}.resources`, 'resource rules must supply at least one resource');
  });
}

export const clusterroles: ResourceDef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  resource: 'clusterroles',
  singular: 'clusterrole',
  kind: 'ClusterRole',
  namespaced: false,
  shortNames: [],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  validate: (obj, errs) => validateRules(errs, obj.rules),
  columns: [NAME_COLUMN, col('Created At')],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp ?? ''],
};

export const clusterrolebindings: ResourceDef = {
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  resource: 'clusterrolebindings',
  singular: 'clusterrolebinding',
  kind: 'ClusterRoleBinding',
  namespaced: false,
  shortNames: [],
  hasStatus: false,
  resetStatusOnCreate: false,
  nameRule: 'subdomain',
  validate(obj, errs, old) {
    const ref: unknown = obj.roleRef;
    if (!isObject(ref)) return errs.required('roleRef');
    if (ref.apiGroup !== 'rbac.authorization.k8s.io') errs.notSupported('roleRef.apiGroup', ref.apiGroup, ['rbac.authorization.k8s.io']);
    if (ref.kind !== 'ClusterRole') errs.notSupported('roleRef.kind', ref.kind, ['ClusterRole']);
    if (typeof ref.name !== 'string' || !ref.name) errs.required('roleRef.name');
    if (old && JSON.stringify(old.roleRef) !== JSON.stringify(ref)) errs.invalid('roleRef', ref, 'cannot change roleRef');
    const subjects: unknown = obj.subjects;
    if (Array.isArray(subjects))
      subjects.forEach((s: unknown, i: number) => {
        if (!isObject(s)) return errs.invalid(`subjects[${i}]`, s, 'must be an object');
        if (!['ServiceAccount', 'User', 'Group'].includes(s.kind as string)) errs.notSupported(`subjects[${i}].kind`, s.kind, ['ServiceAccount', 'User', 'Group']);
        if (s.kind === 'ServiceAccount' && !s.namespace) errs.required(`subjects[${i}].namespace`);
      });
  },
  columns: [NAME_COLUMN, col('Role'), AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, `ClusterRole/${o.roleRef?.name ?? ''}`, age(o.metadata.creationTimestamp, now)],
};
