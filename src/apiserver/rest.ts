// REST verbs on a resolved resource path: list/watch/get/create/update/patch/delete/deletecollection.
// Bodies arrive parsed; responses are written as JSON strings assembled from cached object JSON.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYAML } from 'yaml';
import type { ResourceDef } from './resources.js';
import { apiVersionOf } from './resources.js';
import type { Registry } from './registry.js';
import { ApiError, errors } from './status.js';
import { SelectorError, andMatchers, fieldMatcher, labelMatcher, type KubeObject, type Matcher } from './selectors.js';
import { entryJSON, matches, type Entry } from './store.js';
import { PatchError, jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { TABLE_CONTENT_TYPE, parseIncludeObject, tableJSON, wantsTable } from './table.js';
import { serveWatch, type WatchControl } from './watch.js';
import { decodeKubeProtobuf } from './protobuf.js';

export interface Target {
  def: ResourceDef;
  ns?: string;
  name?: string;
  subresource?: string;
  watchPath: boolean;
}

export interface RestContext {
  registry: Registry;
  watches: WatchControl;
  bookmarkIntervalMs: number;
  readBody(req: IncomingMessage): Promise<Buffer>;
}

export function sendJSON(res: ServerResponse, code: number, body: string, contentType = 'application/json'): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache, private' });
  res.end(body);
}

function selectors(q: URLSearchParams): Matcher | undefined {
  try {
    return andMatchers(labelMatcher(q.get('labelSelector') ?? ''), fieldMatcher(q.get('fieldSelector') ?? ''));
  } catch (e) {
    if (e instanceof SelectorError) throw errors.badRequest(`unable to parse requirement: ${e.message}`);
    throw e;
  }
}

function parseRV(v: string | null): number | undefined {
  if (v === null || v === '' || v === '0') return undefined;
  if (!/^\d+$/.test(v)) throw errors.badRequest(`resourceVersion: Invalid value: "${v}": must be a non-negative integer`);
  return Number(v);
}

interface ContinueToken {
  rv: number;
  start: string;
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as ContinueToken;
    if (typeof t.rv === 'number' && typeof t.start === 'string') return t;
  } catch {
    /* fall through */
  }
  throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

export async function handle(ctx: RestContext, req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams): Promise<void> {
  const method = req.method ?? 'GET';
  const reg = ctx.registry;
  const { def } = t;
  if (t.subresource !== undefined && t.subresource !== 'status') throw errors.notFoundPath();
  if (t.subresource === 'status' && !def.hasStatus) throw errors.notFoundPath();
  const dryRun = q.getAll('dryRun').includes('All');
  const table = wantsTable(req.headers.accept) ? parseIncludeObject(q.get('includeObject')) : undefined;

  if (t.name === undefined) {
    if (method === 'GET') {
      if (t.watchPath || q.get('watch') === 'true' || q.get('watch') === '1') return watch(ctx, req, res, t, q, table);
      return list(ctx, res, t, q, table);
    }
    if (t.watchPath) throw errors.methodNotAllowed();
    if (method === 'POST') {
      if (def.namespaced && !t.ns) throw errors.methodNotAllowed();
      const obj = reg.create(def, t.ns, await readObject(ctx, req), { dryRun });
      return sendJSON(res, 201, objJSON(reg, def, obj));
    }
    if (method === 'DELETE') return deleteCollection(ctx, req, res, t, q, dryRun);
    throw errors.methodNotAllowed();
  }
  if (t.watchPath) {
    if (method !== 'GET') throw errors.methodNotAllowed();
    const fs = q.get('fieldSelector');
    q.set('fieldSelector', `metadata.name=${t.name}${fs ? ',' + fs : ''}`);
    return watch(ctx, req, res, { ...t, name: undefined }, q, table);
  }
  const sub = t.subresource === 'status' ? ({ subresource: 'status' } as const) : {};
  switch (method) {
    case 'GET': {
      const e = def.sink ? undefined : reg.store.get(def, t.ns, t.name);
      if (!e) throw errors.notFound(def.resource, def.group, t.name);
      if (table) return sendJSON(res, 200, tableJSON(def, [e], { resourceVersion: e.obj.metadata.resourceVersion }, table), TABLE_CONTENT_TYPE);
      return sendJSON(res, 200, entryJSON(e));
    }
    case 'PUT': {
      const body = await readObject(ctx, req);
      if (def.sink) return sendJSON(res, 200, JSON.stringify(reg.create(def, t.ns, body, { dryRun: true })));
      return sendJSON(res, 200, objJSON(reg, def, reg.update(def, t.ns, t.name, body, { ...sub, dryRun })));
    }
    case 'PATCH':
      return patch(ctx, req, res, t, q, { ...sub, dryRun });
    case 'DELETE': {
      if (t.subresource) throw errors.methodNotAllowed();
      const raw = await ctx.readBody(req);
      const opts = raw.length ? parseBody(raw, req.headers['content-type']) : undefined;
      return sendJSON(res, 200, JSON.stringify(reg.delete(def, t.ns, t.name, opts, { dryRun })));
    }
    default:
      throw errors.methodNotAllowed();
  }
}

/** The stored object's cached JSON when `obj` is what got stored, so lists later reuse this serialization. */
function objJSON(reg: Registry, def: ResourceDef, obj: KubeObject): string {
  const e = def.sink ? undefined : reg.store.get(def, obj.metadata?.namespace, obj.metadata?.name);
  return e && e.obj === obj ? entryJSON(e) : JSON.stringify(obj);
}

function parseBody(raw: Buffer, contentType: string | undefined): KubeObject {
  const ct = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/vnd.kubernetes.protobuf') {
    try {
      return decodeKubeProtobuf(raw);
    } catch (e) {
      throw new ApiError(415, 'UnsupportedMediaType', (e as Error).message);
    }
  }
  if (ct.includes('protobuf') || ct.includes('cbor')) throw errors.unsupportedMedia(ct);
  try {
    const text = raw.toString('utf8');
    return ct.includes('yaml') ? (parseYAML(text) as KubeObject) : (JSON.parse(text) as KubeObject);
  } catch (e) {
    throw errors.badRequest(`the body of the request could not be decoded: ${(e as Error).message}`);
  }
}

async function readObject(ctx: RestContext, req: IncomingMessage): Promise<KubeObject> {
  const obj = parseBody(await ctx.readBody(req), req.headers['content-type']);
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw errors.badRequest('the body of the request must be a JSON object');
  return obj;
}

function list(ctx: RestContext, res: ServerResponse, t: Target, q: URLSearchParams, table: ReturnType<typeof parseIncludeObject> | undefined): void {
  const store = ctx.registry.store;
  const rs = store.of(t.def);
  const match = selectors(q);
  parseRV(q.get('resourceVersion'));
  const limit = Number(q.get('limit') ?? 0);
  if (!Number.isInteger(limit) || limit < 0) throw errors.badRequest(`limit: Invalid value: "${q.get('limit')}"`);
  const cont = q.get('continue') ? decodeContinue(q.get('continue')!) : undefined;
  const listRV = cont ? cont.rv : store.rv;
  const w = { ns: t.ns, match };
  const out: Entry[] = [];
  let next: string | undefined;
  if (!t.def.sink) {
    // Keys in etcd order; paging resumes strictly after the last key served, against current state.
    const unpaged = !limit && !cont;
    const source: Iterable<string> | undefined = unpaged && !t.ns ? undefined : rs.keysFrom(t.ns, cont?.start);
    if (source === undefined) {
      const keys = rs.sortedKeys();
      for (const k of keys) {
        const e = rs.items.get(k)!;
        if (!match || matches(w, e.obj)) out.push(e);
      }
    } else {
      for (const k of source) {
        const e = rs.items.get(k);
        if (!e || (match && !matches(w, e.obj))) continue;
        if (limit && out.length === limit) {
          next = Buffer.from(JSON.stringify({ rv: listRV, start: out[out.length - 1]!.key })).toString('base64url');
          break;
        }
        out.push(e);
      }
    }
  }
  const meta: Record<string, unknown> = { resourceVersion: String(listRV) };
  if (next) meta.continue = next;
  if (table) return sendJSON(res, 200, tableJSON(t.def, out, meta, table), TABLE_CONTENT_TYPE);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.write(`{"kind":"${t.def.kind}List","apiVersion":"${apiVersionOf(t.def)}","metadata":${JSON.stringify(meta)},"items":[`);
  const CHUNK = 500;
  for (let i = 0; i < out.length; i += CHUNK) {
    let s = i === 0 ? '' : ',';
    const end = Math.min(out.length, i + CHUNK);
    for (let j = i; j < end; j++) s += (j === i ? '' : ',') + entryJSON(out[j]!);
    res.write(s);
  }
  res.end(']}');
}

function watch(ctx: RestContext, req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams, table: ReturnType<typeof parseIncludeObject> | undefined): void {
  const match = selectors(q);
  const since = parseRV(q.get('resourceVersion'));
  const timeout = q.get('timeoutSeconds');
  const timeoutSeconds = timeout !== null && /^\d+$/.test(timeout) ? Number(timeout) : undefined;
  const w = {
    def: t.def,
    ns: t.ns,
    match,
    since,
    bookmarks: q.get('allowWatchBookmarks') === 'true',
    bookmarkIntervalMs: ctx.bookmarkIntervalMs,
    timeoutSeconds,
    table,
  };
  // A held request is answered on release, from the store as it is then (a client that missed the changes).
  ctx.watches.admit(() => {
    if (!res.destroyed && !res.writableEnded) serveWatch(ctx.registry.store, req, res, w, ctx.watches);
  });
}

async function patch(ctx: RestContext, req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams, opts: { subresource?: 'status'; dryRun: boolean }): Promise<void> {
  const reg = ctx.registry;
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const kinds = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
  if (!kinds.includes(ct)) throw errors.unsupportedMedia(ct || '<none>');
  const raw = await ctx.readBody(req);
  let body: unknown;
  try {
    body = ct === 'application/apply-patch+yaml' ? parseYAML(raw.toString('utf8')) : JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
  }
  const name = t.name!;
  const existing = t.def.sink ? undefined : reg.store.get(t.def, t.ns, name);
  if (ct === 'application/apply-patch+yaml') {
    if (!q.get('fieldManager')) throw errors.badRequest('PATCH: fieldManager is required for apply requests');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.badRequest('apply patch must be an object');
    const b = body as KubeObject;
    if (b.metadata?.name !== undefined && b.metadata.name !== name)
      throw errors.badRequest(`the name of the object (${String(b.metadata.name)}) does not match the name on the URL (${name})`);
    if (!existing) {
      if (opts.subresource) throw errors.notFound(t.def.resource, t.def.group, name);
      b.metadata = { ...(b.metadata ?? {}), name };
      return sendJSON(res, 201, objJSON(reg, t.def, reg.create(t.def, t.ns, b, { dryRun: opts.dryRun })));
    }
  }
  if (!existing) throw errors.notFound(t.def.resource, t.def.group, name);
  const base = JSON.parse(entryJSON(existing)) as KubeObject;
  let patched: unknown;
  try {
    if (ct === 'application/json-patch+json') patched = jsonPatch(base, body);
    else if (ct === 'application/merge-patch+json') patched = mergePatch(base, body);
    else patched = strategicMergePatch(base, body);
  } catch (e) {
    if (e instanceof PatchError) throw new ApiError(422, 'Invalid', e.message);
    throw e;
  }
  if (typeof patched !== 'object' || patched === null || Array.isArray(patched)) throw errors.badRequest('patch produced a non-object');
  sendJSON(res, 200, objJSON(reg, t.def, reg.update(t.def, t.ns, name, patched as KubeObject, opts)));
}

async function deleteCollection(ctx: RestContext, req: IncomingMessage, res: ServerResponse, t: Target, q: URLSearchParams, dryRun: boolean): Promise<void> {
  await ctx.readBody(req);
  const reg = ctx.registry;
  const rs = reg.store.of(t.def);
  const match = selectors(q);
  const w = { ns: t.ns, match };
  const victims = [...rs.keysFrom(t.ns, undefined)].map((k) => rs.items.get(k)!).filter((e) => matches(w, e.obj));
  const items = victims.map((e) => reg.delete(t.def, e.obj.metadata.namespace, e.obj.metadata.name, undefined, { dryRun }));
  sendJSON(res, 200, JSON.stringify({ kind: `${t.def.kind}List`, apiVersion: apiVersionOf(t.def), metadata: { resourceVersion: String(reg.store.rv) }, items }));
}
