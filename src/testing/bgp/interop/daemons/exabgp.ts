// ExaBGP 4.2: no RIB of its own, so the received UPDATEs (JSON, one per line) are replayed into one; routes
// are announced by appending API commands to a file a helper process tails.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NsProcess, which } from './proc.js';
import type { Daemon, DaemonAdapter, DaemonRoute, DaemonSpec, RouteSpec } from './types.js';

function routeLine(r: RouteSpec): string {
  return `route ${r.prefix} next-hop ${r.nextHop}${r.communities?.length ? ` community [${r.communities.join(' ')}]` : ''}`;
}

function config(s: DaemonSpec, updates: string, cmds: string): string {
  const out = [
    `process watch { run /bin/sh -c 'cat >> ${updates}'; encoder json; }`,
    // --pid: the tail dies with exabgp, so a killed daemon leaves nothing behind.
    `process ctl { run /bin/sh -c 'tail -n +1 -F ${cmds} --pid=$PPID 2>/dev/null'; encoder text; }`,
  ];
  s.neighbors.forEach((n, i) => {
    const v6 = !!(n.v6 && s.local6);
    out.push([
      `neighbor ${n.address} {`, `  router-id ${s.routerId};`, `  local-address ${s.local4};`, `  local-as ${s.asn};`, `  peer-as ${n.asn};`,
      `  hold-time ${n.holdSec ?? 6};`, '  group-updates true;',
      n.password ? `  md5-password ${n.password};` : '',
      `  family { ipv4 unicast;${v6 ? ' ipv6 unicast;' : ''} }`,
      `  capability { route-refresh;${n.grRestartSec ? ` graceful-restart ${n.grRestartSec};` : ''} }`,
      `  api watcher${i} { processes [ watch ]; neighbor-changes; receive { parsed; update; } }`,
      `  api control${i} { processes [ ctl ]; }`,
      `  static { ${s.routes.filter((r) => v6 || !r.prefix.includes(':')).map((r) => `${routeLine(r)};`).join(' ')} }`,
      '}',
    ].filter(Boolean).join('\n'));
  });
  return out.join('\n') + '\n';
}

interface ExaMsg {
  type?: string;
  neighbor?: {
    address?: { peer?: string };
    state?: string;
    message?: { update?: { attribute?: Record<string, unknown>; announce?: Record<string, Record<string, Array<{ nlri: string }>>>; withdraw?: Record<string, Array<{ nlri: string }>> } };
  };
}

function asPathOf(v: unknown): number[] {
  if (Array.isArray(v)) return v.flat().map(Number);
  if (v && typeof v === 'object') return Object.values(v as Record<string, { value?: number[] }>).flatMap((s) => s.value ?? []);
  return [];
}

/** Replays ExaBGP's JSON stream into the routes it currently holds from its peers. */
export function replayExabgp(lines: string): DaemonRoute[] {
  const rib = new Map<string, DaemonRoute & { peer: string }>();
  for (const line of lines.split('\n')) {
    if (!line.startsWith('{')) continue;
    let m: ExaMsg;
    try { m = JSON.parse(line) as ExaMsg; } catch { continue; }
    const peer = m.neighbor?.address?.peer ?? '';
    if (m.type === 'state' && m.neighbor?.state === 'down') {
      for (const [k, r] of rib) if (r.peer === peer) rib.delete(k);
      continue;
    }
    const u = m.neighbor?.message?.update;
    if (m.type !== 'update' || !u) continue;
    for (const list of Object.values(u.withdraw ?? {})) for (const w of list) rib.delete(w.nlri);
    const a = u.attribute ?? {};
    for (const byNh of Object.values(u.announce ?? {})) {
      for (const [nh, list] of Object.entries(byNh)) {
        for (const n of list) {
          const r: { -readonly [K in keyof DaemonRoute]: DaemonRoute[K] } & { peer: string } = {
            peer, prefix: n.nlri, nextHop: nh, asPath: asPathOf(a['as-path']),
            communities: ((a.community as number[][] | undefined) ?? []).map((c) => `${c[0]}:${c[1]}`),
            largeCommunities: ((a['large-community'] as number[][] | undefined) ?? []).map((c) => c.join(':')),
          };
          if (a.med !== undefined) r.med = Number(a.med);
          if (a['local-preference'] !== undefined) r.localPref = Number(a['local-preference']);
          if (a['originator-id'] !== undefined) r.originatorId = String(a['originator-id']);
          if (a['cluster-list'] !== undefined) r.clusterList = (a['cluster-list'] as string[]).map(String);
          rib.set(n.nlri, r);
        }
      }
    }
  }
  return [...rib.values()].map(({ peer: _p, ...r }) => r);
}

export class Exabgp implements Daemon {
  private readonly proc: NsProcess;
  private readonly updates: string;
  private readonly cmds: string;
  constructor(private readonly spec: DaemonSpec) {
    this.updates = join(spec.dir, 'updates.json');
    this.cmds = join(spec.dir, 'cmds');
    const conf = join(spec.dir, 'exabgp.conf');
    writeFileSync(conf, config(spec, this.updates, this.cmds));
    writeFileSync(this.cmds, '');
    writeFileSync(this.updates, '');
    this.proc = new NsProcess(spec.ns, ['exabgp', conf], join(spec.dir, 'exabgp.log'), {
      'exabgp.daemon.user': 'root', 'exabgp.log.destination': 'stdout', 'exabgp.api.cli': 'false', 'exabgp.daemon.drop': 'false',
      // Listen too, so incoming connections (collisions, raw OPEN tests) are possible.
      'exabgp.tcp.bind': spec.local4, 'exabgp.tcp.port': '179',
    });
  }

  async start(): Promise<void> {
    this.proc.start();
    await new Promise((r) => setTimeout(r, 800));
    if (!this.proc.running) throw new Error(`exabgp did not start:\n${this.proc.log().slice(-2000)}`);
  }

  stop(): Promise<void> { return this.proc.stop(); }
  signal(sig: NodeJS.Signals): void { this.proc.signal(sig); }
  log(): string { return this.proc.log(); }

  async rib(): Promise<DaemonRoute[]> {
    return replayExabgp(readFileSync(this.updates, 'utf8'));
  }

  async announce(r: RouteSpec): Promise<void> { appendFileSync(this.cmds, `announce ${routeLine(r)}\n`); }
  async withdraw(prefix: string): Promise<void> { appendFileSync(this.cmds, `withdraw route ${prefix}\n`); }
  readonly requestRefresh = async (peer: string): Promise<void> => {
    appendFileSync(this.cmds, `neighbor ${peer} announce route-refresh ipv4 unicast\n`);
  };
}

export const exabgpAdapter: DaemonAdapter = {
  name: 'exabgp',
  keepsRib: false,
  grHelper: false,
  badOpenDeviations: {
    version: {
      answer: [1, 0],
      why: 'exabgp 4.2 Open.unpack_message raises Notify(2, 1, bytes_ascii(data[0])); bytes_ascii() of an int throws, and the generic handler answers 1/0',
    },
    holdTime: { answer: [2, 6], why: 'as the RFC says' },
  },
  skipReason: () => (which('exabgp') ? undefined : 'exabgp not installed'),
  create: (spec) => new Exabgp(spec),
};
