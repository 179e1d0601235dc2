// Loads (and if needed builds) the small N-API addon in bgp_sockopt.c. The setup command builds it ahead of
// time (build.ts); building on first use is a fallback for test runs. Without it, TCP MD5 is unavailable
// and a peer with a password is a startup error, never an unsigned session.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SockoptAddon {
  socket(family: 4 | 6): number;
  setMd5(fd: number, peer: string, key: string): void;
  setTtl(fd: number, ttl: number): void;
  close(fd: number): void;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The source folder: beside this file when run from src/, or the src/ twin when run from dist/
 * (dist/bgp/native/, or dist/cli/ in the one-file bundle).
 */
function sourceDir(): string {
  const candidates = [here, resolve(here, '../../../src/bgp/native'), resolve(here, '../../src/bgp/native')];
  return candidates.find((d) => existsSync(join(d, 'bgp_sockopt.c'))) ?? here;
}

export function addonPath(): string {
  return process.env.KRT_BGP_ADDON ?? join(sourceDir(), 'build', 'bgp_sockopt.node');
}

/** Compiles the addon with the system C compiler against Node's own headers. Throws on failure. */
export function buildAddon(): string {
  const src = join(sourceDir(), 'bgp_sockopt.c');
  const out = join(sourceDir(), 'build', 'bgp_sockopt.node');
  const include = resolve(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node headers not found in ${include}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-DNODE_GYP_MODULE_NAME=bgp_sockopt', src, '-o', out], { stdio: 'pipe' });
  return out;
}

let cached: SockoptAddon | Error | undefined;

/** The addon, or the Error explaining why it cannot be had. */
export function loadAddon(): SockoptAddon | Error {
  if (cached) return cached;
  try {
    const path = addonPath();
    if (!existsSync(path)) buildAddon();
    cached = createRequire(import.meta.url)(path) as SockoptAddon;
  } catch (e) {
    cached = new Error(`TCP MD5/TTL addon unavailable (${(e as Error).message.split('\n')[0]}); run "npx tsx src/bgp/native/build.ts"`);
  }
  return cached;
}
