// HTTP front: listening (TCP and optionally a unix socket), bearer-token auth, discovery/openapi/version
// endpoints, URL -> resource routing, error -> Status mapping, and orderly shutdown.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { existsSync, unlinkSync } from 'node:fs';
import { ApiError, errors } from './status.js';
import { Store } from './store.js';
import { Registry } from './registry.js';
import { Discovery, SERVER_VERSION } from './discovery.js';
import { ServiceAllocator } from './allocator.js';
import { ALL_RESOURCES, namespacesDef } from './kinds/index.js';
import { handle, sendJSON, type RestContext, type Target } from './rest.js';
import { SnapshotWriter, loadSnapshot } from './persist.js';
import { writeKubeconfigFile } from './kubeconfig.js';
import type { StrategyContext } from './resources.js';
import { loadOrCreateTls, type TlsMaterial } from './tls.js';
import { WatchControl } from './watch.js';

export interface ApiServerOptions {
  host?: string;
  port?: number;
  unixSocket?: string;
  token?: string;
  serviceCIDR?: string;
  nodePortRange?: string;
  dataFile?: string;
  /** Events kept per resource for watch resume (default 10000). */
  watchHistory?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 60000 ms, like kube-apiserver). */
  bookmarkIntervalMs?: number;
  /**
   * Compact the watch history every this many ms to the resourceVersion of the previous compaction, as
   * kube-apiserver does with etcd (--etcd-compaction-interval, 5 m there): a version stays resumable for
   * one to two intervals, then a watch from it gets 410. 0 (default) keeps only the `watchHistory` bound.
   */
  compactionIntervalMs?: number;
  /** How a watch from an expired resourceVersion is refused: ERROR event in a 200 stream (default, as the
   * watch cache does) or an HTTP 410 Status response. */
  expiredWatch?: 'event' | 'http';
  /** A watch without timeoutSeconds ends after [this, 2x this] ms (kube-apiserver --min-request-timeout,
   * default 1800 s); 0 never ends it. */
  minRequestTimeoutMs?: number;
  /**
   * Serve HTTPS on the TCP port (the unix socket stays plain http). `true` makes a self-signed
   * certificate; kubectl only sends a token over TLS, so use this together with `token` for kubectl.
   */
  tls?: boolean | { certFile: string; keyFile: string };
  log?: (msg: string, obj?: object) => void;
}

export interface ApiServerHandle {
  url: string;
  port: number;
  close(): Promise<void>;
  writeKubeconfig(path: string): Promise<void>;
  /** PEM of the serving certificate when serving HTTPS (it is its own CA when self-signed). */
  caCert?: string;
  /** The current resourceVersion (of the last write). */
  resourceVersion(): number;
  /** Compacts the watch history to `rv` (default: now); older watch resumes get 410. Returns the version. */
  compact(rv?: number): number;
  /** Ends open watches of a resource (plural, e.g. "pods"), or all; returns how many. */
  closeWatches(resource?: string): number;
  /** Compacts to now, then sends ERROR 410 into open watches of a resource (or all) and ends them. */
  expireWatches(resource?: string): number;
  /** New watch requests wait unanswered until releaseWatches() (so a client misses what happens meanwhile). */
  holdWatches(): void;
  releaseWatches(): number;
}

const MAX_BODY = 3 * 1024 * 1024;
const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(errors.tooLarge());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Which apidiscovery version the client accepts, if any (kubectl 1.32 lists v2 first). */
function aggregatedVersion(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(',')) {
    if (!/as=APIGroupDiscoveryList/.test(part) || !/g=apidiscovery\.k8s\.io/.test(part)) continue;
    const v = /v=(v2beta1|v2)\b/.exec(part)?.[1];
    if (v) return `apidiscovery.k8s.io/${v}`;
  }
  return undefined;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServerHandle> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? '127.0.0.1';
  const alloc = new ServiceAllocator(opts.serviceCIDR ?? '10.96.0.0/12', opts.nodePortRange ?? '30000-32767');
  // Time-based start: versions from an earlier process that kept no data file are always older, so
  // clients resuming with them get 410 and relist instead of silently missing changes.
  const store = new Store(ALL_RESOURCES, opts.watchHistory ?? 10_000, Date.now() * 1000);
  const ctx: StrategyContext = { alloc, now: new Date() };
  const registry = new Registry(store, ctx, namespacesDef);
  const discovery = new Discovery(ALL_RESOURCES);

  let writer: SnapshotWriter | undefined;
  let loaded = false;
  if (opts.dataFile) {
    const saved = loadSnapshot(opts.dataFile, store, (def, obj) => def.committed?.(obj, undefined, ctx), log);
    if (saved !== undefined) {
      loaded = true;
      store.bumpTo(saved);
      store.allowResumeFrom(saved);
    }
    writer = new SnapshotWriter(opts.dataFile, store, log);
    store.onChange = () => writer!.markDirty();
  }
  if (!loaded) for (const ns of DEFAULT_NAMESPACES) registry.create(namespacesDef, undefined, { metadata: { name: ns } });

  const watches = new WatchControl(opts.expiredWatch ?? 'event', opts.minRequestTimeoutMs ?? 1_800_000);
  const restCtx: RestContext = { registry, watches, bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000, readBody };
  let compactionTimer: NodeJS.Timeout | undefined;
  if (opts.compactionIntervalMs && opts.compactionIntervalMs > 0) {
    let previous = store.rv;
    compactionTimer = setInterval(() => {
      store.compact(previous);
      previous = store.rv;
    }, opts.compactionIntervalMs);
    compactionTimer.unref();
  }
  const control = {
    resourceVersion: () => store.rv,
    compact: (rv?: number) => store.compact(rv),
    closeWatches: (resource?: string) => watches.close(resource),
    expireWatches: (resource?: string) => {
      store.compact();
      return watches.expire(resource);
    },
    holdWatches: () => watches.hold(),
    releaseWatches: () => watches.release(),
  };

  // Test and lab hooks (not Kubernetes API): POST /debug/krt/{compact,watches/close,watches/expire,
  // watches/hold,watches/release}[?resource=pods][&resourceVersion=N]. Behind the token like the API.
  function admin(req: IncomingMessage, res: ServerResponse, op: string, q: URLSearchParams): void {
    if (req.method !== 'POST') throw errors.methodNotAllowed();
    const resource = q.get('resource') ?? undefined;
    const rvText = q.get('resourceVersion');
    let out: Record<string, number>;
    switch (op) {
      case 'compact':
        if (rvText !== null && !/^\d+$/.test(rvText)) throw errors.badRequest('resourceVersion must be a non-negative integer');
        out = { compactedTo: control.compact(rvText === null ? undefined : Number(rvText)) };
        break;
      case 'watches/close':
        out = { closed: control.closeWatches(resource) };
        break;
      case 'watches/expire':
        out = { expired: control.expireWatches(resource) };
        break;
      case 'watches/hold':
        control.holdWatches();
        out = {};
        break;
      case 'watches/release':
        out = { released: control.releaseWatches() };
        break;
      default:
        throw errors.notFoundPath();
    }
    log('apiserver: admin', { op, resource, ...out });
    req.resume();
    sendJSON(res, 200, JSON.stringify({ ...out, resourceVersion: store.rv }));
  }
  let serverAddress = '';

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (/^\/(healthz|livez|readyz)(\/.*)?$/.test(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) throw errors.unauthorized();
    if (path.startsWith('/debug/krt/')) return admin(req, res, path.slice('/debug/krt/'.length), url.searchParams);
    if (path === '/version') return sendJSON(res, 200, JSON.stringify(SERVER_VERSION));
    if (path === '/api' || path === '/apis') {
      const agg = aggregatedVersion(req.headers.accept);
      if (agg) {
        const ct = `application/json;g=apidiscovery.k8s.io;v=${agg.split('/')[1]};as=APIGroupDiscoveryList`;
        return sendJSON(res, 200, discovery.aggregated(path === '/api', agg), ct);
      }
      return sendJSON(res, 200, path === '/api' ? discovery.apiVersions(serverAddress) : discovery.apiGroupList());
    }
    if (path === '/openapi/v3') return sendJSON(res, 200, discovery.openapiV3Root());
    if (path.startsWith('/openapi/v3/')) {
      const doc = discovery.openapiV3Doc(path.slice('/openapi/v3/'.length));
      if (doc) return sendJSON(res, 200, doc);
      throw errors.notFoundPath();
    }
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string | undefined;
    let rest: string[];
    if (seg[0] === 'api') [group, version, rest] = ['', seg[1], seg.slice(2)];
    else if (seg[0] === 'apis' && seg[1]) {
      [group, version, rest] = [seg[1], seg[2], seg.slice(3)];
      if (!version) {
        const g = discovery.apiGroup1(group);
        if (g) return sendJSON(res, 200, g);
        throw errors.notFoundPath();
      }
    } else throw errors.notFoundPath();
    if (!version) throw errors.notFoundPath();
    if (rest.length === 0) {
      const rl = discovery.resourceList(group, version);
      if (rl) return sendJSON(res, 200, rl);
      throw errors.notFoundPath();
    }
    const target = resolve(group, version, rest);
    if (!target) throw errors.notFoundPath();
    await handle(restCtx, req, res, target, url.searchParams);
  }

  function resolve(group: string, version: string, rest: string[]): Target | undefined {
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const def = discovery.findDef(group, version, rest[2]!);
      if (def?.namespaced) {
        if (rest.length > 5) return undefined;
        return { def, ns: rest[1], name: rest[3], subresource: rest[4], watchPath };
      }
    }
    const def = discovery.findDef(group, version, rest[0]!);
    if (!def || rest.length > 3) return undefined;
    return { def, name: rest[1], subresource: rest[2], watchPath };
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e: unknown) => {
      let err: ApiError;
      if (e instanceof ApiError) err = e;
      else {
        log('apiserver: internal error', { method: req.method, url: req.url, error: (e as Error)?.stack ?? String(e) });
        err = errors.internal((e as Error)?.message ?? String(e));
      }
      if (res.headersSent) return void res.destroy();
      // Drain an unread body so the connection stays usable for keep-alive.
      req.resume();
      sendJSON(res, err.status, JSON.stringify(err.toStatus()));
    });
  };

  const servers: http.Server[] = [];
  let tls: TlsMaterial | undefined;
  if (opts.tls) {
    tls = loadOrCreateTls(typeof opts.tls === 'object' ? { ...opts.tls, hosts: [host] } : { hosts: [host] });
  }
  const tcp = tls
    ? https.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, cert: tls.cert, key: tls.key }, onRequest)
    : http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, onRequest);
  servers.push(tcp);
  await new Promise<void>((res, rej) => {
    tcp.once('error', rej);
    tcp.listen(opts.port ?? 6443, host, () => res());
  });
  const port = (tcp.address() as { port: number }).port;
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
  serverAddress = `${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
  if (opts.unixSocket) {
    if (existsSync(opts.unixSocket)) unlinkSync(opts.unixSocket);
    const us = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, onRequest);
    servers.push(us);
    await new Promise<void>((res, rej) => {
      us.once('error', rej);
      us.listen(opts.unixSocket, () => res());
    });
  }
  log('apiserver: listening', { url, unixSocket: opts.unixSocket, dataFile: opts.dataFile, resourceVersion: store.rv });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    writeKubeconfig: (path: string) => writeKubeconfigFile(path, url, opts.token, tls?.cert),
    caCert: tls?.cert,
    ...control,
    close() {
      closing ??= (async () => {
        clearInterval(compactionTimer);
        watches.release();
        for (const w of [...watches.open]) w.close();
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((res) => {
                s.close(() => res());
                s.closeAllConnections();
              }),
          ),
        );
        if (opts.unixSocket && existsSync(opts.unixSocket)) unlinkSync(opts.unixSocket);
        await writer?.flush();
        log('apiserver: stopped', { url });
      })();
      return closing;
    },
  };
}
