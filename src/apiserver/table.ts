// Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for in its Accept header. Serving
// it lets kubectl print the familiar columns instead of just NAME/AGE.
import type { ResourceDef } from './resources.js';
import { AGE_COLUMN, NAME_COLUMN, age } from './resources.js';
import type { KubeObject } from './selectors.js';
import { entryJSON, type Entry } from './store.js';

export const TABLE_CONTENT_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io';

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(def: ResourceDef, e: Entry, include: IncludeObject): string | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return entryJSON(e);
  return JSON.stringify({
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: e.obj.metadata,
  });
}

function cellsOf(def: ResourceDef, o: KubeObject, now: number): unknown[] {
  const fallback = () => [o.metadata?.name ?? '', age(o.metadata?.creationTimestamp, now)];
  if (!def.cells) return fallback();
  try {
    return def.cells(o, now);
  } catch {
    // Odd-but-stored status shapes (e.g. conditions not a list) must not break `kubectl get`.
    const cols = def.columns?.length ?? 2;
    return Array.from({ length: cols }, (_, i) => (i === 0 ? o.metadata?.name ?? '' : '<unknown>'));
  }
}

/** Builds the Table JSON by string concatenation so large lists stay cheap. */
export function tableJSON(
  def: ResourceDef,
  entries: Iterable<Entry>,
  meta: Record<string, unknown>,
  include: IncludeObject,
  withColumns = true,
): string {
  const now = Date.now();
  const cols = def.columns ?? [NAME_COLUMN, AGE_COLUMN];
  const rows: string[] = [];
  for (const e of entries) {
    const obj = rowObject(def, e, include);
    rows.push(`{"cells":${JSON.stringify(cellsOf(def, e.obj, now))}${obj ? `,"object":${obj}` : ''}}`);
  }
  return `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":${JSON.stringify(meta)},"columnDefinitions":${
    withColumns ? JSON.stringify(cols) : '[]'
  },"rows":[${rows.join(',')}]}`;
}

export function parseIncludeObject(v: string | null): IncludeObject {
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
