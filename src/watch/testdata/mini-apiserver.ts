// A deliberately tiny list + chunked-watch server for the store tests: it stores whatever it is given (so
// tests can feed malformed objects a real API server would refuse) and can be stopped, restarted on the same
// port, and made to answer 410 Gone. Not a Kubernetes API server; see src/apiserver for that.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown } } & Record<string, unknown>;
interface Event {
  readonly path: string;
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

export const PATHS = {
  Node: '/api/v1/nodes',
  Namespace: '/api/v1/namespaces',
  Pod: '/api/v1/pods',
  Service: '/api/v1/services',
  EndpointSlice: '/apis/discovery.k8s.io/v1/endpointslices',
  NetworkPolicy: '/apis/networking.k8s.io/v1/networkpolicies',
} as const;

export class MiniApiServer {
  private rv = 100;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private history: Event[] = [];
  /** Watches from a resourceVersion below this get 410 Gone. */
  private oldestRV = 0;
  private readonly watchers = new Set<{ path: string; res: ServerResponse }>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;
  listRequests = 0;
  watchRequests = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Drops every connection at once, as a crashed API server would. State is kept for restart. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.watchers.clear();
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  put(path: string, obj: Obj): void {
    const map = this.mapOf(path);
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const copy = structuredClone(obj);
    copy.metadata.resourceVersion = String(++this.rv);
    const type = map.has(key) ? 'MODIFIED' : 'ADDED';
    map.set(key, copy);
    this.emit({ path, rv: this.rv, type, object: copy });
  }

  remove(path: string, namespace: string | undefined, name: string): void {
    const map = this.mapOf(path);
    const key = `${namespace ?? ''}/${name}`;
    const old = map.get(key);
    if (!old) return;
    map.delete(key);
    const copy = structuredClone(old);
    copy.metadata.resourceVersion = String(++this.rv);
    this.emit({ path, rv: this.rv, type: 'DELETED', object: copy });
  }

  /** Forgets history and ends open watches: clients resuming from their resourceVersion get 410 and re-list. */
  compact(): void {
    this.history = [];
    this.oldestRV = this.rv;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private mapOf(path: string): Map<string, Obj> {
    let m = this.objects.get(path);
    if (!m) this.objects.set(path, (m = new Map()));
    return m;
  }

  private emit(ev: Event): void {
    this.history.push(ev);
    for (const w of this.watchers) if (w.path === ev.path) w.res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' || !Object.values(PATHS).includes(url.pathname as never)) {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":404}');
      return;
    }
    const path = url.pathname;
    if (url.searchParams.get('watch') !== 'true') {
      this.listRequests++;
      // Offset-based paging is enough here: tests do not write between the pages of one list.
      const all = [...this.mapOf(path).values()];
      const limit = Number(url.searchParams.get('limit') || '0') || all.length;
      const offset = Number(url.searchParams.get('continue') || '0');
      const next = offset + limit < all.length ? String(offset + limit) : undefined;
      const metadata = { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) };
      const body = { apiVersion: 'v1', kind: 'List', metadata, items: all.slice(offset, offset + limit) };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    this.watchRequests++;
    const since = Number(url.searchParams.get('resourceVersion') || '0');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    if (since > 0 && since < this.oldestRV) {
      const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    for (const ev of this.history) {
      if (ev.rv > since && ev.path === path) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`);
    }
    const w = { path, res };
    this.watchers.add(w);
    req.on('close', () => this.watchers.delete(w));
  }
}
