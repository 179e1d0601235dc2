import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node/dist/types.js';
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
import { getJSON } from './raw-get.js';

type ListFn = () => Promise<KubernetesListObject<KubernetesObject>>;
type PageParams = { limit: number; continue?: string };
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
      const page = (await fetchPage(cont ? { limit: LIST_PAGE_SIZE, continue: cont } : { limit: LIST_PAGE_SIZE })) as KubernetesListObject<KubernetesObject>;
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
  // Lists are GETs of the watch path (plain JSON, as the watch events are), not the generated API classes.
  const spec = (kind: ResourceKind, path: string, normalize: KindSpec['normalize']): KindSpec => ({ kind, path, list: paged((p) => getJSON(kc, path, p)), normalize });
  return {
    Node: spec('Node', '/api/v1/nodes', normalizeNode),
    Namespace: spec('Namespace', '/api/v1/namespaces', normalizeNamespace),
    Pod: spec('Pod', '/api/v1/pods', normalizePod),
    Service: spec('Service', '/api/v1/services', normalizeService),
    EndpointSlice: spec('EndpointSlice', '/apis/discovery.k8s.io/v1/endpointslices', normalizeEndpointSlice),
    NetworkPolicy: spec('NetworkPolicy', '/apis/networking.k8s.io/v1/networkpolicies', normalizeNetworkPolicy),
  };
}
