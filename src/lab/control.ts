// The supervisor's control API: JSON over HTTP on a unix socket in the state dir. `lab status`,
// probes, the conformance runner and `lab down` all talk to a running lab through it.
import { existsSync, rmSync } from 'node:fs';
import http from 'node:http';
import { agentHealth, type AgentHealth } from './health.js';
import type { ProbeTarget } from './pod-process.js';
import { run } from './sh.js';
import { resolveTarget, type LabState } from './state.js';

export interface LabStatus {
  readonly state: LabState;
  readonly processes: readonly { what: string; pid: number; running: boolean; exit?: string }[];
  readonly health: Readonly<Record<string, AgentHealth>>;
}

interface SupervisorLike {
  readonly state: LabState;
  readonly pods: LabState['pods'];
  /** Environment for commands run in a lab namespace (the lab's iptables first, the namespace's xtables lock). */
  envIn(netns: string): { PATH: string; XTABLES_LOCKFILE: string };
  probe(from: string, targets: readonly ProbeTarget[], timeoutMs: number): Promise<boolean[]>;
  processes(): LabStatus['processes'];
  stop(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = Buffer.concat(chunks).toString();
      try {
        resolve(t ? JSON.parse(t) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

export class ControlServer {
  private server?: http.Server;
  private tcp?: http.Server;
  private path?: string;
  /** Called after /stop has answered and the supervisor stopped (the detached process exits then). */
  onStopped: () => void = () => undefined;

  constructor(private readonly sup: SupervisorLike) {}

  async health(): Promise<Record<string, AgentHealth>> {
    const state = this.sup.state;
    const health: Record<string, AgentHealth> = {};
    await Promise.all(state.nodes.map(async (n) => (health[n.name] = state.agents ? await agentHealth(n.healthSock) : { ok: false, error: 'agents disabled' })));
    return health;
  }

  async status(): Promise<LabStatus> {
    return { state: { ...this.sup.state, pods: this.sup.pods }, processes: this.sup.processes(), health: await this.health() };
  }

  listen(path: string): Promise<void> {
    rmSync(path, { force: true });
    this.path = path;
    this.server = http.createServer((req, res) => this.handle(req, res));
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, () => resolve());
    });
  }

  /** Also serve on TCP: the host reaches a supervisor inside UML this way (unix sockets stay in their kernel). */
  listenTcp(host: string, port: number): Promise<void> {
    this.tcp = http.createServer((req, res) => this.handle(req, res));
    return new Promise((resolve, reject) => {
      this.tcp!.once('error', reject);
      this.tcp!.listen(port, host, () => resolve());
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/status') return send(200, await this.status());
        if (req.method === 'GET' && req.url === '/health') return send(200, await this.health());
        if (req.method === 'POST' && req.url === '/probe') {
          const b = (await readBody(req)) as { from: string; targets: ProbeTarget[]; timeoutMs?: number };
          return send(200, { results: await this.sup.probe(b.from, b.targets ?? [], b.timeoutMs ?? 1000) });
        }
        if (req.method === 'POST' && req.url === '/exec') {
          const b = (await readBody(req)) as { target: string; argv: string[]; input?: string };
          const ns = resolveTarget({ ...this.sup.state, pods: this.sup.pods }, b.target);
          return send(200, await run('ip', ['netns', 'exec', ns, ...(b.argv ?? [])], { input: b.input ?? '', env: { ...process.env, ...this.sup.envIn(ns) }, timeoutMs: 120_000 }));
        }
        if (req.method === 'POST' && req.url === '/stop') {
          send(200, { stopping: true });
          await this.sup.stop();
          this.onStopped();
          return;
        }
        send(404, { error: `no route ${req.method} ${req.url}` });
      } catch (e) {
        send(500, { error: String(e instanceof Error ? e.message : e) });
      }
    })();
  }

  close(): Promise<void> {
    this.tcp?.close();
    this.tcp?.closeAllConnections();
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
      if (this.path && existsSync(this.path)) rmSync(this.path, { force: true });
    });
  }
}

// Few, reused connections: through UML the control socket is a forking socat with a small accept queue.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Calls the control API; rejects when no supervisor answers. */
export async function control<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await controlOnce<T>(socketPath, method, path, body, timeoutMs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'EAGAIN' && code !== 'ECONNRESET') || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

function controlOnce<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath, path, method, agent, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString()) as T & { error?: string };
          if ((res.statusCode ?? 500) >= 300) reject(new Error(parsed.error ?? `control ${path}: ${res.statusCode}`));
          else resolve(parsed);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`control ${path}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}
