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
}

export const spawnAddon = nativeAddon<SpawnAddon>({ name: 'proc_spawn', dir: 'dataplane/native', env: 'KRT_SPAWN_ADDON', label: 'process spawn addon' });
