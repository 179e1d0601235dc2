// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the part of strategic merge patch
// that kubectl apply/label/annotate/edit emit for the types served here: lists merged by key where the
// Go types declare a patchMergeKey, the $patch / $retainKeys / $setElementOrder / $deleteFromPrimitiveList
// directives. Every function returns a new value and leaves its inputs alone.
import type { KubeObject } from './selectors.js';
import { KrtError } from '../observe/errors.js';

export class PatchError extends KrtError {
  constructor(message: string) {
    super('KRT_APISERVER_PATCH', message);
  }
}

const isObj = (v: unknown): v is KubeObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: KubeObject = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** patchMergeKey of list fields (by field name; the few ambiguous ones are told apart by element shape). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  conditions: 'type',
  addresses: 'type',
  taints: 'key',
  ownerReferences: 'uid',
  podIPs: 'ip',
  hostIPs: 'ip',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
  resourceClaims: 'name',
  readinessGates: 'conditionType',
};
/** Lists of scalars with patchStrategy "merge" (set union). */
const MERGED_SCALAR_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, sample: unknown[]): string | undefined {
  if (field === 'ports') {
    const el = sample.find(isObj);
    if (el && 'containerPort' in el) return 'containerPort';
    if (el && 'port' in el) return 'port';
    return undefined;
  }
  // EndpointSlice/Node addresses are scalar lists or keyed by type; only keyed objects merge.
  return MERGE_KEYS[field];
}

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  return smpObject(isObj(target) ? target : {}, patch);
}

function smpObject(target: KubeObject, patch: KubeObject): KubeObject {
  const directive = patch['$patch'];
  if (directive === 'replace') {
    const { $patch: _p, ...rest } = patch;
    return stripDirectives(rest) as KubeObject;
  }
  if (directive === 'delete') return {};
  const out: KubeObject = { ...target };
  const retain = patch['$retainKeys'];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = out[field].filter((x: unknown) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    if (isObj(v) && v['$patch'] === 'delete') {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) out[k] = smpList(k, out[k], v);
    else if (isObj(v)) out[k] = smpObject(isObj(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

function smpList(field: string, target: unknown, patch: unknown[]): unknown[] {
  const cur = Array.isArray(target) ? target : [];
  if (patch.some((e) => isObj(e) && e['$patch'] === 'replace')) {
    return patch.filter((e) => !(isObj(e) && e['$patch'] === 'replace')).map(stripDirectives);
  }
  if (MERGED_SCALAR_LISTS.has(field)) {
    const out = [...cur];
    for (const e of patch) if (!out.includes(e)) out.push(e);
    return out;
  }
  const key = mergeKeyFor(field, [...patch, ...cur]);
  if (!key || !patch.every(isObj)) return patch.filter((e) => !(isObj(e) && e['$patch'] === 'delete')).map(stripDirectives);
  const out: unknown[] = [...cur];
  for (const p of patch as KubeObject[]) {
    const idx = out.findIndex((e) => isObj(e) && e[key] === p[key]);
    if (p['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = smpObject(out[idx] as KubeObject, p);
    else out.push(stripDirectives(p));
  }
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObj(v)) return v;
  const out: KubeObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(p: unknown): string[] {
  if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw new PatchError(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p === '' ? [] : p.slice(1).split('/').map(unescapePointer);
}

export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be a list of operations');
  let root: unknown = JSON.parse(JSON.stringify(doc ?? null));
  const parentOf = (path: string[]): [unknown, string] => {
    let cur: unknown = root;
    for (const seg of path.slice(0, -1)) {
      if (Array.isArray(cur)) cur = cur[Number(seg)];
      else if (isObj(cur)) cur = cur[seg];
      else cur = undefined;
      if (cur === undefined) throw new PatchError(`doc is missing path: /${path.join('/')}`);
    }
    return [cur, path[path.length - 1]!];
  };
  const get = (path: string[]): unknown => {
    if (path.length === 0) return root;
    const [parent, last] = parentOf(path);
    const v = Array.isArray(parent) ? parent[Number(last)] : isObj(parent) ? parent[last] : undefined;
    if (v === undefined) throw new PatchError(`doc is missing path: /${path.join('/')}`);
    return v;
  };
  const remove = (path: string[]): unknown => {
    const v = get(path);
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete (parent as KubeObject)[last];
    return v;
  };
  const add = (path: string[], value: unknown, replace: boolean): void => {
    if (path.length === 0) {
      root = value;
      return;
    }
    const [parent, last] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new PatchError(`invalid array index ${last}`);
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
    } else if (isObj(parent)) parent[last] = value;
    else throw new PatchError(`doc is missing path: /${path.join('/')}`);
  };
  for (const op of ops as KubeObject[]) {
    if (!isObj(op)) throw new PatchError('invalid operation');
    const path = parsePointer(op.path);
    const clone = (v: unknown) => JSON.parse(JSON.stringify(v ?? null));
    switch (op.op) {
      case 'add':
        add(path, clone(op.value), false);
        break;
      case 'remove':
        remove(path);
        break;
      case 'replace':
        get(path);
        add(path, clone(op.value), true);
        break;
      case 'move':
        add(path, remove(parsePointer(op.from)), false);
        break;
      case 'copy':
        add(path, clone(get(parsePointer(op.from))), false);
        break;
      case 'test':
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw new PatchError(`testing value /${path.join('/')} failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return root;
}

/** Order-insensitive structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as KubeObject;
  const bo = b as KubeObject;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => deepEqual(ao[k], bo[k]));
}
