// Route, link, address and rule I/O through iproute2 (`ip -j ... show` to read, `ip -batch -` to change):
// the project's netlink layer is the `ip` binary, one process per read or per batch of changes, so what the
// agents and the lab do to the kernel is exactly what an operator could type. Callers own the diffing.
import { execAnyCode, type Exec, type ExecResult } from '../exec.js';

export interface IpAddrInfo { family: string; local: string; prefixlen: number; scope?: string }
/** One link of `ip -j addr show`. */
export interface IpLink { ifname: string; mtu?: number; operstate?: string; flags?: string[]; addr_info?: IpAddrInfo[] }
/** One link of `ip -j -d link show`. */
export interface IpLinkDetail { ifname: string; linkinfo?: { info_kind?: string; info_data?: { local?: string; remote?: string } } }
/** One route of `ip -j route show`. */
export interface IpRoute { dst: string; gateway?: string; dev?: string; prefsrc?: string }
/** One rule of `ip -j rule show`. */
export interface IpRule { priority?: number; src?: string; srclen?: number; table?: string }

const parse = <T>(res: ExecResult): T[] => JSON.parse(res.stdout || '[]') as T[];

export async function showAddresses(exec: Exec): Promise<IpLink[]> {
  return parse<IpLink>(await exec('ip', ['-j', 'addr', 'show']));
}

export async function showLinksDetailed(exec: Exec): Promise<IpLinkDetail[]> {
  return parse<IpLinkDetail>(await exec('ip', ['-j', '-d', 'link', 'show']));
}

export async function showRules(exec: Exec, family: 4 | 6): Promise<IpRule[]> {
  return parse<IpRule>(await exec('ip', ['-j', `-${family}`, 'rule', 'show']));
}

/** Routes of protocol `proto` in the main table, or in `table`; a table that never held a route is empty. */
export async function showRoutes(exec: Exec, family: 4 | 6, proto: number, table?: number): Promise<IpRoute[]> {
  const args = ['-j', `-${family}`, 'route', 'show', ...(table ? ['table', String(table)] : []), 'proto', String(proto)];
  const res = table ? await execAnyCode(exec, 'ip', args) : await exec('ip', args);
  if (res.code !== 0) {
    // The kernel says a table it has never held a route in "does not exist": that is an empty table.
    if (/table does not exist/i.test(res.stderr)) return [];
    throw new Error(`ip route show table ${table}: ${res.stderr.trim()}`);
  }
  return parse<IpRoute>(res);
}

export interface BatchOptions {
  /** `-4`/`-6` before `-batch` (rule lines have no family of their own). */
  readonly family?: 4 | 6;
  /** `ip -n NETNS`: the lab's form, without `ip netns exec`. */
  readonly netns?: string;
  /**
   * `-force`: apply every line that can be applied and resolve with the exit code and the rejected lines
   * in stderr, instead of stopping at the first bad line and throwing.
   */
  readonly force?: boolean;
}

/** Applies `lines` with one `ip -batch -`; nothing runs for an empty batch. */
export async function ipBatch(exec: Exec, lines: readonly string[], opts: BatchOptions = {}): Promise<ExecResult> {
  if (lines.length === 0) return { code: 0, stdout: '', stderr: '' };
  const args = [
    ...(opts.netns ? ['-n', opts.netns] : []),
    ...(opts.family ? [`-${opts.family}`] : []),
    ...(opts.force ? ['-force'] : []),
    '-batch', '-',
  ];
  const input = lines.join('\n') + '\n';
  return opts.force ? execAnyCode(exec, 'ip', args, { input }) : exec('ip', args, { input });
}
