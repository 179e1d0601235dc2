// gobgpd 3.x: TOML config, `gobgp -j` for the RIB, `gobgp global rib add/del` to inject routes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../netns.js';
import { NsProcess, which } from './proc.js';
import type { Daemon, DaemonAdapter, DaemonRoute, DaemonSpec, RouteSpec } from './types.js';

function toml(s: DaemonSpec, port: number): string {
  const lines = [
    '[global.config]', `  as = ${s.asn}`, `  router-id = "${s.routerId}"`, `  port = ${port}`,
    `  local-address-list = [${[s.local4, s.local6].filter(Boolean).map((a) => `"${a}"`).join(', ')}]`,
  ];
  for (const n of s.neighbors) {
    lines.push('[[neighbors]]', '  [neighbors.config]', `    neighbor-address = "${n.address}"`, `    peer-as = ${n.asn}`);
    if (n.password) lines.push(`    auth-password = "${n.password}"`);
    const hold = n.holdSec ?? 6;
    lines.push('  [neighbors.timers.config]', '    connect-retry = 1', `    hold-time = ${hold}`, `    keepalive-interval = ${Math.max(1, Math.floor(hold / 3))}`);
    lines.push('  [neighbors.transport.config]', `    local-address = "${n.address.includes(':') ? s.local6 : s.local4}"`);
    if (n.rrClient) {
      lines.push('  [neighbors.route-reflector.config]', '    route-reflector-client = true', `    route-reflector-cluster-id = "${s.clusterId ?? s.routerId}"`);
    }
    if (n.grRestartSec) lines.push('  [neighbors.graceful-restart.config]', '    enabled = true', `    restart-time = ${n.grRestartSec}`);
    for (const f of n.v6 ? ['ipv4-unicast', 'ipv6-unicast'] : ['ipv4-unicast']) {
      lines.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${f}"`);
      if (n.grRestartSec) lines.push('    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
    }
  }
  return lines.join('\n') + '\n';
}

interface GobgpAttr { type: number; [k: string]: unknown }

export function parseGobgpRib(json: string): DaemonRoute[] {
  const out: DaemonRoute[] = [];
  const data = JSON.parse(json || '{}') as Record<string, Array<{ attrs: GobgpAttr[]; best?: boolean; stale?: boolean }>>;
  for (const [prefix, paths] of Object.entries(data)) {
    const p = paths.find((x) => x.best) ?? paths[0];
    if (!p) continue;
    let nextHop = '', asPath: number[] = [], communities: string[] = [], large: string[] = [];
    let localPref: number | undefined, med: number | undefined, originatorId: string | undefined, clusterList: string[] | undefined;
    for (const a of p.attrs) {
      switch (a.type) {
        case 2: asPath = ((a.as_paths as Array<{ asns: number[] }>) ?? []).flatMap((s) => s.asns); break;
        case 3: nextHop = a.nexthop as string; break;
        case 4: med = a.metric as number; break;
        case 5: localPref = a.value as number; break;
        case 8: communities = (a.communities as number[]).map((c) => `${Math.floor(c / 65536)}:${c % 65536}`); break;
        case 9: originatorId = a.value as string; break;
        case 10: clusterList = a.value as string[]; break;
        case 14: nextHop = (a.nexthop as string) ?? nextHop; break;
        case 32: large = (a.value as Array<{ ASN: number; LocalData1: number; LocalData2: number }>).map((l) => `${l.ASN}:${l.LocalData1}:${l.LocalData2}`); break;
      }
    }
    out.push({
      prefix, nextHop, asPath, communities, largeCommunities: large, stale: !!p.stale,
      ...(localPref !== undefined ? { localPref } : {}), ...(med !== undefined ? { med } : {}),
      ...(originatorId ? { originatorId } : {}), ...(clusterList ? { clusterList } : {}),
    });
  }
  return out;
}

export class Gobgpd implements Daemon {
  private readonly proc: NsProcess;
  constructor(private readonly spec: DaemonSpec, private readonly port = 179) {
    const conf = join(spec.dir, 'gobgpd.toml');
    writeFileSync(conf, toml(spec, port));
    this.proc = new NsProcess(spec.ns, ['gobgpd', '-f', conf, '-p', '--api-hosts', '127.0.0.1:50051', '--pprof-disable', '-l', 'info'], join(spec.dir, 'gobgpd.log'));
  }

  private cli(args: string[]): Promise<string> {
    return sh(this.spec.ns, 'gobgp', ['-u', '127.0.0.1', '-p', '50051', ...args], 60_000);
  }

  async start(): Promise<void> {
    this.proc.start();
    let ok = false;
    for (let i = 0; i < 100 && this.proc.running && !ok; i++) {
      try { await this.cli(['global']); ok = true; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    if (!ok) throw new Error(`gobgpd did not start:\n${this.proc.log().slice(-2000)}`);
    for (const r of this.spec.routes) await this.announce(r);
  }

  stop(): Promise<void> { return this.proc.stop(); }
  signal(sig: NodeJS.Signals): void { this.proc.signal(sig); }
  log(): string { return this.proc.log(); }

  async rib(): Promise<DaemonRoute[]> {
    const v4 = parseGobgpRib(await this.cli(['-j', 'global', 'rib', '-a', 'ipv4']));
    const v6 = this.spec.local6 ? parseGobgpRib(await this.cli(['-j', 'global', 'rib', '-a', 'ipv6'])) : [];
    return [...v4, ...v6];
  }

  async announce(r: RouteSpec): Promise<void> {
    const fam = r.prefix.includes(':') ? 'ipv6' : 'ipv4';
    const extra = r.communities?.length ? ['community', r.communities.join(',')] : [];
    await this.cli(['global', 'rib', '-a', fam, 'add', r.prefix, 'nexthop', r.nextHop, ...extra]);
  }

  async withdraw(prefix: string): Promise<void> {
    await this.cli(['global', 'rib', '-a', prefix.includes(':') ? 'ipv6' : 'ipv4', 'del', prefix]);
  }

  // No requestRefresh: gobgp keeps an Adj-RIB-In and `softresetin` re-applies policy to it without sending
  // a ROUTE-REFRESH (checked: our routeRefreshIn counter stays 0), so that direction is covered by the others.

  /** Count of IPv4 prefixes in the Loc-RIB (cheap summary, for the benchmark). */
  async ribCount(): Promise<number> {
    const out = await this.cli(['global', 'rib', 'summary', '-a', 'ipv4']);
    const m = /Destination:\s*(\d+)/.exec(out);
    return m ? Number(m[1]) : 0;
  }

  get pid(): number | undefined { return this.proc.pid; }

  /** Loads routes from an MRT file (much faster than one CLI call per route). */
  async injectMrt(file: string): Promise<void> {
    await this.cli(['mrt', 'inject', 'global', file]);
  }

  async established(peer: string): Promise<boolean> {
    const out = JSON.parse(await this.cli(['-j', 'neighbor', peer])) as { state?: { session_state?: number } };
    return out.state?.session_state === 6;
  }
}

export const gobgpAdapter: DaemonAdapter = {
  name: 'gobgpd',
  keepsRib: true,
  grHelper: true,
  skipReason: () => (which('gobgpd') && which('gobgp') ? undefined : 'gobgpd/gobgp not installed'),
  create: (spec) => new Gobgpd(spec),
};
