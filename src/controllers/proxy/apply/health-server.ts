// One HTTP server per healthCheckNodePort, answering as kube-proxy's service health server does: any
// path, JSON {"service":{"namespace","name"},"localEndpoints":N,"serviceProxyHealthy":bool}, header
// X-Load-Balancing-Endpoint-Weight: N, status 200 when N > 0 and the proxy is healthy, else 503.
// Servers open and close as services come and go; counts change in place without reopening the port.
import { createServer, type Server } from 'node:http';
import type { HealthCheck } from '../compile/health-checks.js';

export class HealthCheckServers {
  private readonly servers = new Map<number, { server: Server; check: HealthCheck }>();
  private healthy = true;

  constructor(private readonly o: { readonly host?: string; readonly onError: (port: number, err: Error) => void }) {}

  /** Whether the proxy's last sync succeeded (kube-proxy's serviceProxyHealthy). */
  setHealthy(ok: boolean): void {
    this.healthy = ok;
  }

  ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  async sync(want: ReadonlyMap<number, HealthCheck>): Promise<{ opened: number[]; closed: number[] }> {
    const opened: number[] = [];
    const closed: number[] = [];
    for (const [port, entry] of [...this.servers]) {
      const w = want.get(port);
      if (w && w.namespace === entry.check.namespace && w.name === entry.check.name) continue;
      this.servers.delete(port);
      await new Promise<void>((res) => entry.server.close(() => res()));
      closed.push(port);
    }
    for (const [port, check] of want) {
      const have = this.servers.get(port);
      if (have) {
        have.check = check;
        continue;
      }
      const entry = { server: createServer((req, res) => this.answer(entry.check, res)), check };
      try {
        await new Promise<void>((res, rej) => {
          entry.server.once('error', rej);
          entry.server.listen(port, this.o.host, () => res());
        });
      } catch (e) {
        // Someone else holds the port: log it and try again at the next sync (kube-proxy does the same).
        this.o.onError(port, e as Error);
        continue;
      }
      entry.server.on('error', (e) => this.o.onError(port, e));
      this.servers.set(port, entry);
      opened.push(port);
    }
    return { opened, closed };
  }

  private answer(check: HealthCheck, res: import('node:http').ServerResponse): void {
    const n = check.localEndpoints;
    const body = JSON.stringify({ service: { namespace: check.namespace, name: check.name }, localEndpoints: n, serviceProxyHealthy: this.healthy }, null, 2);
    res.writeHead(n > 0 && this.healthy ? 200 : 503, {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(n),
    });
    res.end(body);
  }

  async close(): Promise<void> {
    await this.sync(new Map());
  }
}
