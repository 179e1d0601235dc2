// Write semantics of the generic registry: metadata stamping, status subresource handling, optimistic
// concurrency, no-op detection, generation, finalizers, namespace cascade. All methods are synchronous
// so a check and its commit can never interleave with another request.
import { randomUUID } from 'node:crypto';
import type { ResourceDef, StrategyContext } from './resources.js';
import { apiVersionOf } from './resources.js';
import { Store, type Entry } from './store.js';
import { ApiError, FieldErrors, errors } from './status.js';
import type { KubeObject } from './selectors.js';
import { deepEqual } from './patch.js';
import { isObject, nameProblem, validateAnnotations, validateLabels } from './validation.js';

export interface WriteOptions {
  dryRun?: boolean;
  subresource?: 'status';
}

export function nowTimestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export class Registry {
  constructor(
    readonly store: Store,
    readonly ctx: StrategyContext,
    readonly namespaces: ResourceDef,
  ) {}

  private strategyCtx(): StrategyContext {
    this.ctx.now = new Date();
    return this.ctx;
  }

  private checkKind(def: ResourceDef, obj: KubeObject): void {
    if (!isObject(obj)) throw errors.badRequest('the body of the request must be a JSON object');
    if (obj.kind !== undefined && obj.kind !== def.kind)
      throw errors.badRequest(`the kind of the object (${String(obj.kind)}) does not match the resource (${def.kind})`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(def))
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(def)})`);
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
    for (const k of ['name', 'generateName', 'namespace', 'resourceVersion', 'uid'])
      if (obj.metadata[k] !== undefined && obj.metadata[k] !== null && typeof obj.metadata[k] !== 'string')
        throw errors.badRequest(`metadata.${k} must be a string`);
    // Go would refuse to decode these; refusing here keeps strategies from meeting primitives.
    for (const k of ['spec', 'status'])
      if (obj[k] !== undefined && obj[k] !== null && !isObject(obj[k])) throw errors.badRequest(`${k} must be an object`);
    if (obj.spec === null) delete obj.spec;
    if (obj.status === null) delete obj.status;
  }

  private validateMeta(def: ResourceDef, obj: KubeObject, errs: FieldErrors): void {
    const md = obj.metadata;
    const p = nameProblem(String(md.name), def.nameRule);
    if (p) errs.invalid('metadata.name', md.name, p);
    validateLabels(errs, md.labels, 'metadata.labels');
    validateAnnotations(errs, md.annotations, 'metadata.annotations');
    if (md.finalizers !== undefined && (!Array.isArray(md.finalizers) || md.finalizers.some((f: unknown) => typeof f !== 'string')))
      errs.invalid('metadata.finalizers', md.finalizers, 'must be a list of strings');
  }

  requireNamespace(def: ResourceDef, ns: string | undefined): void {
    if (!def.namespaced) return;
    if (!ns) throw errors.badRequest('a namespace is required for this resource');
    if (!this.store.get(this.namespaces, undefined, ns)) throw errors.notFound('namespaces', '', ns);
  }

  create(def: ResourceDef, ns: string | undefined, body: KubeObject, opts: WriteOptions = {}): KubeObject {
    this.checkKind(def, body);
    const obj = body;
    const md = obj.metadata;
    if (!md.name && typeof md.generateName === 'string' && md.generateName) md.name = md.generateName + randomSuffix();
    if (!md.name) throw new ApiError(422, 'Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, {
      kind: def.kind,
      causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
    });
    if (def.namespaced) {
      if (md.namespace && md.namespace !== ns)
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      md.namespace = ns;
    } else delete md.namespace;
    // NamespaceLifecycle admission runs before validation in the real server.
    this.requireNamespace(def, ns);
    const ctx = this.strategyCtx();
    md.uid = randomUUID();
    md.creationTimestamp = nowTimestamp(ctx.now);
    md.generation = 1;
    delete md.resourceVersion;
    delete md.deletionTimestamp;
    delete md.deletionGracePeriodSeconds;
    delete md.selfLink;
    if (def.resetStatusOnCreate) delete obj.status;
    def.defaults?.(obj, ctx);
    const errs = new FieldErrors();
    this.validateMeta(def, obj, errs);
    def.validate?.(obj, errs, undefined, ctx);
    errs.throwIfAny(def.kind, def.group, String(md.name));
    def.prepareCreate?.(obj, ctx);
    if (def.sink || opts.dryRun) {
      md.resourceVersion = String(this.store.rv);
      return obj;
    }
    if (this.store.get(def, ns, md.name)) throw errors.alreadyExists(def.resource, def.group, md.name);
    this.store.commit(def, 'ADDED', obj);
    def.committed?.(obj, undefined, ctx);
    return obj;
  }

  getEntry(def: ResourceDef, ns: string | undefined, name: string): Entry {
    const e = this.store.get(def, ns, name);
    if (!e) throw errors.notFound(def.resource, def.group, name);
    return e;
  }

  /** PUT semantics; also the tail of every PATCH. `body` is owned by the registry from here on. */
  update(def: ResourceDef, ns: string | undefined, name: string, body: KubeObject, opts: WriteOptions = {}): KubeObject {
    this.checkKind(def, body);
    const cur = this.getEntry(def, ns, name).obj;
    const md = body.metadata;
    if (md.name !== undefined && md.name !== name)
      throw errors.badRequest(`the name of the object (${String(md.name)}) does not match the name on the URL (${name})`);
    if (def.namespaced && md.namespace && md.namespace !== ns)
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (md.resourceVersion !== undefined && md.resourceVersion !== '' && String(md.resourceVersion) !== cur.metadata.resourceVersion)
      throw errors.conflict(def.resource, def.group, name);
    if (md.uid && md.uid !== cur.metadata.uid)
      throw errors.conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${md.uid}, UID in object meta: ${cur.metadata.uid}`);
    let obj: KubeObject;
    if (opts.subresource === 'status') {
      // Status writes change status only (metav1.ResetObjectMetaForStatus + strategies that restore spec).
      obj = JSON.parse(JSON.stringify(cur));
      if (body.status === undefined) delete obj.status;
      else obj.status = body.status;
    } else {
      obj = body;
      if (def.hasStatus) {
        if (cur.status === undefined) delete obj.status;
        else obj.status = cur.status;
      }
    }
    const omd = obj.metadata;
    omd.name = name;
    if (def.namespaced) omd.namespace = ns;
    else delete omd.namespace;
    omd.uid = cur.metadata.uid;
    omd.creationTimestamp = cur.metadata.creationTimestamp;
    omd.generation = cur.metadata.generation;
    omd.resourceVersion = cur.metadata.resourceVersion;
    delete omd.selfLink;
    if (cur.metadata.deletionTimestamp) {
      omd.deletionTimestamp = cur.metadata.deletionTimestamp;
      omd.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds;
    } else {
      delete omd.deletionTimestamp;
      delete omd.deletionGracePeriodSeconds;
    }
    const ctx = this.strategyCtx();
    if (opts.subresource !== 'status') def.prepareUpdate?.(obj, cur, ctx);
    def.defaults?.(obj, ctx);
    const errs = new FieldErrors();
    this.validateMeta(def, obj, errs);
    if (opts.subresource === 'status') def.validateStatus?.(obj, errs);
    else def.validate?.(obj, errs, cur, ctx);
    errs.throwIfAny(def.kind, def.group, name);
    if (deepEqual(obj, cur)) return cur;
    if (!specEqual(obj, cur)) omd.generation = (Number(cur.metadata.generation) || 0) + 1;
    if (opts.dryRun) return obj;
    if (omd.deletionTimestamp && (!Array.isArray(omd.finalizers) || omd.finalizers.length === 0)) {
      return this.remove(def, obj, cur);
    }
    this.store.commit(def, 'MODIFIED', obj, cur);
    def.committed?.(obj, cur, ctx);
    return obj;
  }

  delete(def: ResourceDef, ns: string | undefined, name: string, options: KubeObject | undefined, opts: WriteOptions = {}): KubeObject {
    const cur = this.getEntry(def, ns, name).obj;
    const pre = isObject(options?.preconditions) ? options!.preconditions : {};
    if (pre.uid && pre.uid !== cur.metadata.uid)
      throw errors.conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
      throw errors.conflict(def.resource, def.group, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`);
    if (opts.dryRun) return cur;
    if (Array.isArray(cur.metadata.finalizers) && cur.metadata.finalizers.length > 0) {
      if (cur.metadata.deletionTimestamp) return cur;
      const obj = { ...cur, metadata: { ...cur.metadata, deletionTimestamp: nowTimestamp(), deletionGracePeriodSeconds: 0 } };
      this.store.commit(def, 'MODIFIED', obj, cur);
      return obj;
    }
    return this.remove(def, cur, cur);
  }

  private remove(def: ResourceDef, obj: KubeObject, prev: KubeObject): KubeObject {
    if (def === this.namespaces) this.deleteNamespaceContents(obj.metadata.name);
    const entry = this.store.commit(def, 'DELETED', obj, prev);
    def.committed?.(undefined, prev, this.strategyCtx());
    return entry.obj;
  }

  /** The namespace controller's job, done synchronously: everything in it goes, finalizers ignored. */
  private deleteNamespaceContents(ns: string): void {
    for (const [def, rs] of this.store.resources) {
      if (!def.namespaced) continue;
      for (const key of [...rs.keysFrom(ns, undefined)]) {
        const e = rs.items.get(key);
        if (!e) continue;
        this.store.commit(def, 'DELETED', e.obj, e.obj);
        def.committed?.(undefined, e.obj, this.strategyCtx());
      }
    }
  }
}

function specEqual(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => {
    const { metadata: _m, status: _s, ...rest } = o;
    return rest;
  };
  return deepEqual(strip(a), strip(b));
}
