// Loads (and if needed builds) proc_spawn.c, the fork-free process runner behind `execHost` (exec.ts).
// Built like the other addons (src/native/addon-loader.ts); without it execHost uses child_process.
import { nativeAddon } from '../../native/addon-loader.js';

export interface SpawnResult {
  readonly code?: number | null;
  /** Signal number that ended the child. */
  readonly signal?: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
  /** The binary could not be started (strerror text), with its errno. */
  readonly spawnError?: string;
  readonly errno?: number;
}

export interface SpawnAddon {
  /** argv[0] is the name the child sees; env null inherits this process's; timeoutMs 0 or Infinity: none. */
  run(file: string, argv: readonly string[], env: readonly string[] | null, cwd: string | null, input: Buffer | null, timeoutMs: number): Promise<SpawnResult>;
  /**
   * A long-lived child: stdin and stderr /dev/null, `fd` the read end of its stdout. `onExit` runs once it
   * has exited; `reap(pid)` then collects it (until then its pid cannot be reused, so kill() is safe).
   */
  start(file: string, argv: readonly string[], env: readonly string[] | null, onExit: () => void): { pid: number; fd: number };
  reap(pid: number): { code: number | null; signal: number | null };
}

export const spawnAddon = nativeAddon<SpawnAddon>({ name: 'proc_spawn', dir: 'dataplane/native', env: 'KRT_SPAWN_ADDON', label: 'process spawn addon' });

let loaded: SpawnAddon | null | undefined;
/** The addon, or undefined when it cannot load (then child_process) or KRT_EXEC_NATIVE=0; loaded on first use. */
export function spawnAddonIfUsable(): SpawnAddon | undefined {
  if (process.env['KRT_EXEC_NATIVE'] === '0') return undefined;
  if (loaded === undefined) {
    const a = spawnAddon.load();
    loaded = a instanceof Error ? null : a;
  }
  return loaded ?? undefined;
}
