// Parent side of speaker-host.ts: a typed RPC client for speakers running inside a namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Advertisement, PeerConfig, PeerStatus, Route, SpeakerOptions } from '../../../bgp/api.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');

export class SpeakerHost {
  private next = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(new Error(m.error)); else w.resolve(m.result);
    });
    child.on('exit', () => { for (const w of this.waiting.values()) w.reject(new Error('speaker host exited')); this.waiting.clear(); });
  }

  /**
   * Starts speaker-host in `ns`. With `compiledScript` (a speaker-host.js built by tsc) it runs without the
   * tsx loader, which keeps ~30 MB of loader out of the process RSS the benchmark reports.
   */
  static async spawn(ns: string | undefined, nodeArgs: string[] = [], compiledScript?: string): Promise<SpeakerHost> {
    const script = join(here, 'speaker-host.ts');
    const node = compiledScript ? [...nodeArgs, compiledScript] : [...nodeArgs, '--import', 'tsx', script];
    const child = ns
      ? spawn('ip', ['netns', 'exec', ns, process.execPath, ...node], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn(process.execPath, node, { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('speaker host did not start')), 30_000);
      child.once('message', () => { clearTimeout(t); res(); });
      child.once('exit', (c) => { clearTimeout(t); rej(new Error(`speaker host exited with ${c}`)); });
    });
    return new SpeakerHost(child);
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, args });
    });
  }

  create(name: string, opts: Omit<SpeakerOptions, 'log'>) { return this.call<boolean>('create', name, opts); }
  start(name: string) { return this.call<void>('start', name); }
  stop(name: string, graceful = false) { return this.call<boolean>('stop', name, graceful); }
  setPeers(name: string, peers: PeerConfig[]) { return this.call<boolean>('setPeers', name, peers); }
  setAdvertisements(name: string, ads: Advertisement[]) { return this.call<boolean>('setAdvertisements', name, ads); }
  peers(name: string) { return this.call<PeerStatus[]>('peers', name); }
  bestPaths(name: string) { return this.call<Route[]>('bestPaths', name); }
  refresh(name: string, addr: string) { return this.call<boolean>('refresh', name, addr); }
  rawExchange(host: string, port: number, hex: string, waitMs: number, localAddress?: string) { return this.call<string>('rawExchange', host, port, hex, waitMs, localAddress); }
  waitRoutes(name: string, count: number, timeoutMs: number) { return this.call<{ ok: boolean; msFromEstablished: number; count: number }>('waitRoutes', name, count, timeoutMs); }
  logs() { return this.call<string[]>('logs'); }
  capture(listen: string, ms: number, openHex: string) { return this.call<string>('capture', listen, ms, openHex); }
  establishedAt(name: string, addr: string) { return this.call<number>('establishedAt', name, addr); }
  mesh(n: number, bulk: number) { return this.call<import('./mesh.js').MeshResult>('mesh', n, bulk); }
  memory() { return this.call<NodeJS.MemoryUsage>('memory'); }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    try { await Promise.race([this.call('exit'), new Promise((r) => setTimeout(r, 500))]); } catch { /* exiting */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
