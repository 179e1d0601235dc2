// Route, link, address and rule I/O through iproute2 (`ip -j ... show` to read, `ip -batch -` to change):
// the project's netlink layer is the `ip` binary, one process per batch of changes, so what the agents and
// the lab do to the kernel is exactly what an operator could type. Reads for commands that run here
// (`runsHere(exec)`: the agent's own namespace) are answered over rtnetlink instead (rtnl-read.ts), in the
// shape `ip -j` prints: inside user-mode Linux an `ip` start costs ~0.5 s of wall time, and the router
// reads at every route sync. Callers own the diffing.
import { execAnyCode, runsHere, type Exec, type ExecResult } from '../exec.js';
import { readAddresses, readLinks, readRoutes, readRules, type KernelLink, type KernelRoute } from './rtnl-read.js';

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
  return here(exec, addressesHere) ?? parse<IpLink>(await exec('ip', ['-j', 'addr', 'show']));
}

export async function showLinksDetailed(exec: Exec): Promise<IpLinkDetail[]> {
  return here(exec, linksDetailedHere) ?? parse<IpLinkDetail>(await exec('ip', ['-j', '-d', 'link', 'show']));
}

export async function showRules(exec: Exec, family: 4 | 6): Promise<IpRule[]> {
  return here(exec, () => rulesHere(family)) ?? parse<IpRule>(await exec('ip', ['-j', `-${family}`, 'rule', 'show']));
}

/** Routes of protocol `proto` in the main table, or in `table`; a table that never held a route is empty. */
export async function showRoutes(exec: Exec, family: 4 | 6, proto: number, table?: number): Promise<IpRoute[]> {
  const fromKernel = here(exec, () => routesHere(family, proto, table ?? RT_TABLE_MAIN));
  if (fromKernel) return fromKernel;
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

// --- The same reads over rtnetlink, for commands that run here -------------------------------------------

/** `read()` when commands run here and the kernel answered; undefined: run `ip` instead. */
function here<T>(exec: Exec, read: () => T | undefined): T | undefined {
  if (!runsHere(exec)) return undefined;
  try {
    return read();
  } catch {
    return undefined; // the process gives the answer, or the error an operator would see
  }
}

const RT_TABLE_MAIN = 254;
const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
/** ip's order of link flags (print_link_flags); NO-CARRIER first for a link up without carrier. */
const LINK_FLAGS: [number, string][] = [
  [0x8, 'LOOPBACK'], [0x2, 'BROADCAST'], [0x10, 'POINTOPOINT'], [0x1000, 'MULTICAST'], [0x80, 'NOARP'], [0x200, 'ALLMULTI'],
  [0x100, 'PROMISC'], [0x400, 'MASTER'], [0x800, 'SLAVE'], [0x4, 'DEBUG'], [0x8000, 'DYNAMIC'], [0x4000, 'AUTOMEDIA'],
  [0x2000, 'PORTSEL'], [0x20, 'NOTRAILERS'], [0x1, 'UP'], [0x10000, 'LOWER_UP'], [0x20000, 'DORMANT'], [0x40000, 'ECHO'],
];

function linkFlags(flags: number): string[] {
  const out = (flags & 0x1) && !(flags & 0x40) ? ['NO-CARRIER'] : [];
  for (const [bit, name] of LINK_FLAGS) if (flags & bit) out.push(name);
  return out;
}

function addressesHere(): IpLink[] | undefined {
  const links = readLinks();
  const addrs = readAddresses();
  if (!links || !addrs) return undefined;
  return links.map((l) => ({
    ifname: l.name,
    ...(l.mtu !== undefined ? { mtu: l.mtu } : {}),
    flags: linkFlags(l.flags),
    addr_info: addrs
      .filter((a) => a.ifindex === l.index)
      .map((a) => ({ family: a.address.includes(':') ? 'inet6' : 'inet', local: a.address, prefixlen: a.prefixLen, scope: SCOPE_NAMES[a.scope] ?? String(a.scope) })),
  }));
}

const detailOf = (l: KernelLink): IpLinkDetail => ({
  ifname: l.name,
  ...(l.kind ? { linkinfo: { info_kind: l.kind, ...(l.local || l.remote ? { info_data: { ...(l.local ? { local: l.local } : {}), ...(l.remote ? { remote: l.remote } : {}) } } : {}) } } : {}),
});

function linksDetailedHere(): IpLinkDetail[] | undefined {
  return readLinks()?.map(detailOf);
}

function rulesHere(family: 4 | 6): IpRule[] | undefined {
  const host = family === 4 ? 32 : 128;
  // As `ip -j rule show` prints the source: the address (with srclen unless a host), a bare length, or all.
  return readRules(family)?.map((r) => ({
    priority: r.priority,
    ...(r.src !== undefined ? { src: r.src, ...(r.srcLen !== host ? { srclen: r.srcLen } : {}) } : r.srcLen ? { src: '0', srclen: r.srcLen } : { src: 'all' }),
    table: TABLE_NAMES[r.table] ?? String(r.table),
  }));
}

/** Routes as `ip -j route show` prints them (with `table` as `-d` adds it); undefined for next hops it does not spell out. */
function ipRoutes(routes: readonly KernelRoute[], links: readonly KernelLink[] | undefined): (IpRoute & { table: string })[] | undefined {
  if (routes.some((r) => r.complexNexthop)) return undefined;
  const names = new Map((links ?? []).map((l) => [l.index, l.name]));
  const out: (IpRoute & { table: string })[] = [];
  for (const r of routes) {
    const dev = r.oif !== undefined ? names.get(r.oif) : undefined;
    if (r.oif !== undefined && dev === undefined) return undefined;
    const host = r.family === 4 ? 32 : 128;
    out.push({
      dst: r.dst === undefined ? 'default' : r.dstLen === host ? r.dst : `${r.dst}/${r.dstLen}`,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      ...(dev ? { dev } : {}),
      ...(r.prefsrc ? { prefsrc: r.prefsrc } : {}),
      table: TABLE_NAMES[r.table] ?? String(r.table),
    });
  }
  return out;
}

function routesHere(family: 4 | 6, proto: number, table: number): IpRoute[] | undefined {
  const routes = readRoutes(family, { protocol: proto, table });
  if (!routes) return undefined;
  return ipRoutes(routes, routes.some((r) => r.oif !== undefined) ? readLinks() : [])?.map(({ table: _t, ...r }) => r);
}

/**
 * For commands that run here: the routes of protocol `proto` in every table (`table` as `ip -d` names it)
 * and, with `withLinks`, every link in `ip -j -d link show`'s shape; undefined: ask `ip`.
 */
export function routeStateHere(exec: Exec, family: 4 | 6, proto: number, withLinks: boolean): { routes: (IpRoute & { table: string })[]; links: IpLinkDetail[] } | undefined {
  return here(exec, () => {
    const routes = readRoutes(family, { protocol: proto });
    const links = withLinks || routes?.some((r) => r.oif !== undefined) ? readLinks() : [];
    if (!routes || !links) return undefined;
    const ip = ipRoutes(routes, links);
    return ip ? { routes: ip, links: withLinks ? links.map(detailOf) : [] } : undefined;
  });
}
