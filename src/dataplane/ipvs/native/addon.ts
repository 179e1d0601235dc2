// Loads (and if needed builds) the IPVS generic-netlink socket addon (ipvs_genl.c), as src/bgp/native does
// for its addon: scripts/setup.sh builds it ahead of time (build.ts); building on first use is the fallback.
// Without it the proxy writes IPVS with `ipvsadm -R` (apply/ipvs-writer.ts says so once).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GenlSocketAddon {
  open(): void;
  /** Sends the requests (consecutive sequence numbers) and returns every reply until each has ended. */
  exchange(requests: Buffer): Buffer;
  close(): void;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The source folder: beside this file from src/, or its src/ twin from dist/ (dist/dataplane/ipvs/native, or dist/cli in the bundle). */
function sourceDir(): string {
  const candidates = [here, resolve(here, '../../../../src/dataplane/ipvs/native'), resolve(here, '../../src/dataplane/ipvs/native')];
  return candidates.find((d) => existsSync(join(d, 'ipvs_genl.c'))) ?? here;
}

export function genlAddonPath(): string {
  return process.env['KRT_IPVS_ADDON'] ?? join(sourceDir(), 'build', 'ipvs_genl.node');
}

/** Compiles the addon with the system C compiler against Node's own headers. Throws on failure. */
export function buildGenlAddon(): string {
  const src = join(sourceDir(), 'ipvs_genl.c');
  const out = join(sourceDir(), 'build', 'ipvs_genl.node');
  const include = resolve(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node headers not found in ${include}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-DNODE_GYP_MODULE_NAME=ipvs_genl', src, '-o', out], { stdio: 'pipe' });
  return out;
}

let cached: GenlSocketAddon | Error | undefined;

/** The addon, or the Error explaining why it cannot be had. */
export function loadGenlAddon(): GenlSocketAddon | Error {
  if (cached) return cached;
  try {
    const path = genlAddonPath();
    if (!existsSync(path)) buildGenlAddon();
    cached = createRequire(import.meta.url)(path) as GenlSocketAddon;
  } catch (e) {
    cached = new Error(`IPVS netlink addon unavailable (${(e as Error).message.split('\n')[0]}); run "npx tsx src/dataplane/ipvs/native/build.ts"`);
  }
  return cached;
}
