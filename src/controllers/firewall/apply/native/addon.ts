// Loads (building if needed) the addon in nf_ctx.c: a resident libnftables context (native backend) and
// a resident libipset session (iptables backends), so a small change skips the `nft` / `ipset` spawn
// (10-15 ms each, more than the change itself). Built like the BGP addon (system C compiler, Node's own
// headers; setup builds it ahead of time). Unavailable (no compiler, no library): the appliers run the
// binaries instead, with the same text.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExecError } from '../../../../dataplane/exec.js';

interface NfAddon {
  open(netnsPath?: string): unknown;
  run(handle: unknown, text: string): Promise<string>;
  ipsetOpen(netnsPath?: string): unknown;
  ipsetRun(handle: unknown, lines: readonly string[]): void;
}

const here = dirname(fileURLToPath(import.meta.url));

/** Beside this file when run from src/, or the src/ twin when run from dist/ (or the one-file bundle in dist/cli/). */
function sourceDir(): string {
  const candidates = [here, resolve(here, '../../../../src/controllers/firewall/apply/native'), resolve(here, '../../src/controllers/firewall/apply/native')];
  return candidates.find((d) => existsSync(join(d, 'nf_ctx.c'))) ?? here;
}

export function nfAddonPath(): string {
  return process.env.KRT_NF_ADDON ?? join(sourceDir(), 'build', 'nf_ctx.node');
}

/** Compiles the addon. Throws on failure. */
export function buildNfAddon(): string {
  const src = join(sourceDir(), 'nf_ctx.c');
  const out = join(sourceDir(), 'build', 'nf_ctx.node');
  const include = resolve(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node headers not found in ${include}`);
  mkdirSync(dirname(out), { recursive: true });
  // Test workers may build at once: each writes its own file and renames it, so none loads a half-written one.
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-DNODE_GYP_MODULE_NAME=nf_ctx', src, '-o', tmp, '-ldl'], { stdio: 'pipe' });
  renameSync(tmp, out);
  return out;
}

let cached: NfAddon | Error | undefined;

function loadAddon(): NfAddon | Error {
  if (cached) return cached;
  try {
    const path = nfAddonPath();
    if (!existsSync(path)) buildNfAddon();
    cached = createRequire(import.meta.url)(path) as NfAddon;
  } catch (e) {
    cached = new Error(`netfilter addon unavailable (${(e as Error).message.split('\n')[0]})`);
  }
  return cached;
}

const netnsPath = (netns: string | undefined): string | undefined => (netns !== undefined ? `/run/netns/${netns}` : undefined);

/** One libnftables context: `run` is one `nft -f` transaction (all or nothing), without a process. */
export interface NftContext {
  run(text: string): Promise<string>;
}

/**
 * A context bound to the network namespace `netns` (a name under /run/netns; the process's own when
 * absent), or the Error that says why there is none. Transactions on one context run one at a time.
 */
export function openNftContext(netns?: string): NftContext | Error {
  const addon = loadAddon();
  if (addon instanceof Error) return addon;
  let handle: unknown;
  try {
    handle = addon.open(netnsPath(netns));
  } catch (e) {
    return e as Error;
  }
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run(text: string): Promise<string> {
      // Failures read like the binary's (KRT_EXEC_FAILED with nft's message), so callers handle both alike.
      const next = queue.then(() => addon.run(handle, text)).catch((e: Error) => {
        throw new ExecError('nft', ['-f', '-', '(libnftables)'], 1, null, e.message, '', false);
      });
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

/** A libipset session: `run` is `ipset -exist restore` of the lines, without a process. */
export interface IpsetContext {
  /** Runs the lines in order; throws at the first that fails (earlier ones stay, as with `ipset restore`). */
  run(lines: readonly string[]): void;
}

/** A session bound to `netns` (a name under /run/netns; the process's own when absent), or the Error why not. */
export function openIpsetContext(netns?: string): IpsetContext | Error {
  const addon = loadAddon();
  if (addon instanceof Error) return addon;
  let handle: unknown;
  try {
    handle = addon.ipsetOpen(netnsPath(netns));
  } catch (e) {
    return e as Error;
  }
  return {
    run(lines: readonly string[]): void {
      try {
        addon.ipsetRun(handle, lines);
      } catch (e) {
        // libipset's messages end in a newline before our "(line N: ...)".
        throw new ExecError('ipset', ['-exist', 'restore', '(libipset)'], 1, null, (e as Error).message.replace(/\n/g, ' '), '', false);
      }
    },
  };
}
