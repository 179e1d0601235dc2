// Starts and talks to pod-agent processes (see pod-agent.ts): one per pod, inside the pod's namespace,
// driven over its stdin/stdout with JSON lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProbeTarget {
  readonly ip: string;
  readonly port: number;
  readonly proto: 'TCP' | 'UDP';
}

/**
 * Path of a runnable pod-agent script. From dist it is the compiled sibling; when the lab itself runs
 * from TypeScript sources (vitest, tsx) the single self-contained file is transpiled once into the
 * state dir, so tests never depend on a stale build.
 */
export function podAgentScript(stateDir: string): string {
  const here = fileURLToPath(import.meta.url);
  // dist/lab/pod-process.js, or a bundle in dist/lab or dist/cli: the compiled script is dist/lab/pod-agent.js.
  if (here.endsWith('.js') || here.endsWith('.mjs')) return join(dirname(here), '..', 'lab', 'pod-agent.js');
  const src = join(dirname(here), 'pod-agent.ts');
  const out = join(stateDir, 'pod-agent.mjs');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  const require = createRequire(import.meta.url);
  const ts = require('typescript') as typeof import('typescript');
  const js = ts.transpileModule(readFileSync(src, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(out, js);
  return out;
}

export class PodProcess {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (r: boolean[]) => void>();
  private buf = '';
  readonly ready: Promise<string[]>;
  exited = false;

  constructor(opts: { script: string; netns: string; name: string; ports: readonly { port: number; proto: string }[]; log: string }) {
    const ports = opts.ports.map((p) => `${p.port}/${p.proto}`).join(',');
    mkdirSync(dirname(opts.log), { recursive: true });
    // Small heaps: a lab holds 150 of these on a 2-core machine.
    this.child = spawn(
      'nsenter',
      [`--net=/var/run/netns/${opts.netns}`, process.execPath, '--max-old-space-size=32', '--max-semi-space-size=1', opts.script, '--name', opts.name, '--ports', ports],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const logStream = createWriteStream(opts.log, { flags: 'a' });
    this.child.stderr?.pipe(logStream);
    let readyResolve: (e: string[]) => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          const msg = JSON.parse(line) as { ready?: boolean; errors?: string[]; id?: number; results?: boolean[] };
          if (msg.ready) readyResolve(msg.errors ?? []);
          else if (msg.id !== undefined) {
            this.pending.get(msg.id)?.(msg.results ?? []);
            this.pending.delete(msg.id);
          }
        } catch {
          /* not ours */
        }
      }
    });
    this.child.stdin?.on('error', () => undefined);
    this.child.on('exit', (code, sig) => {
      this.exited = true;
      readyReject(new Error(`pod agent exited (${code ?? sig}) before it was ready`));
      for (const [, r] of this.pending) r([]);
      this.pending.clear();
      logStream.end();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Probes all targets in parallel from inside the pod; true = connected (TCP) or answered (UDP). */
  probe(targets: readonly ProbeTarget[], timeoutMs: number): Promise<boolean[]> {
    if (this.exited) return Promise.resolve(targets.map(() => false));
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (r) => resolve(targets.map((_, i) => r[i] === true)));
      this.child.stdin?.write(JSON.stringify({ id, op: 'probe', targets, timeoutMs }) + '\n');
    });
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
  }
}
