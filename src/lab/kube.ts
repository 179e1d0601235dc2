// A small Kubernetes API client for the lab's kubelet, controllers and conformance runner. It speaks
// plain JSON over HTTP (TCP or the API server's unix socket) so the lab depends only on the API's wire
// form, exactly what kubectl and the agents see.
import http from 'node:http';
import { KrtError } from '../observe/errors.js';

export interface KubeTarget {
  /** http://host:port */
  readonly url?: string;
  readonly socketPath?: string;
  readonly token?: string;
}

export interface Resource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const R = {
  nodes: { group: '', version: 'v1', plural: 'nodes', namespaced: false },
  namespaces: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  pods: { group: '', version: 'v1', plural: 'pods', namespaced: true },
  services: { group: '', version: 'v1', plural: 'services', namespaced: true },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true },
  networkpolicies: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', namespaced: true },
} as const satisfies Record<string, Resource>;

/** A raw Kubernetes object; the lab reads only a few well-known fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObj = Record<string, any>;

export class KubeError extends KrtError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('KRT_LAB_API', message);
  }
}

export function resourcePath(r: Resource, ns?: string, name?: string, sub?: string): string {
  let p = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${encodeURIComponent(ns)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}

export class KubeClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  constructor(readonly target: KubeTarget) {}

  private options(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.target.token) h['authorization'] = `Bearer ${this.target.token}`;
    if (this.target.socketPath) return { socketPath: this.target.socketPath, path, method, headers: h, agent: this.agent };
    const u = new URL(this.target.url ?? 'http://127.0.0.1:6443');
    return { host: u.hostname, port: Number(u.port || 80), path, method, headers: h, agent: this.agent };
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: KObj }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = {};
      if (payload !== undefined) {
        headers['content-type'] = contentType;
        headers['content-length'] = String(Buffer.byteLength(payload));
      }
      const req = http.request(this.options(method, path, headers), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: KObj = {};
          try {
            parsed = text ? (JSON.parse(text) as KObj) : {};
          } catch {
            parsed = { message: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private async ok(method: string, path: string, body?: unknown, ct?: string): Promise<KObj> {
    const r = await this.request(method, path, body, ct);
    if (r.status < 200 || r.status >= 300) {
      throw new KubeError(r.status, `${method} ${path}: ${r.status} ${String(r.body['message'] ?? '')}`);
    }
    return r.body;
  }

  get(r: Resource, ns: string | undefined, name: string): Promise<KObj> {
    return this.ok('GET', resourcePath(r, ns, name));
  }
  async getOr(r: Resource, ns: string | undefined, name: string): Promise<KObj | undefined> {
    const res = await this.request('GET', resourcePath(r, ns, name));
    if (res.status === 404) return undefined;
    if (res.status >= 300) throw new KubeError(res.status, `GET ${r.plural} ${name}: ${res.status}`);
    return res.body;
  }
  list(r: Resource, ns?: string): Promise<KObj> {
    return this.ok('GET', resourcePath(r, ns));
  }
  create(r: Resource, ns: string | undefined, obj: KObj): Promise<KObj> {
    return this.ok('POST', resourcePath(r, ns), obj);
  }
  update(r: Resource, ns: string | undefined, obj: KObj, sub?: string): Promise<KObj> {
    return this.ok('PUT', resourcePath(r, ns, obj['metadata']['name'], sub), obj);
  }
  patch(r: Resource, ns: string | undefined, name: string, patch: KObj, sub?: string): Promise<KObj> {
    return this.ok('PATCH', resourcePath(r, ns, name, sub), patch, 'application/merge-patch+json');
  }
  async delete(r: Resource, ns: string | undefined, name: string, gracePeriodSeconds?: number): Promise<boolean> {
    const q = gracePeriodSeconds === undefined ? '' : `?gracePeriodSeconds=${gracePeriodSeconds}`;
    const res = await this.request('DELETE', resourcePath(r, ns, name) + q);
    if (res.status === 404) return false;
    if (res.status >= 300) throw new KubeError(res.status, `DELETE ${r.plural} ${name}: ${res.status} ${String(res.body['message'] ?? '')}`);
    return true;
  }
  /** Create, or replace the existing object of the same name (kubectl apply without the merge). */
  async createOrReplace(r: Resource, ns: string | undefined, obj: KObj): Promise<KObj> {
    const res = await this.request('POST', resourcePath(r, ns), obj);
    if (res.status >= 200 && res.status < 300) return res.body;
    if (res.status !== 409) throw new KubeError(res.status, `POST ${r.plural}: ${res.status} ${String(res.body['message'] ?? '')}`);
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(r, ns, obj['metadata']['name']);
      const next = { ...obj, metadata: { ...obj['metadata'], resourceVersion: cur['metadata']['resourceVersion'] } };
      const put = await this.request('PUT', resourcePath(r, ns, obj['metadata']['name']), next);
      if (put.status >= 200 && put.status < 300) return put.body;
      if (put.status !== 409 || attempt > 5) throw new KubeError(put.status, `PUT ${r.plural}: ${put.status} ${String(put.body['message'] ?? '')}`);
    }
  }
  /** GET, change, PUT; retried on conflicts. `mutate` returns false to skip the write. */
  async modify(r: Resource, ns: string | undefined, name: string, mutate: (o: KObj) => boolean | void, sub?: string): Promise<KObj | undefined> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.getOr(r, ns, name);
      if (!cur) return undefined;
      if (mutate(cur) === false) return cur;
      const res = await this.request('PUT', resourcePath(r, ns, name, sub), cur);
      if (res.status >= 200 && res.status < 300) return res.body;
      if (res.status === 404 && sub) {
        // A server without the subresource: write the whole object instead.
        sub = undefined;
        continue;
      }
      if (res.status !== 409 || attempt > 8) throw new KubeError(res.status, `PUT ${r.plural}/${name}${sub ? '/' + sub : ''}: ${res.status} ${String(res.body['message'] ?? '')}`);
    }
  }

  /**
   * Streams watch events until the server ends the stream or `signal` aborts. Resolves with the reason.
   */
  watch(r: Resource, resourceVersion: string, onEvent: (type: string, obj: KObj) => void, signal: AbortSignal): Promise<'ended' | 'gone' | 'error'> {
    return new Promise((resolve) => {
      const path = `${resourcePath(r)}?watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`;
      const opts = this.options('GET', path, {});
      opts.agent = false;
      let settled = false;
      const done = (v: 'ended' | 'gone' | 'error'): void => {
        if (!settled) {
          settled = true;
          resolve(v);
        }
      };
      const req = http.request(opts, (res) => {
        if (res.statusCode === 410) return done('gone');
        if (res.statusCode !== 200) {
          res.resume();
          return done('error');
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            try {
              const ev = JSON.parse(line) as { type: string; object: KObj };
              if (ev.type === 'ERROR') {
                done(ev.object?.['code'] === 410 ? 'gone' : 'error');
                req.destroy();
                return;
              }
              onEvent(ev.type, ev.object);
            } catch {
              /* a partial or bad line: skip it, the relist will repair */
            }
          }
        });
        res.on('end', () => done('ended'));
        res.on('error', () => done('error'));
        res.on('close', () => done('ended'));
      });
      req.on('error', () => done('error'));
      signal.addEventListener('abort', () => {
        req.destroy();
        done('ended');
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export const keyOf = (o: KObj): string =>
  o['metadata']?.['namespace'] ? `${o['metadata']['namespace']}/${o['metadata']['name']}` : String(o['metadata']?.['name']);

/**
 * List + watch with relist on 410 or a broken stream; keeps a cache and reports every change.
 * `onChange` gets the object and whether it was deleted; a relist reports deletions of vanished keys.
 */
export class Informer {
  readonly cache = new Map<string, KObj>();
  private readonly abort = new AbortController();
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  constructor(
    private readonly client: KubeClient,
    private readonly resource: Resource,
    private readonly onChange: (obj: KObj, deleted: boolean) => void,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  start(): void {
    void this.loop();
  }
  stop(): void {
    this.abort.abort();
  }
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (!this.abort.signal.aborted) {
      let rv: string;
      try {
        const list = await this.client.list(this.resource);
        rv = String(list['metadata']?.['resourceVersion'] ?? '0');
        const seen = new Set<string>();
        for (const item of (list['items'] ?? []) as KObj[]) {
          const k = keyOf(item);
          seen.add(k);
          const old = this.cache.get(k);
          if (old?.['metadata']?.['resourceVersion'] === item['metadata']?.['resourceVersion']) continue;
          this.cache.set(k, item);
          this.onChange(item, false);
        }
        for (const [k, old] of [...this.cache]) {
          if (!seen.has(k)) {
            this.cache.delete(k);
            this.onChange(old, true);
          }
        }
        if (!this.synced) {
          this.synced = true;
          this.syncWaiters.splice(0).forEach((w) => w());
        }
        backoff = 100;
      } catch (e) {
        this.log(`list ${this.resource.plural} failed: ${String(e)}`);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
        continue;
      }
      // Watch from the list's version until the stream breaks; then relist (level-triggered repair).
      for (;;) {
        if (this.abort.signal.aborted) return;
        const why = await this.client.watch(
          this.resource,
          rv,
          (type, obj) => {
            const v = obj?.['metadata']?.['resourceVersion'];
            if (v) rv = String(v);
            if (type === 'BOOKMARK') return;
            const k = keyOf(obj);
            if (type === 'DELETED') {
              this.cache.delete(k);
              this.onChange(obj, true);
            } else {
              this.cache.set(k, obj);
              this.onChange(obj, false);
            }
          },
          this.abort.signal,
        );
        if (why !== 'ended') break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
