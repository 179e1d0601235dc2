// What the service proxy does around its IPVS apply, kept apart from the core sync: the VIP firewall
// (--ipvs-permit-all), the UDP conntrack flush of removed backends, the healthCheckNodePort servers and
// the source of the per-service IPVS metrics. The controller calls beforeApply / afterApply / onFailure each sync.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { BackendName } from '../../dataplane/iptables/backend.js';
import { isExecError, runsHere, type Exec } from '../../dataplane/exec.js';
import { readAddresses } from '../../dataplane/ip/rtnl-read.js';
import type { IpvsServiceStats } from '../../dataplane/ipvs/types.js';
import type { ClusterSnapshot, IPFamily } from '../../model/types.js';
import { flushUdpConntrack } from './apply/conntrack.js';
import { DUMMY_IF, parseAddrShow } from './apply/dummy-link.js';
import { HealthCheckServers } from './apply/health-server.js';
import { kernelTable } from './apply/ipvs-table.js';
import { ipvsadmWriter, type IpvsWriter } from './apply/ipvs-writer.js';
import { VipFirewallApplier, type VipFirewallReport } from './apply/vip-firewall.js';
import { compileHealthChecks } from './compile/health-checks.js';
import { virtualServerKey, type ProxyPlan, type VirtualServer } from './compile/plan.js';
import { removedUdpDestinations, udpDestinationKey, type UdpDestination } from './compile/udp-flush.js';
import { compileVipFirewall } from './compile/vip-firewall.js';

export interface ProxyExtrasOptions {
  readonly exec: Exec;
  readonly backend: BackendName;
  readonly nodeName: string;
  readonly families: readonly IPFamily[];
  /** --ipvs-permit-all (kube-router's default true): the VIP firewall is on. */
  readonly permitAll: boolean;
  /** Removed endpoints drain this long before IPVS deletes them (0: at once); their UDP flows go then. */
  readonly gracefulPeriodMs: number;
  readonly log: Logger;
  /** Counts UDP conntrack entries deleted for removed backends (registered by the controller at construction). */
  readonly udpFlushed: Counter<string>;
  /** Address the healthCheckNodePort servers listen on (default: all of the node's). */
  readonly healthCheckHost?: string;
  readonly conntrackBinary?: string;
  /** Where IPVS is read (the UDP drain check, the service metrics): the applier's writer; ipvsadm through `exec` when absent. */
  readonly ipvs?: IpvsWriter;
  readonly now?: () => number;
}

/** The node's own addresses (not the VIPs on kube-dummy-if), both families. */
export async function readNodeAddresses(exec: Exec): Promise<string[]> {
  // Commands that run here: the kernel's address list over rtnetlink, not an `ip` process (seconds of wall
  // time at start inside user-mode Linux). The same addresses `ip -o addr show` gives parseAddrShow.
  const fromKernel = runsHere(exec) ? nodeAddressesFromKernel() : undefined;
  if (fromKernel) return fromKernel;
  const { stdout } = await exec('ip', ['-o', 'addr', 'show']);
  const out: string[] = [];
  for (const line of stdout.split('\n')) {
    const dev = line.split(/\s+/)[1];
    if (!dev || dev === DUMMY_IF) continue;
    out.push(...parseAddrShow(line).filter((ip) => !ip.startsWith('fe80:')));
  }
  return [...new Set(out)].sort();
}

/** readNodeAddresses over rtnetlink: link-scope addresses left out as parseAddrShow does; undefined when it cannot be told. */
function nodeAddressesFromKernel(): string[] | undefined {
  try {
    const addrs = readAddresses();
    if (!addrs) return undefined;
    const dummy = existsSync('/sys/class/net/lo') ? readDummyIndex() : NaN;
    if (Number.isNaN(dummy)) return undefined;
    const out = addrs.filter((a) => a.ifindex !== dummy && a.scope !== RT_SCOPE_LINK && !a.address.startsWith('fe80:')).map((a) => a.address);
    return [...new Set(out)].sort();
  } catch {
    return undefined;
  }
}

const RT_SCOPE_LINK = 253;

/** kube-dummy-if's index from sysfs (0: no such link; NaN: sysfs cannot tell). */
function readDummyIndex(): number {
  const f = `/sys/class/net/${DUMMY_IF}/ifindex`;
  if (!existsSync(f)) return 0;
  const n = Number(readFileSync(f, 'utf8').trim());
  return n > 0 ? n : NaN;
}

export class ProxyExtras {
  private readonly firewall: VipFirewallApplier;
  private readonly health: HealthCheckServers;
  private readonly ipvs: IpvsWriter;
  private readonly now: () => number;
  private readonly flushed;
  private localAddresses: string[] | undefined;
  private applied: ReadonlyMap<string, VirtualServer> | undefined;
  private startedAt = 0;
  /** Removed UDP backends still draining in IPVS: flushed once IPVS has deleted them. */
  private pending = new Map<string, { d: UdpDestination; due: number }>();
  private conntrackMissing = false;
  private warned = new Set<string>();

  constructor(private readonly o: ProxyExtrasOptions) {
    this.now = o.now ?? Date.now;
    this.firewall = new VipFirewallApplier({ exec: o.exec, backend: o.backend });
    this.health = new HealthCheckServers({
      ...(o.healthCheckHost !== undefined ? { host: o.healthCheckHost } : {}),
      onError: (port, err) => this.warnOnce(`hc:${port}:${err.message}`, { port, err: err.message }, 'service proxy: cannot serve a healthCheckNodePort'),
    });
    this.flushed = o.udpFlushed;
    this.ipvs = o.ipvs ?? ipvsadmWriter(o.exec);
  }

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.o.log.warn(obj, msg);
  }

  /** Before IPVS changes: the firewall's sets take new service ports in before IPVS serves them. */
  async beforeApply(plan: ProxyPlan, full: boolean): Promise<VipFirewallReport> {
    this.startedAt = this.now();
    if (full || this.localAddresses === undefined) this.localAddresses = await readNodeAddresses(this.o.exec);
    const fw = compileVipFirewall(plan.virtualServers, this.localAddresses, this.o.families, this.o.permitAll);
    return this.firewall.apply(fw, full);
  }

  /** After IPVS took the plan: flush UDP flows of removed backends, serve health checks. */
  async afterApply(plan: ProxyPlan, snapshot: ClusterSnapshot): Promise<{ udpFlushed: number; healthPorts: number[] }> {
    const removed = removedUdpDestinations(this.applied, plan.virtualServers);
    this.applied = plan.virtualServers;
    const now: UdpDestination[] = [];
    for (const d of removed) {
      if (this.o.gracefulPeriodMs > 0) this.pending.set(udpDestinationKey(d), { d, due: this.startedAt + this.o.gracefulPeriodMs });
      else now.push(d);
    }
    // A backend that came back is served again: its flows are not stale.
    for (const [k, p] of this.pending) {
      const v = plan.virtualServers.get(virtualServerKey({ protocol: 'udp', address: p.d.vip, port: p.d.port }));
      if (v?.realServers.some((r) => r.address === p.d.address && r.port === p.d.targetPort)) this.pending.delete(k);
    }
    const due = [...this.pending].filter(([, p]) => p.due <= this.now());
    if (due.length) {
      const table = kernelTable(await this.ipvs.read());
      for (const [k, p] of due) {
        const v = table.get(virtualServerKey({ protocol: 'udp', address: p.d.vip, port: p.d.port }));
        if (v?.realServers.some((r) => r.address === p.d.address && r.port === p.d.targetPort)) continue; // still draining
        now.push(p.d);
        this.pending.delete(k);
      }
    }
    let udpFlushed = 0;
    if (now.length && !this.conntrackMissing) {
      try {
        udpFlushed = await flushUdpConntrack(this.o.exec, now, this.o.conntrackBinary);
        this.flushed.inc(udpFlushed);
      } catch (e) {
        // No conntrack tool (or no ctnetlink): flows expire by timeout instead; say so once.
        if (isExecError(e) && e.spawnFailed) this.conntrackMissing = true;
        this.warnOnce(`ct:${(e as Error).message}`, { err: (e as Error).message }, 'service proxy: cannot flush UDP conntrack entries of removed endpoints');
      }
    }
    this.health.setHealthy(true);
    await this.health.sync(compileHealthChecks(snapshot, this.o.nodeName, (m) => this.warnOnce(m, { reason: m }, 'service proxy: part of a service left out')));
    return { udpFlushed, healthPorts: this.health.ports() };
  }

  /** A failed sync: health checks say the proxy is unhealthy; the firewall re-reads the kernel next time. */
  onFailure(): void {
    this.health.setHealthy(false);
    this.firewall.invalidate();
  }

  /** The soonest moment a draining UDP backend's flows may be flushed. */
  nextFlushDue(): number | undefined {
    let min: number | undefined;
    for (const p of this.pending.values()) if (min === undefined || p.due < min) min = p.due;
    return min;
  }

  async stop(): Promise<void> {
    await this.health.close();
  }

  /** --cleanup-config: the VIP firewall's chain, jump and sets. */
  async cleanup(): Promise<void> {
    await this.health.close();
    // The other family first, best effort (a node once run with --enable-ipv6, cleaned without it): its
    // chain must go before the sets it names can be destroyed, which the served families' removal does.
    const others = ([4, 6] as const).filter((f) => !this.o.families.includes(f));
    if (others.length) await this.firewall.remove(others).catch(() => undefined);
    await this.firewall.remove(this.o.families);
  }

  /** The per-service IPVS statistics, read through the applier's writer (the service metrics' source). */
  readStats(): Promise<readonly IpvsServiceStats[]> {
    return this.ipvs.stats();
  }

  /** The virtual servers of the last applied plan (what the service metrics label). */
  get appliedServers(): ReadonlyMap<string, VirtualServer> {
    return this.applied ?? new Map();
  }

  statsFailed(e: Error): void {
    this.warnOnce(`stats:${e.message}`, { err: e.message }, 'service proxy: cannot read IPVS statistics');
  }
}
