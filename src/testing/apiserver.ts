// Small HTTP helpers shared by the apiserver tests (raw requests and watch streams, no client library).
import http from 'node:http';

export interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  socketPath?: string,
): Promise<Resp> {
  const u = new URL(path, base);
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        socketPath,
        agent: false,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export interface WatchStream {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  events: { type: string; object: any }[];
  ended: Promise<void>;
  status: Promise<number>;
  /** Resolves when at least n events arrived (rejects after timeoutMs). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): void;
}

export function openWatch(base: string, path: string, headers: Record<string, string> = {}): WatchStream {
  const u = new URL(path, base);
  const events: WatchStream['events'] = [];
  let waiters: (() => void)[] = [];
  let endResolve!: () => void;
  let statusResolve!: (n: number) => void;
  const ended = new Promise<void>((r) => (endResolve = r));
  const status = new Promise<number>((r) => (statusResolve = r));
  let buf = '';
  const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent: false }, (res) => {
    statusResolve(res.statusCode ?? 0);
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    });
    res.on('end', endResolve);
    res.on('close', endResolve);
  });
  req.on('error', () => endResolve());
  return {
    events,
    ended,
    status,
    close: () => req.destroy(),
    waitFor(n, timeoutMs = 5000) {
      return new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${n} events, got ${JSON.stringify(events.map((e) => e.type))}`)), timeoutMs);
        const check = () => {
          if (events.length >= n) {
            clearTimeout(deadline);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

export function pod(name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { containers: [{ name: 'c', image: 'busybox:1.36', ports: [{ containerPort: 8080 }] }], ...extra },
  };
}

/** One JSON REST call to an API server; a status of 300 or more throws with the answer's start. */
export async function restCall(base: string, method: string, path: string, body?: unknown, ct = 'application/json'): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'Content-Type': ct }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
