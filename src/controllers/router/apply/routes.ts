// Reconciles the kernel's proto-17 routes and tun-* tunnels with a RoutePlan: reads what the kernel has,
// diffs, and applies every change in one `ip -batch`. Routes of any other protocol are never touched.
import { formatCIDR, parseCIDROrIP } from '../../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../../model/normalize/ip.js';
import { POLICY_TABLE, ROUTE_PROTO, isTunnelName, type DesiredRoute, type DesiredTunnel, type RoutePlan } from '../compile/routes.js';
import type { Exec } from '../../../dataplane/exec.js';
import { ipBatch, routeStateHere, showLinksDetailed, showRoutes, type IpLinkDetail, type IpRoute } from '../../../dataplane/ip/ip.js';

export interface KernelRoute {
  readonly dst: string;
  readonly via?: string;
  readonly dev?: string;
  readonly src?: string;
}

export interface KernelTunnel {
  readonly name: string;
  readonly kind: string;
  readonly local?: string;
  readonly remote?: string;
}

export interface RouteDiff {
  readonly commands: readonly string[];
  readonly added: number;
  readonly removed: number;
  readonly tunnelsAdded: number;
  readonly tunnelsRemoved: number;
}

function kernelRoute(r: IpRoute): KernelRoute {
  // ip prints host routes as a bare address; "default" and the like are kept as printed.
  const c = parseCIDROrIP(r.dst, GO_ADDRESSES);
  const dst = c ? formatCIDR(c, GO_ADDRESSES) : r.dst;
  return { dst, ...(r.gateway ? { via: r.gateway } : {}), ...(r.dev ? { dev: r.dev } : {}), ...(r.prefsrc ? { src: r.prefsrc } : {}) };
}

/** Our routes in the main table, or in `table` (POLICY_TABLE). */
export async function readKernelRoutes(exec: Exec, families: readonly (4 | 6)[], table?: number): Promise<KernelRoute[]> {
  const out: KernelRoute[] = [];
  for (const f of families) for (const r of await showRoutes(exec, f, ROUTE_PROTO, table)) out.push(kernelRoute(r));
  return out;
}

function kernelTunnels(links: readonly IpLinkDetail[]): KernelTunnel[] {
  return links
    .filter((l) => isTunnelName(l.ifname))
    .map((l) => ({
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? '',
      ...(l.linkinfo?.info_data?.local ? { local: l.linkinfo.info_data.local } : {}),
      ...(l.linkinfo?.info_data?.remote ? { remote: l.linkinfo.info_data.remote } : {}),
    }));
}

export async function readKernelTunnels(exec: Exec): Promise<KernelTunnel[]> {
  return kernelTunnels(await showLinksDetailed(exec));
}

/** What a route apply diffs against: our routes in the main table and in POLICY_TABLE, and the tun-* links. */
export interface KernelRouteState {
  readonly routes: readonly KernelRoute[];
  readonly policyRoutes: readonly KernelRoute[];
  readonly tunnels: readonly KernelTunnel[];
}

/** `ip -d` names the main table; a host whose rt_tables names 77 (kube-router's own name for it) prints that. */
const MAIN_TABLE = new Set(['main', undefined]);
const POLICY_TABLE_NAMES = new Set([String(POLICY_TABLE), 'kube-router']);

/**
 * Pure: the output of one `ip -j -d -batch -` whose lines were `route show table all proto 17` and (first
 * family only) `link show`: one JSON array per line, in the order of the commands.
 */
export function parseRouteStateBatch(stdout: string, withLinks: boolean): { routes: KernelRoute[]; policyRoutes: KernelRoute[]; links: IpLinkDetail[] } {
  const docs = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown[]);
  if (docs.length !== (withLinks ? 2 : 1)) throw new Error(`ip -batch: expected ${withLinks ? 2 : 1} JSON lists, got ${docs.length}`);
  const all = docs[0] as (IpRoute & { table?: string })[];
  return {
    routes: all.filter((r) => MAIN_TABLE.has(r.table)).map(kernelRoute),
    policyRoutes: all.filter((r) => r.table !== undefined && POLICY_TABLE_NAMES.has(r.table)).map(kernelRoute),
    links: withLinks ? (docs[1] as IpLinkDetail[]) : [],
  };
}

async function readRouteStateBatch(exec: Exec, f: 4 | 6, withLinks: boolean): Promise<string> {
  const lines = [`route show table all proto ${ROUTE_PROTO}`, ...(withLinks ? ['link show'] : [])];
  return (await exec('ip', ['-j', '-d', `-${f}`, '-batch', '-'], { input: lines.join('\n') + '\n' })).stdout;
}

/** The same state over rtnetlink for commands that run here (no process); undefined: ask `ip`. */
function routeStateFromKernel(exec: Exec, f: 4 | 6, withLinks: boolean): ReturnType<typeof parseRouteStateBatch> | undefined {
  const got = routeStateHere(exec, f, ROUTE_PROTO, withLinks);
  if (!got) return undefined;
  return {
    routes: got.routes.filter((r) => MAIN_TABLE.has(r.table)).map(kernelRoute),
    policyRoutes: got.routes.filter((r) => POLICY_TABLE_NAMES.has(r.table)).map(kernelRoute),
    links: got.links,
  };
}

/**
 * Everything a route apply reads, in one `ip` process per family (none for commands that run here) (was three per family: main table, table
 * 77, links). Inside the lab's user-mode Linux a process start costs ~0.2 s of its one CPU, and a route
 * sync runs on every best-path change, so this is most of the router's start-up reads.
 */
export async function readKernelRouteState(exec: Exec, families: readonly (4 | 6)[]): Promise<KernelRouteState> {
  const routes: KernelRoute[] = [], policyRoutes: KernelRoute[] = [];
  let tunnels: KernelTunnel[] = [];
  for (const [i, f] of families.entries()) {
    const withLinks = i === 0;
    const got = routeStateFromKernel(exec, f, withLinks) ?? parseRouteStateBatch(await readRouteStateBatch(exec, f, withLinks), withLinks);
    routes.push(...got.routes);
    policyRoutes.push(...got.policyRoutes);
    if (withLinks) tunnels = kernelTunnels(got.links);
  }
  if (families.length === 0) tunnels = await readKernelTunnels(exec);
  return { routes, policyRoutes, tunnels };
}

function routeMatches(want: DesiredRoute, have: KernelRoute): boolean {
  if (want.via !== undefined) return have.via === want.via;
  return have.via === undefined && have.dev === want.dev && (want.src === undefined || have.src === want.src);
}

function tunnelCommands(t: DesiredTunnel): string[] {
  const kind = t.family === 4 ? 'ipip' : 'ip6tnl mode ip6ip6';
  const encap = t.encap === 'fou' ? ` encap fou encap-sport auto encap-dport ${t.encapPort}` : '';
  const cmds = [];
  if (t.encap === 'fou') cmds.push(`fou add port ${t.encapPort} ipproto ${t.family === 4 ? 4 : 41}`);
  cmds.push(`link add name ${t.name} type ${kind} local ${t.local} remote ${t.remote}${encap}`, `link set ${t.name} up`);
  return cmds;
}

function diffTable(
  want: readonly DesiredRoute[], kernel: readonly KernelRoute[], table: string, recreatedTunnels: ReadonlySet<string>, allowDeletes: boolean,
): { cmds: string[]; added: number; removed: number } {
  const cmds: string[] = [];
  let added = 0, removed = 0;
  const have = new Map<string, KernelRoute[]>();
  for (const r of kernel) have.set(r.dst, [...(have.get(r.dst) ?? []), r]);
  const wanted = new Set<string>();
  for (const r of want) {
    wanted.add(r.dst);
    const h = have.get(r.dst) ?? [];
    // A route through a tunnel that was just recreated lost its route with the link, so re-add it too.
    if (h.length === 1 && routeMatches(r, h[0]!) && !(r.dev !== undefined && recreatedTunnels.has(r.dev))) continue;
    const how = r.via !== undefined ? `via ${r.via}` : `dev ${r.dev}${r.src ? ` src ${r.src}` : ''}`;
    cmds.push(`route replace ${r.dst} ${how}${table} proto ${ROUTE_PROTO}`);
    added++;
  }
  if (allowDeletes) {
    for (const [dst, list] of have) {
      if (wanted.has(dst)) continue;
      // Routes through a tunnel recreated above went with the old link; deleting them again would only fail.
      const live = list.filter((r) => r.dev === undefined || !recreatedTunnels.has(r.dev));
      for (let i = 0; i < live.length; i++) cmds.push(`route del ${dst}${table} proto ${ROUTE_PROTO}`);
      removed++;
    }
  }
  return { cmds, added, removed };
}

/**
 * Pure diff. With `allowDeletes` false (graceful-restart hold) nothing is removed: routes kept from before
 * a restart keep carrying traffic until the speaker has relearned the mesh.
 */
export function diffRoutes(
  plan: RoutePlan, routes: readonly KernelRoute[], tunnels: readonly KernelTunnel[], allowDeletes: boolean, policyRoutes: readonly KernelRoute[] = [],
): RouteDiff {
  const cmds: string[] = [];
  let tunnelsAdded = 0, tunnelsRemoved = 0;
  const haveTun = new Map(tunnels.map((t) => [t.name, t]));
  const wantTun = new Set(plan.tunnels.map((t) => t.name));
  for (const t of plan.tunnels) {
    const h = haveTun.get(t.name);
    const kindOk = h && (t.family === 4 ? h.kind === 'ipip' : h.kind === 'ip6tnl');
    if (h && kindOk && h.remote === t.remote && h.local === t.local) continue;
    if (h) cmds.push(`link del ${t.name}`);
    cmds.push(...tunnelCommands(t));
    tunnelsAdded++;
  }
  const recreated = new Set(plan.tunnels.filter((t) => cmds.includes(`link set ${t.name} up`)).map((t) => t.name));
  const main = diffTable(plan.routes, routes, '', recreated, allowDeletes);
  const policy = diffTable(plan.policyRoutes ?? [], policyRoutes, ` table ${POLICY_TABLE}`, recreated, allowDeletes);
  cmds.push(...main.cmds, ...policy.cmds);
  const added = main.added + policy.added, removed = main.removed + policy.removed;
  if (allowDeletes) {
    for (const t of tunnels) {
      if (wantTun.has(t.name)) continue;
      cmds.push(`link del ${t.name}`);
      tunnelsRemoved++;
    }
  }
  return { commands: cmds, added, removed, tunnelsAdded, tunnelsRemoved };
}

function asKernelRoute(r: DesiredRoute): KernelRoute {
  const c = parseCIDROrIP(r.dst, GO_ADDRESSES);
  const dst = c ? formatCIDR(c, GO_ADDRESSES) : r.dst;
  return r.via !== undefined ? { dst, via: r.via } : { dst, ...(r.dev !== undefined ? { dev: r.dev } : {}), ...(r.src !== undefined ? { src: r.src } : {}) };
}

function tableAfter(want: readonly DesiredRoute[], have: readonly KernelRoute[], allowDeletes: boolean): KernelRoute[] | undefined {
  const byDst = new Map<string, KernelRoute[]>();
  for (const r of have) byDst.set(r.dst, [...(byDst.get(r.dst) ?? []), r]);
  const out = new Map<string, KernelRoute[]>(allowDeletes ? [] : byDst);
  for (const r of want) {
    // `route replace` replaces one of several routes to a prefix (they differ in metric): what stays is unknown.
    if ((byDst.get(r.dst)?.length ?? 0) > 1) return undefined;
    out.set(r.dst, [asKernelRoute(r)]);
  }
  return [...out.values()].flat();
}

/**
 * Pure: what a read would give (in the terms routeMatches compares) after `diffRoutes(plan, before, ...)`'s
 * commands all applied, or undefined where that is not certain. Lets the next route sync skip its read
 * while nothing else has touched the kernel (the controller knows that from `ip monitor`).
 */
export function stateAfterApply(plan: RoutePlan, before: KernelRouteState, allowDeletes: boolean): KernelRouteState | undefined {
  const routes = tableAfter(plan.routes, before.routes, allowDeletes);
  const policyRoutes = tableAfter(plan.policyRoutes ?? [], before.policyRoutes, allowDeletes);
  if (!routes || !policyRoutes) return undefined;
  const tunnels = new Map<string, KernelTunnel>(allowDeletes ? [] : before.tunnels.map((t) => [t.name, t]));
  for (const t of plan.tunnels) tunnels.set(t.name, { name: t.name, kind: t.family === 4 ? 'ipip' : 'ip6tnl', local: t.local, remote: t.remote });
  return { routes, policyRoutes, tunnels: [...tunnels.values()] };
}

export interface ApplyRoutesResult extends RouteDiff {
  /** Lines ip -batch rejected (the rest still applied thanks to -force). */
  readonly errors: readonly string[];
  /** Routes of ours in the kernel after the apply. */
  readonly synced: number;
  /** The kernel's state after the apply, when every command applied and it is certain (see stateAfterApply). */
  readonly after?: KernelRouteState;
  /** Whether the kernel was read (false: the diff was against `known`). */
  readonly read: boolean;
}

/** `known`: the kernel's state as the caller knows nothing can have changed it since; else it is read. */
export async function applyRoutes(
  exec: Exec, plan: RoutePlan, families: readonly (4 | 6)[], allowDeletes: boolean, known?: KernelRouteState,
): Promise<ApplyRoutesResult> {
  const before = known ?? await readKernelRouteState(exec, families);
  const diff = diffRoutes(plan, before.routes, before.tunnels, allowDeletes, before.policyRoutes);
  let errors: string[] = [];
  let failed = false;
  if (diff.commands.length > 0) {
    const res = await ipBatch(exec, diff.commands, { force: true });
    failed = res.code !== 0;
    if (failed) errors = res.stderr.split('\n').filter((l) => l.trim() !== '');
  }
  const synced = plan.routes.length;
  const after = failed ? undefined : diff.commands.length === 0 ? before : stateAfterApply(plan, before, allowDeletes);
  return { ...diff, errors, synced, read: !known, ...(after ? { after } : {}) };
}

/** --cleanup-config: every proto-17 route (main and policy table) and tun-* link goes. */
export async function cleanupRoutes(exec: Exec, families: readonly (4 | 6)[]): Promise<void> {
  await applyRoutes(exec, { routes: [], tunnels: [], unroutable: [] }, families, true);
}
