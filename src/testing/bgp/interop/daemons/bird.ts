// BIRD 2: config file per start; routes we inject live in a static protocol and are applied with
// `birdc configure`; the RIB is read from `show route all`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from '../netns.js';
import { NsProcess, which } from './proc.js';
import type { Daemon, DaemonAdapter, DaemonRoute, DaemonSpec, RouteSpec } from './types.js';

function birdCommunities(r: RouteSpec): string {
  return (r.communities ?? []).map((c) => { const [a, b] = c.split(':'); return ` bgp_community.add((${a},${b}));`; }).join('');
}

function config(s: DaemonSpec, routes: readonly RouteSpec[]): string {
  const v4 = routes.filter((r) => !r.prefix.includes(':')), v6 = routes.filter((r) => r.prefix.includes(':'));
  const out = [
    `router id ${s.routerId};`, 'log stderr all;', 'protocol device { scan time 10; }',
    `protocol static s4 { ipv4; ${v4.map((r) => `route ${r.prefix} blackhole {${birdCommunities(r)} };`).join(' ')} }`,
    `protocol static s6 { ipv6; ${v6.map((r) => `route ${r.prefix} blackhole {${birdCommunities(r)} };`).join(' ')} }`,
  ];
  s.neighbors.forEach((n, i) => {
    const internal = n.asn === s.asn;
    const hold = n.holdSec ?? 6;
    const lines = [
      `protocol bgp n${i} {`, `  local ${s.local4} as ${s.asn};`, `  neighbor ${n.address} as ${n.asn};`,
      `  hold time ${hold}; keepalive time ${Math.max(1, Math.floor(hold / 3))};`,
      '  connect retry time 1; connect delay time 1; error wait time 1, 5;',
      // iBGP on a shared segment resolves next hops directly; reflected routes (next hop on another
      // segment) stay in the table as unreachable, which is what the test reads.
      internal ? '  direct;' : '',
      n.password ? `  password "${n.password}";` : '',
      n.grRestartSec ? `  graceful restart on; graceful restart time ${n.grRestartSec};` : '',
      `  ipv4 { import all; export where source = RTS_STATIC;${internal ? ' gateway recursive; igp table master4;' : ''} };`,
      n.v6 && s.local6 ? `  ipv6 { import all; export where source = RTS_STATIC; next hop address ${s.local6}; };` : '',
      '}',
    ];
    out.push(lines.filter(Boolean).join('\n'));
  });
  return out.join('\n') + '\n';
}

/** Parses `birdc show route all`: first (best) route of each prefix with its BGP attributes. */
export function parseBirdRoutes(text: string): DaemonRoute[] {
  const out: DaemonRoute[] = [];
  let cur: { prefix: string; attrs: Map<string, string>; nh?: string } | undefined;
  let taking = false;
  const flush = () => {
    if (!cur) return;
    const a = cur.attrs;
    const pairs = (v: string | undefined, n: number) => [...(v ?? '').matchAll(n === 2 ? /\((\d+),\s*(\d+)\)/g : /\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((m) => m.slice(1).join(':'));
    const nh = (a.get('BGP.next_hop') ?? cur.nh ?? '').split(/\s+/)[0]!;
    const asPath = (a.get('BGP.as_path') ?? '').split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number);
    const r: { -readonly [K in keyof DaemonRoute]: DaemonRoute[K] } = {
      prefix: cur.prefix, nextHop: nh, asPath, communities: pairs(a.get('BGP.community'), 2), largeCommunities: pairs(a.get('BGP.large_community'), 3),
    };
    if (a.has('BGP.local_pref')) r.localPref = Number(a.get('BGP.local_pref'));
    if (a.has('BGP.med')) r.med = Number(a.get('BGP.med'));
    if (a.has('BGP.originator_id')) r.originatorId = a.get('BGP.originator_id')!;
    if (a.has('BGP.cluster_list')) r.clusterList = a.get('BGP.cluster_list')!.split(/\s+/).filter(Boolean);
    if (cur.attrs.has('stale')) r.stale = true;
    out.push(r);
    cur = undefined;
  };
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('Table ') || line.startsWith('BIRD ')) continue;
    const head = /^(\S+)\s+(unicast|unreachable|blackhole|prohibited)\s+\[(\S+)/.exec(line);
    if (head) {
      flush();
      taking = head[3]!.startsWith('n');
      if (taking) cur = { prefix: head[1]!, attrs: new Map() };
      if (taking && /\bstale\b/i.test(line)) cur!.attrs.set('stale', '1');
      continue;
    }
    if (/^\s+(unicast|unreachable|blackhole|prohibited)\s+\[/.test(line)) { if (cur) flush(); taking = false; continue; }
    if (!taking || !cur) continue;
    const via = /^\s+via\s+(\S+)/.exec(line);
    if (via) { cur.nh ??= via[1]!; continue; }
    const kv = /^\s+(BGP\.\w+):\s*(.*)$/.exec(line);
    if (kv) cur.attrs.set(kv[1]!, kv[2]!.trim());
  }
  flush();
  return out;
}

export class Bird implements Daemon {
  private readonly proc: NsProcess;
  private routes: RouteSpec[];
  private readonly conf: string;
  private readonly ctl: string;
  constructor(private readonly spec: DaemonSpec) {
    this.routes = [...spec.routes];
    this.conf = join(spec.dir, 'bird.conf');
    this.ctl = join(spec.dir, 'bird.ctl');
    this.proc = new NsProcess(spec.ns, ['bird', '-f', '-c', this.conf, '-s', this.ctl, '-P', join(spec.dir, 'bird.pid')], join(spec.dir, 'bird.log'));
  }

  private birdc(args: string[]): Promise<string> { return sh(this.spec.ns, 'birdc', ['-s', this.ctl, ...args], 60_000); }

  async start(): Promise<void> {
    writeFileSync(this.conf, config(this.spec, this.routes));
    this.proc.start();
    for (let i = 0; i < 100 && this.proc.running; i++) {
      try { await this.birdc(['show', 'status']); return; } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    throw new Error(`bird did not start:\n${this.proc.log().slice(-2000)}`);
  }

  stop(): Promise<void> { return this.proc.stop(); }
  signal(sig: NodeJS.Signals): void { this.proc.signal(sig); }
  log(): string { return this.proc.log(); }

  async rib(): Promise<DaemonRoute[]> {
    return parseBirdRoutes(await this.birdc(['show', 'route', 'all']));
  }

  private async reconfigure(): Promise<void> {
    writeFileSync(this.conf, config(this.spec, this.routes));
    await this.birdc(['configure']);
  }

  async announce(r: RouteSpec): Promise<void> {
    this.routes = [...this.routes.filter((x) => x.prefix !== r.prefix), r];
    await this.reconfigure();
  }

  async withdraw(prefix: string): Promise<void> {
    this.routes = this.routes.filter((x) => x.prefix !== prefix);
    await this.reconfigure();
  }

  readonly requestRefresh = async (peer: string): Promise<void> => {
    const i = this.spec.neighbors.findIndex((n) => n.address === peer);
    await this.birdc(['reload', 'in', `n${i}`]);
  };

  get pid(): number | undefined { return this.proc.pid; }

  async established(): Promise<boolean> {
    return /Established/.test(await this.birdc(['show', 'protocols']));
  }

  /** Prefix count in the IPv4 table (for the benchmark). */
  async ribCount(): Promise<number> {
    const out = await this.birdc(['show', 'route', 'count']);
    const m = /(\d+) of \d+ routes/.exec(out) ?? /(\d+) routes/.exec(out);
    return m ? Number(m[1]) : 0;
  }
}

export const birdAdapter: DaemonAdapter = {
  name: 'bird2',
  keepsRib: true,
  grHelper: true,
  skipReason: () => (which('bird') && which('birdc') ? undefined : 'bird2 not installed'),
  create: (spec) => new Bird(spec),
};
