import type { NamespaceModel } from '../types.js';
import { readMeta } from './fields.js';
import { normalizeWith, type NormalizeResult } from './result.js';

/** core/v1 Namespace -> NamespaceModel. Only labels matter (namespaceSelector). */
export function normalizeNamespace(raw: unknown): NormalizeResult<NamespaceModel> {
  return normalizeWith(() => {
    const meta = readMeta(raw, false);
    return { name: meta.name, uid: meta.uid, labels: meta.labels };
  });
}
