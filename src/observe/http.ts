// The small HTTP plumbing shared by the health and metrics endpoints.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpEndpoint {
  /** The address actually bound ("::" or "0.0.0.0" when listening on all). */
  readonly address: string;
  /** The port actually bound (useful when 0 was asked of the OS in tests). */
  readonly port: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Listens on `addr` ('' = all addresses) and `port`. Rejects with "listen tcp addr:port: reason" so the
 * agent can say exactly which server failed and why.
 */
export function serve(name: string, addr: string, port: number, handler: Handler): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
  // Probes and scrapers open short connections; never let an idle one hold shutdown.
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
      reject(new Error(`${name} server: listen tcp ${where}: ${err.code ?? err.message}`, { cause: err }));
    });
    server.listen({ host: addr === '' ? undefined : addr, port }, () => {
      const a = server.address() as AddressInfo;
      resolve({
        address: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** The path of a request without its query string, and whether a query flag is present. */
export function requestPath(req: IncomingMessage): { path: string; query: URLSearchParams } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return { path: url.pathname, query: url.searchParams };
}
