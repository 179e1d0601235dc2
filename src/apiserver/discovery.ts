// Discovery documents: legacy (/api, /apis, per group-version resource lists), aggregated discovery v2
// (what kubectl 1.32 asks for first) and a minimal OpenAPI v3 that tells kubectl the server does
// field validation itself, so `kubectl apply` needs no client-side schema.
import { createHash } from 'node:crypto';
import type { ResourceDef } from './resources.js';
import { VERBS } from './resources.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-krt',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

interface GroupVersion {
  group: string;
  version: string;
  defs: ResourceDef[];
}

export class Discovery {
  readonly groups: GroupVersion[] = [];
  private cache = new Map<string, string>();

  constructor(defs: readonly ResourceDef[]) {
    for (const d of defs) {
      let gv = this.groups.find((g) => g.group === d.group && g.version === d.version);
      if (!gv) this.groups.push((gv = { group: d.group, version: d.version, defs: [] }));
      gv.defs.push(d);
    }
  }

  private memo(key: string, build: () => unknown): string {
    let s = this.cache.get(key);
    if (s === undefined) this.cache.set(key, (s = JSON.stringify(build())));
    return s;
  }

  apiVersions(serverAddress: string): string {
    return JSON.stringify({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    });
  }

  private namedGroups(): Map<string, GroupVersion[]> {
    const m = new Map<string, GroupVersion[]>();
    for (const g of this.groups) if (g.group) m.set(g.group, [...(m.get(g.group) ?? []), g]);
    return m;
  }

  private apiGroup(name: string, gvs: GroupVersion[]): object {
    const versions = gvs.map((g) => ({ groupVersion: `${name}/${g.version}`, version: g.version }));
    return { name, versions, preferredVersion: versions[0] };
  }

  apiGroupList(): string {
    return this.memo('groups', () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...this.namedGroups()].map(([n, gvs]) => this.apiGroup(n, gvs)),
    }));
  }

  apiGroup1(group: string): string | undefined {
    const gvs = this.namedGroups().get(group);
    if (!gvs) return undefined;
    return JSON.stringify({ kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(group, gvs) });
  }

  resourceList(group: string, version: string): string | undefined {
    const gv = this.groups.find((g) => g.group === group && g.version === version);
    if (!gv) return undefined;
    return this.memo(`rl:${group}/${version}`, () => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: gv.defs.flatMap((d) => {
        const main: Record<string, unknown> = {
          name: d.resource,
          singularName: d.singular,
          namespaced: d.namespaced,
          kind: d.kind,
          verbs: [...VERBS],
        };
        if (d.shortNames.length) main.shortNames = d.shortNames;
        if (d.categories) main.categories = d.categories;
        const out = [main];
        if (d.hasStatus)
          out.push({ name: `${d.resource}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['get', 'patch', 'update'] });
        return out;
      }),
    }));
  }

  /** Aggregated discovery (apidiscovery.k8s.io v2 or v2beta1) for /api (legacy=true) or /apis. */
  aggregated(legacy: boolean, apiVersion: string): string {
    return this.memo(`agg:${legacy}:${apiVersion}`, () => {
      const byGroup = new Map<string, GroupVersion[]>();
      for (const g of this.groups) {
        if (legacy !== (g.group === '')) continue;
        byGroup.set(g.group, [...(byGroup.get(g.group) ?? []), g]);
      }
      return {
        kind: 'APIGroupDiscoveryList',
        apiVersion,
        metadata: {},
        items: [...byGroup].map(([name, gvs]) => ({
          metadata: name ? { name, creationTimestamp: null } : { creationTimestamp: null },
          versions: gvs.map((gv) => ({
            version: gv.version,
            freshness: 'Current',
            resources: gv.defs.map((d) => {
              const responseKind = { group: d.group, version: d.version, kind: d.kind };
              const r: Record<string, unknown> = {
                resource: d.resource,
                responseKind,
                scope: d.namespaced ? 'Namespaced' : 'Cluster',
                singularResource: d.singular,
                verbs: [...VERBS],
              };
              if (d.shortNames.length) r.shortNames = d.shortNames;
              if (d.categories) r.categories = d.categories;
              if (d.hasStatus) r.subresources = [{ subresource: 'status', responseKind, verbs: ['get', 'patch', 'update'] }];
              return r;
            }),
          })),
        })),
      };
    });
  }

  private gvPath(gv: GroupVersion): string {
    return gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
  }

  openapiV3Doc(path: string): string | undefined {
    const gv = this.groups.find((g) => this.gvPath(g) === path);
    if (!gv) return undefined;
    return this.memo(`oa3:${path}`, () => {
      const paths: Record<string, unknown> = {};
      const param = { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } };
      for (const d of gv.defs) {
        const base = `/${this.gvPath(gv)}${d.namespaced ? '/namespaces/{namespace}' : ''}/${d.resource}`;
        const gvk = { group: d.group, version: d.version, kind: d.kind };
        const op = (action: string) => ({
          operationId: `${action}${d.kind}`,
          'x-kubernetes-action': action,
          'x-kubernetes-group-version-kind': gvk,
          parameters: action === 'get' ? [] : [param],
          responses: { '200': { description: 'OK' } },
        });
        paths[base] = { get: op('list'), post: op('post') };
        paths[`${base}/{name}`] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
      }
      return { openapi: '3.0.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths, components: { schemas: {} } };
    });
  }

  openapiV3Root(): string {
    return this.memo('oa3root', () => {
      const paths: Record<string, unknown> = {};
      for (const gv of this.groups) {
        const p = this.gvPath(gv);
        const hash = createHash('sha512').update(this.openapiV3Doc(p)!).digest('hex').toUpperCase();
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
      }
      return { paths };
    });
  }

  findDef(group: string, version: string, resource: string): ResourceDef | undefined {
    const gv = this.groups.find((g) => g.group === group && g.version === version);
    return gv?.defs.find((d) => d.resource === resource);
  }
}

