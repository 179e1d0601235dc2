// Reading an agent's health from the host. Each node's health port is forwarded to a unix socket in the
// state dir (TCP does not cross namespaces), and the agent's /healthz/json says per controller when it
// last synced successfully: the conformance runner waits on that instead of sleeping.
import http from 'node:http';

export interface ControllerSync {
  readonly name: string;
  readonly healthy: boolean;
  readonly lastSync: string | null;
  readonly beats: number;
  readonly reason?: string;
}

export interface AgentHealth {
  readonly ok: boolean;
  readonly status?: number;
  readonly controllers?: readonly ControllerSync[];
  readonly error?: string;
}

// One kept-alive connection per socket: the socket's forwarder (socat) forks a process per connection,
// which inside user-mode Linux costs ~0.1 s of its one CPU; `lab up` polls every node several times a
// second while the agents start, so a new connection per poll slowed the very start-up it waited for.
// Idle sockets are unref'd by the agent, so they keep no process alive.
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function agentHealth(socketPath: string, timeoutMs = 2000): Promise<AgentHealth> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/healthz/json', method: 'GET', agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let controllers: ControllerSync[] | undefined;
        try {
          const j = JSON.parse(text) as { controllers?: ControllerSync[] };
          if (Array.isArray(j.controllers)) controllers = j.controllers;
        } catch {
          /* an agent without the JSON form: the status code still says healthy or not */
        }
        resolve({ ok: res.statusCode === 200, status: res.statusCode ?? 0, ...(controllers ? { controllers } : {}) });
      });
      res.on('error', (e) => resolve({ ok: false, error: String(e) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve({ ok: false, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no health socket' : e.message }));
    req.end();
  });
}

/** Time (ms) of the last successful sync of `controller`, or undefined if unknown. */
export function lastSyncOf(h: AgentHealth, controller: string): { at: number; beats: number } | undefined {
  const c = h.controllers?.find((x) => x.name === controller);
  if (!c || !c.lastSync) return undefined;
  const at = Date.parse(c.lastSync);
  return Number.isFinite(at) ? { at, beats: c.beats } : undefined;
}
