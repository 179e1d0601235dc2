// Loads (building if needed) the libnftables addon in nft_ctx.c: a resident nft context, so the native
// backend's transactions skip the `nft` spawn. Built like the BGP addon (system C compiler, Node's own
// headers; setup builds it ahead of time). Unavailable (no compiler, no libnftables.so.1): the applier
// runs the nft binary instead, with the same text.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface NftAddon {
  open(netnsPath?: string): unknown;
  run(handle: unknown, text: string): Promise<string>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Beside this file when run from src/, or the src/ twin when run from dist/ (or the one-file bundle in dist/cli/). */
function sourceDir(): string {
  const candidates = [here, resolve(here, '../../../../src/controllers/firewall/apply/native'), resolve(here, '../../src/controllers/firewall/apply/native')];
  return candidates.find((d) => existsSync(join(d, 'nft_ctx.c'))) ?? here;
}

export function nftAddonPath(): string {
  return process.env.KRT_NFT_ADDON ?? join(sourceDir(), 'build', 'nft_ctx.node');
}

/** Compiles the addon. Throws on failure. */
export function buildNftAddon(): string {
  const src = join(sourceDir(), 'nft_ctx.c');
  const out = join(sourceDir(), 'build', 'nft_ctx.node');
  const include = resolve(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node headers not found in ${include}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-DNODE_GYP_MODULE_NAME=nft_ctx', src, '-o', out, '-ldl'], { stdio: 'pipe' });
  return out;
}

let cached: NftAddon | Error | undefined;

function loadNftAddon(): NftAddon | Error {
  if (cached) return cached;
  try {
    const path = nftAddonPath();
    if (!existsSync(path)) buildNftAddon();
    cached = createRequire(import.meta.url)(path) as NftAddon;
  } catch (e) {
    cached = new Error(`libnftables addon unavailable (${(e as Error).message.split('\n')[0]})`);
  }
  return cached;
}

/** One libnftables context: `run` is one `nft -f` transaction (all or nothing), without a process. */
export interface NftContext {
  run(text: string): Promise<string>;
}

/**
 * A context bound to the network namespace `netns` (a name under /run/netns; the process's own when
 * absent), or the Error that says why there is none. Transactions on one context run one at a time.
 */
export function openNftContext(netns?: string): NftContext | Error {
  const addon = loadNftAddon();
  if (addon instanceof Error) return addon;
  let handle: unknown;
  try {
    handle = addon.open(netns !== undefined ? `/run/netns/${netns}` : undefined);
  } catch (e) {
    return e as Error;
  }
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run(text: string): Promise<string> {
      const next = queue.then(() => addon.run(handle, text));
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
