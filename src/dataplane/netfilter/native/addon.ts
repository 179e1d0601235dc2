// Loads (building if needed) the addon in nf_ctx.c: a resident libnftables context (native backend) and
// a resident libipset session (iptables backends), so a small change skips the `nft` / `ipset` spawn
// (10-15 ms each, more than the change itself). Built like the BGP addon (system C compiler, Node's own
// headers; setup builds it ahead of time). Unavailable (no compiler, no library): the appliers run the
// binaries instead, with the same text.
import { nativeAddon } from '../../../native/addon-loader.js';
import { ExecError } from '../../exec.js';

interface NfAddon {
  open(netnsPath?: string): unknown;
  run(handle: unknown, text: string): Promise<string>;
  ipsetOpen(netnsPath?: string): unknown;
  ipsetRun(handle: unknown, lines: readonly string[]): void;
  /** Absent from an addon built before it existed. */
  ipsetSave?(handle: unknown): string;
  ipsetFill(handle: unknown, lines: readonly string[]): Promise<void>;
  /** Absent from an addon built before it existed. */
  nftElems?(handle: unknown, table: string, ops: readonly (readonly [number, number, string, readonly string[]])[]): void;
}

export const nfAddon = nativeAddon<NfAddon>({ name: 'nf_ctx', dir: 'dataplane/netfilter/native', env: 'KRT_NF_ADDON', link: ['-ldl'], label: 'netfilter addon' });
const loadAddon = (): NfAddon | Error => nfAddon.load();

const netnsPath = (netns: string | undefined): string | undefined => (netns !== undefined ? `/run/netns/${netns}` : undefined);

/** One libnftables context: `run` is one `nft -f` transaction (all or nothing), without a process. */
/** Addresses added to or removed from one `type ipv4_addr` / `ipv6_addr` set of an inet table. */
export interface NftElementOp {
  readonly delete: boolean;
  readonly family: 4 | 6;
  readonly set: string;
  readonly addresses: readonly string[];
}

export interface NftContext {
  run(text: string): Promise<string>;
  /**
   * Address elements of the inet table `table` as one batch of our own netlink messages (all or none),
   * without libnftables' parse and cache refresh; in order with `run`. Absent with an older addon.
   */
  elements?(table: string, ops: readonly NftElementOp[]): Promise<void>;
  /**
   * A second context in the same namespace (opened on first use, then kept), whose transactions run on
   * their own worker thread beside this one's: libnftables parses in user space, so two big transactions
   * take about the time of the bigger. Undefined where it cannot be opened.
   */
  beside?(): NftContext | undefined;
}

/**
 * A context bound to the network namespace `netns` (a name under /run/netns; the process's own when
 * absent), or the Error that says why there is none. Transactions on one context run one at a time.
 */
export function openNftContext(netns?: string): NftContext | Error {
  const addon = loadAddon();
  if (addon instanceof Error) return addon;
  const open = (): unknown => addon.open(netnsPath(netns));
  let handle: unknown;
  try {
    handle = open();
  } catch (e) {
    return e as Error;
  }
  let second: NftContext | null | undefined;
  return {
    ...queued(addon, handle),
    beside(): NftContext | undefined {
      if (second === undefined) {
        try {
          second = queued(addon, open());
        } catch {
          second = null;
        }
      }
      return second ?? undefined;
    },
  };
}

/** `run` on one handle, one transaction at a time. */
function queued(addon: NfAddon, handle: unknown): NftContext {
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
    ...(addon.nftElems
      ? {
          elements(table: string, ops: readonly NftElementOp[]): Promise<void> {
            const batch = ops.map((o) => [o.delete ? 1 : 0, o.family === 6 ? 1 : 0, o.set, o.addresses] as const);
            const next = queue.then(() => addon.nftElems!(handle, table, batch)).catch((e: Error) => {
              throw new ExecError('nft', ['-f', '-', '(netlink elements)'], 1, null, e.message, '', false);
            });
            queue = next.catch(() => undefined);
            return next;
          },
        }
      : {}),
  };
}

/** A libipset session: `run` is `ipset -exist restore` of the lines, `save` is `ipset save`, without a process. */
export interface IpsetContext {
  /** Runs the lines in order; throws at the first that fails (earlier ones stay, as with `ipset restore`). */
  run(lines: readonly string[]): void;
  /** What `ipset save` prints; undefined when the addon is too old to read (then run the binary). */
  save(): string | undefined;
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
    save(): string | undefined {
      if (!addon.ipsetSave) return undefined;
      try {
        return addon.ipsetSave(handle);
      } catch (e) {
        throw new ExecError('ipset', ['save', '(libipset)'], 1, null, (e as Error).message.replace(/\n/g, ' '), '', false);
      }
    },
    fill(lines: readonly string[]): Promise<void> {
      return addon.ipsetFill(handle, lines).catch((e: Error) => {
        throw new ExecError('ipset', ['-exist', 'restore', '(netlink fill)'], 1, null, e.message, '', false);
      });
    },
  };
}
