// A daemon process inside a namespace, with its output captured to a file.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';

export class NsProcess {
  private child: ChildProcess | undefined;
  constructor(private readonly ns: string, private readonly argv: readonly string[], private readonly logFile: string, private readonly env: Record<string, string> = {}) {}

  start(): void {
    const fd = openSync(this.logFile, 'a');
    this.child = spawn('ip', ['netns', 'exec', this.ns, ...this.argv], { stdio: ['ignore', fd, fd], env: { ...process.env, ...this.env } });
    closeSync(fd);
    this.child.on('error', () => {});
  }

  get pid(): number | undefined { return this.child?.pid; }

  get running(): boolean { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGCONT');
    c.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.running) { c.kill('SIGKILL'); await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]); }
  }

  log(): string {
    try { return readFileSync(this.logFile, 'utf8'); } catch { return ''; }
  }
}

export function which(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':').concat(['/usr/sbin', '/usr/lib/frr'])) {
    try { accessSync(`${dir}/${cmd}`, constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}
