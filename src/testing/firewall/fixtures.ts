// Test fixtures: a small cluster builder and a NetworkPolicy spec -> model converter with the API
// server's defaulting (policyTypes, protocol TCP), so tests and conformance cases can write policies as
// users do. Test-only: the agent gets its models from src/model/normalize.
import type {
  ClusterSnapshot,
  ContainerPortModel,
  LabelSelector,
  Labels,
  NamespaceModel,
  NetworkPolicyModel,
  PodModel,
  PolicyPeer,
  PolicyPort,
  PolicyRule,
  PolicyType,
  Protocol,
} from '../../model/types.js';
import { parseCIDROrIP } from '../../model/normalize/cidr.js';

export interface PodFixture {
  ns: string;
  name: string;
  ip: string | string[];
  node?: string;
  labels?: Labels;
  ports?: ContainerPortModel[];
  hostNetwork?: boolean;
  phase?: PodModel['phase'];
}

export function pod(f: PodFixture): PodModel {
  return {
    namespace: f.ns,
    name: f.name,
    uid: `uid-${f.ns}-${f.name}`,
    labels: f.labels ?? {},
    annotations: {},
    nodeName: f.node ?? 'node1',
    hostNetwork: f.hostNetwork ?? false,
    phase: f.phase ?? 'Running',
    podIPs: Array.isArray(f.ip) ? f.ip : f.ip ? [f.ip] : [],
    ports: f.ports ?? [],
    deleting: false,
  };
}

export function namespace(name: string, labels: Labels = {}): NamespaceModel {
  return { name, uid: `uid-ns-${name}`, labels: { 'kubernetes.io/metadata.name': name, ...labels } };
}

export function snapshot(parts: {
  namespaces?: NamespaceModel[];
  pods?: PodModel[];
  policies?: NetworkPolicyModel[];
}): ClusterSnapshot {
  const nsNames = new Set([...(parts.namespaces ?? []).map((n) => n.name)]);
  const namespaces = new Map((parts.namespaces ?? []).map((n) => [n.name, n] as const));
  for (const p of parts.pods ?? []) if (!nsNames.has(p.namespace)) namespaces.set(p.namespace, namespace(p.namespace));
  return {
    nodes: new Map(),
    namespaces,
    pods: new Map((parts.pods ?? []).map((p) => [`${p.namespace}/${p.name}`, p] as const)),
    services: new Map(),
    endpointSlices: new Map(),
    policies: new Map((parts.policies ?? []).map((p) => [`${p.namespace}/${p.name}`, p] as const)),
  };
}

// ---- NetworkPolicy spec (as in a manifest) -> model ----

type Json = Record<string, unknown>;

function selector(v: unknown): LabelSelector {
  const o = (v ?? {}) as Json;
  const exprs = ((o['matchExpressions'] as Json[] | undefined) ?? []).map((e) => ({
    key: String(e['key']),
    operator: e['operator'] as LabelSelector['matchExpressions'][number]['operator'],
    values: ((e['values'] as string[] | undefined) ?? []).map(String),
  }));
  return { matchLabels: (o['matchLabels'] as Labels | undefined) ?? {}, matchExpressions: exprs };
}

function peer(v: Json): PolicyPeer {
  const ipb = v['ipBlock'] as Json | undefined;
  if (ipb) {
    const cidr = String(ipb['cidr']);
    const n = parseCIDROrIP(cidr);
    return {
      kind: 'ipBlock',
      cidr: n ? n.text : cidr,
      family: cidr.includes(':') ? 6 : 4,
      except: ((ipb['except'] as string[] | undefined) ?? []).map((e) => {
        return parseCIDROrIP(e)?.text ?? e;
      }),
    };
  }
  return {
    kind: 'pods',
    ...(v['podSelector'] !== undefined ? { podSelector: selector(v['podSelector']) } : {}),
    ...(v['namespaceSelector'] !== undefined ? { namespaceSelector: selector(v['namespaceSelector']) } : {}),
  };
}

function port(v: Json): PolicyPort {
  const p = v['port'];
  return {
    protocol: ((v['protocol'] as string | undefined) ?? 'TCP') as Protocol,
    ...(p !== undefined && p !== null ? { port: typeof p === 'number' ? p : /^\d+$/.test(String(p)) ? Number(p) : String(p) } : {}),
    ...(v['endPort'] !== undefined ? { endPort: Number(v['endPort']) } : {}),
  };
}

function rules(v: unknown, peerKey: 'from' | 'to'): PolicyRule[] {
  return ((v as Json[] | undefined | null) ?? []).map((r) => ({
    peers: ((r?.[peerKey] as Json[] | undefined) ?? []).map(peer),
    ports: ((r?.['ports'] as Json[] | undefined) ?? []).map(port),
  }));
}

export function policy(ns: string, name: string, spec: Json): NetworkPolicyModel {
  const ingress = rules(spec['ingress'], 'from');
  const egress = rules(spec['egress'], 'to');
  let types = spec['policyTypes'] as PolicyType[] | undefined;
  if (!types || types.length === 0) {
    types = ['Ingress'];
    if (Array.isArray(spec['egress']) && spec['egress'].length > 0) types.push('Egress');
  }
  return {
    namespace: ns,
    name,
    uid: `uid-np-${ns}-${name}`,
    podSelector: selector(spec['podSelector']),
    policyTypes: types,
    ingress,
    egress,
  };
}
