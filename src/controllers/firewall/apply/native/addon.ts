// Loads (building if needed) the addon in nf_ctx.c: a resident libnftables context (native backend) and
// a resident libipset session (iptables backends), so a small change skips the `nft` / `ipset` spawn
// (10-15 ms each, more than the change itself). Built like the BGP addon (system C compiler, Node's own
// headers; setup builds it ahead of time). Unavailable (no compiler, no library): the appliers run the
// binaries instead, with the same text.
import { nativeAddon } from '../../../../native/addon-loader.js';
import { ExecError } from '../../../../dataplane/exec.js';

interface NfAddon {
  open(netnsPath?: string): unknown;
  run(handle: unknown, text: string): Promise<string>;
  ipsetOpen(netnsPath?: string): unknown;
  ipsetRun(handle: unknown, lines: readonly string[]): void;
  ipsetFill(handle: unknown, lines: readonly string[]): Promise<void>;
}

export const nfAddon = nativeAddon<NfAddon>({ name: 'nf_ctx', dir: 'controllers/firewall/apply/native', env: 'KRT_NF_ADDON', link: ['-ldl'], label: 'netfilter addon' });
const loadAddon = (): NfAddon | Error => nfAddon.load();

const netnsPath = (netns: string | undefined): string | undefined => (netns !== undefined ? `/run/netns/${netns}` : undefined);

/** One libnftables context: `run` is one `nft -f` transaction (all or nothing), without a process. */
export interface NftContext {
  run(text: string): Promise<string>;
  /**
   * Several transactions at once, each on its own context and worker thread (libnftables parses in user
   * space: two big ones take the time of the bigger), committed in whatever order they finish; after
   * the runs queued before, and before any queued after. Rejects if any fails (the others may have committed).
   */
  runBeside?(texts: readonly string[]): Promise<string[]>;
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
  // Failures read like the binary's (KRT_EXEC_FAILED with nft's message), so callers handle both alike.
  const asExecError = (e: Error): never => {
    throw new ExecError('nft', ['-f', '-', '(libnftables)'], 1, null, e.message, '', false);
  };
  /** Contexts for runBeside beyond the first, opened when first needed and kept. */
  const extra: unknown[] = [];
  return {
    run(text: string): Promise<string> {
      const next = queue.then(() => addon.run(handle, text)).catch(asExecError);
      queue = next.catch(() => undefined);
      return next;
    },
    runBeside(texts: readonly string[]): Promise<string[]> {
      const next = queue
        .then(() => {
          while (extra.length < texts.length - 1) extra.push(addon.open(netnsPath(netns)));
          return Promise.all(texts.map((t, i) => addon.run(i === 0 ? handle : extra[i - 1], t)));
        })
        .catch(asExecError);
      queue = next.catch(() => undefined);
      return next;
    },
  };
}

/** A libipset session: `run` is `ipset -exist restore` of the lines, without a process. */
export interface IpsetContext {
  /** Runs the lines in order; throws at the first that fails (earlier ones stay, as with `ipset restore`). */
  run(lines: readonly string[]): void;
  /**
   * A bulk fill: `add SET ENTRY` lines of the compiler's canonical entries into sets that exist (`create`
   * lines are skipped), -exist, written as netlink messages on a worker thread without libipset's per-entry
   * name lookups (nf_ctx.c). Rejects at the first message the kernel refuses; earlier ones stay.
   */
  fill(lines: readonly string[]): Promise<void>;
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
    fill(lines: readonly string[]): Promise<void> {
      return addon.ipsetFill(handle, lines).catch((e: Error) => {
        throw new ExecError('ipset', ['-exist', 'restore', '(netlink fill)'], 1, null, e.message, '', false);
      });
    },
  };
}
