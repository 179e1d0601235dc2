// FRR 8 (bgpd + zebra, as user frr): bgpd.conf written per start, routes injected with `network`
// statements over vtysh, RIB read from `show bgp ... json`.
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { sh } from '../netns.js';
import { NsProcess, which } from './proc.js';
import type { Daemon, DaemonAdapter, DaemonRoute, DaemonSpec, RouteSpec } from './types.js';

const FRR = '/usr/lib/frr';

function bgpdConf(s: DaemonSpec): string {
  const l = ['frr defaults traditional', 'hostname krt', 'log stdout informational', `router bgp ${s.asn}`, ` bgp router-id ${s.routerId}`,
    ' no bgp ebgp-requires-policy', ' no bgp network import-check', ' no bgp default ipv4-unicast'];
  const gr = s.neighbors.find((n) => n.grRestartSec)?.grRestartSec;
  if (gr) l.push(' bgp graceful-restart', ` bgp graceful-restart restart-time ${gr}`, ' bgp graceful-restart preserve-fw-state');
  if (s.clusterId) l.push(` bgp cluster-id ${s.clusterId}`);
  for (const n of s.neighbors) {
    const hold = n.holdSec ?? 6;
    l.push(` neighbor ${n.address} remote-as ${n.asn}`, ` neighbor ${n.address} timers ${Math.max(1, Math.floor(hold / 3))} ${hold}`,
      ` neighbor ${n.address} timers connect 1`, ` neighbor ${n.address} update-source ${s.local4}`);
    if (n.password) l.push(` neighbor ${n.address} password ${n.password}`);
  }
  l.push(' address-family ipv4 unicast');
  for (const n of s.neighbors) {
    l.push(`  neighbor ${n.address} activate`);
    if (n.rrClient) l.push(`  neighbor ${n.address} route-reflector-client`);
  }
  for (const r of s.routes.filter((x) => !x.prefix.includes(':'))) l.push(`  network ${r.prefix}${r.communities?.length ? ` route-map ${rmName(r)}` : ''}`);
  l.push(' exit-address-family', ' address-family ipv6 unicast');
  for (const n of s.neighbors) if (n.v6) l.push(`  neighbor ${n.address} activate`);
  for (const r of s.routes.filter((x) => x.prefix.includes(':'))) l.push(`  network ${r.prefix}${r.communities?.length ? ` route-map ${rmName(r)}` : ''}`);
  l.push(' exit-address-family');
  for (const r of s.routes) if (r.communities?.length) l.push(`route-map ${rmName(r)} permit 10`, ` set community ${r.communities.join(' ')}`);
  return l.join('\n') + '\n';
}

function rmName(r: RouteSpec): string {
  return `C-${(r.communities ?? []).join('-').replace(/:/g, '_')}`;
}

interface FrrPath {
  bestpath?: { overall?: boolean };
  aspath?: { string?: string };
  community?: { string?: string };
  largeCommunity?: { string?: string };
  med?: number;
  metric?: number;
  localpref?: number;
  locPrf?: number;
  originatorId?: string;
  clusterList?: { list?: string[] };
  nexthops?: Array<{ ip?: string; scope?: string }>;
  stale?: boolean;
}

export class Frr implements Daemon {
  private readonly zebra: NsProcess;
  private readonly bgpd: NsProcess;
  constructor(private readonly spec: DaemonSpec) {
    const d = spec.dir;
    writeFileSync(join(d, 'zebra.conf'), 'hostname krt\n');
    writeFileSync(join(d, 'bgpd.conf'), bgpdConf(spec));
    const frr = Number(execFileSync('id', ['-u', 'frr'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'frr'], { encoding: 'utf8' }).trim());
    chmodSync(d, 0o775);
    for (const f of ['', 'zebra.conf', 'bgpd.conf']) chownSync(join(d, f), frr, gid);
    const common = ['-u', 'frr', '-g', 'frr', '-z', join(d, 'zserv.api'), '--vty_socket', d];
    this.zebra = new NsProcess(spec.ns, [`${FRR}/zebra`, ...common, '-f', join(d, 'zebra.conf'), '-i', join(d, 'zebra.pid')], join(d, 'zebra.log'));
    this.bgpd = new NsProcess(spec.ns, [`${FRR}/bgpd`, ...common, '-f', join(d, 'bgpd.conf'), '-i', join(d, 'bgpd.pid'), '-p', '179'], join(d, 'bgpd.log'));
  }

  private vtysh(cmds: string[]): Promise<string> {
    return sh(this.spec.ns, 'vtysh', ['--vty_socket', this.spec.dir, ...cmds.flatMap((c) => ['-c', c])], 60_000);
  }

  async start(): Promise<void> {
    if (!this.zebra.running) {
      this.zebra.start();
      await new Promise((r) => setTimeout(r, 300));
    }
    this.bgpd.start();
    for (let i = 0; i < 100 && this.bgpd.running; i++) {
      try { await this.vtysh(['show bgp summary json']); return; } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    throw new Error(`bgpd did not start:\n${this.bgpd.log().slice(-2000)}`);
  }

  async stop(): Promise<void> { await this.bgpd.stop(); await this.zebra.stop(); }
  /** Signals go to bgpd: it is the BGP speaker; zebra keeps the FIB across its restart. */
  signal(sig: NodeJS.Signals): void { this.bgpd.signal(sig); }
  log(): string { return this.bgpd.log(); }

  async rib(): Promise<DaemonRoute[]> {
    const out: DaemonRoute[] = [];
    for (const fam of ['ipv4', 'ipv6']) {
      const summary = JSON.parse(await this.vtysh([`show bgp ${fam} unicast json`]) || '{}') as { routes?: Record<string, unknown> };
      for (const prefix of Object.keys(summary.routes ?? {})) {
        const d = JSON.parse(await this.vtysh([`show bgp ${fam} unicast ${prefix} json`]) || '{}') as { paths?: FrrPath[] };
        const p = d.paths?.find((x) => x.bestpath?.overall) ?? d.paths?.[0];
        if (!p) continue;
        const nh = p.nexthops?.find((n) => n.scope !== 'link-local')?.ip ?? '';
        const r: { -readonly [K in keyof DaemonRoute]: DaemonRoute[K] } = {
          prefix, nextHop: nh,
          asPath: (p.aspath?.string ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number),
          communities: (p.community?.string ?? '').split(/\s+/).filter(Boolean),
          largeCommunities: (p.largeCommunity?.string ?? '').split(/\s+/).filter(Boolean),
          stale: !!p.stale,
        };
        const med = p.med ?? p.metric;
        if (med !== undefined) r.med = med;
        const lp = p.locPrf ?? p.localpref;
        if (lp !== undefined) r.localPref = lp;
        if (p.originatorId) r.originatorId = p.originatorId;
        if (p.clusterList?.list) r.clusterList = p.clusterList.list;
        out.push(r);
      }
    }
    return out;
  }

  private af(prefix: string): string { return prefix.includes(':') ? 'ipv6 unicast' : 'ipv4 unicast'; }

  async announce(r: RouteSpec): Promise<void> {
    const cmds = ['configure terminal'];
    if (r.communities?.length) cmds.push(`route-map ${rmName(r)} permit 10`, `set community ${r.communities.join(' ')}`, 'exit');
    cmds.push(`router bgp ${this.spec.asn}`, `address-family ${this.af(r.prefix)}`, `network ${r.prefix}${r.communities?.length ? ` route-map ${rmName(r)}` : ''}`);
    await this.vtysh(cmds);
  }

  async withdraw(prefix: string): Promise<void> {
    await this.vtysh(['configure terminal', `router bgp ${this.spec.asn}`, `address-family ${this.af(prefix)}`, `no network ${prefix}`]);
  }

  readonly requestRefresh = async (peer: string): Promise<void> => {
    await this.vtysh([`clear bgp ipv4 unicast ${peer} soft in`]);
  };
}

export const frrAdapter: DaemonAdapter = {
  name: 'frr',
  keepsRib: true,
  grHelper: true,
  skipReason: () => (which('vtysh') && which('bgpd') && which('zebra') ? undefined : 'FRR (bgpd, zebra, vtysh) not installed'),
  create: (spec) => new Frr(spec),
};
