import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import {
  normalizeEndpointSlice,
  normalizeNamespace,
  normalizeNetworkPolicy,
  normalizeNode,
  normalizePod,
  normalizeService,
  type NormalizeResult,
} from '../model/normalize/index.js';
import type { ResourceKind } from '../model/types.js';

type ListFn = () => Promise<KubernetesListObject<KubernetesObject>>;
type PageParams = { limit: number; _continue?: string };
type PageFn = (p: PageParams) => Promise<unknown>;

/** Objects per list page. Paging bounds the transient memory of a large initial list (response text, parsed
 * JSON and typed objects of one page at a time instead of the whole list), which sets the agent's peak RSS. */
export const LIST_PAGE_SIZE = 500;

/**
 * Lists all pages and returns them as one list. The resourceVersion is the first page's: every page of a
 * paginated list is served from that snapshot, and watching from the earliest version can only replay
 * events we then treat as (idempotent) updates, never miss one.
 */
function paged(fetchPage: PageFn): ListFn {
  return async () => {
    const items: KubernetesObject[] = [];
    let first: KubernetesListObject<KubernetesObject> | undefined;
    let cont: string | undefined;
    do {
      const page = (await fetchPage(cont ? { limit: LIST_PAGE_SIZE, _continue: cont } : { limit: LIST_PAGE_SIZE })) as KubernetesListObject<KubernetesObject>;
      first ??= page;
      for (const item of page.items ?? []) items.push(item);
      const meta = page.metadata as { _continue?: string; continue?: string } | undefined;
      cont = meta?._continue || meta?.continue || undefined;
    } while (cont);
    return { apiVersion: first.apiVersion, kind: first.kind, metadata: { resourceVersion: first.metadata?.resourceVersion }, items };
  };
}

/** How to list, watch and normalize one kind. */
export interface KindSpec {
  readonly kind: ResourceKind;
  /** Watch path for all namespaces. */
  readonly path: string;
  readonly list: ListFn;
  readonly normalize: (raw: unknown) => NormalizeResult<unknown>;
}

export function kindSpecs(kc: KubeConfig): Record<ResourceKind, KindSpec> {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  return {
    Node: { kind: 'Node', path: '/api/v1/nodes', list: paged((p) => core.listNode(p)), normalize: normalizeNode },
    Namespace: { kind: 'Namespace', path: '/api/v1/namespaces', list: paged((p) => core.listNamespace(p)), normalize: normalizeNamespace },
    Pod: { kind: 'Pod', path: '/api/v1/pods', list: paged((p) => core.listPodForAllNamespaces(p)), normalize: normalizePod },
    Service: {
      kind: 'Service',
      path: '/api/v1/services',
      list: paged((p) => core.listServiceForAllNamespaces(p)),
      normalize: normalizeService,
    },
    EndpointSlice: {
      kind: 'EndpointSlice',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: paged((p) => discovery.listEndpointSliceForAllNamespaces(p)),
      normalize: normalizeEndpointSlice,
    },
    NetworkPolicy: {
      kind: 'NetworkPolicy',
      path: '/apis/networking.k8s.io/v1/networkpolicies',
      list: paged((p) => networking.listNetworkPolicyForAllNamespaces(p)),
      normalize: normalizeNetworkPolicy,
    },
  };
}
