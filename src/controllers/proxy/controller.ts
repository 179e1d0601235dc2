// The service proxy (--run-service-proxy): Services on IPVS in masquerade mode (DSR services in tunnel mode). Watches services,
// endpoint slices and its own node; compiles a ProxyPlan (compile/, pure) and applies the differences
// (apply/). Each node runs its own, in the agent's network namespace.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { execHost, runsHere, type Exec } from '../../dataplane/exec.js';
import { detectBackend, type BackendName } from '../../dataplane/iptables/backend.js';
import type { IPFamily } from '../../model/types.js';
import { counter, gauge, histogram } from '../../observe/metrics.js';
import type { SyncReason } from '../../watch/sync-runner.js';
import type { Controller, ControllerContext } from '../controller.js';
import { logSync, SyncLoop } from '../sync-loop.js';
import { ProxyApplier } from './apply/applier.js';
import { IpvsServiceMetrics } from './apply/ipvs-stats.js';
import { chooseIpvsWriter } from './apply/ipvs-writer.js';
import { DUMMY_IF, parseAddrShow } from './apply/dummy-link.js';
import { ProxyCompiler } from './compile/incremental.js';
import type { ProxyInputs } from './compile/services.js';
import { ZONE_LABEL } from './compile/topology.js';
import { DsrApplier } from './dsr/applier.js';
import { ProxyExtras } from './extras.js';
import { proxyConfigError, type ProxyOptions } from './options.js';

export interface ProxyDeps {
  readonly exec?: Exec;
  readonly backend?: BackendName;
}

export type ProxyController = Controller & { cleanup(): Promise<void>; readonly syncs: number };

const WATCHED = ['Service', 'EndpointSlice', 'Node'] as const;

/**
 * IPVS and the kernel settings it needs (kube-router's): conntrack for IPVS so iptables can SNAT its
 * traffic; expire connections to removed or quiescent servers; no connection reuse (a reused port to a
 * removed server would stall); ARP only for addresses of the asking interface (the VIPs live on every
 * node's dummy link and must not be answered for on the wire).
 */
const SYSCTLS: readonly [string, string][] = [
  ['net/ipv4/vs/conntrack', '1'],
  ['net/ipv4/vs/expire_nodest_conn', '1'],
  ['net/ipv4/vs/expire_quiescent_template', '1'],
  ['net/ipv4/vs/conn_reuse_mode', '0'],
  ['net/ipv4/conf/all/arp_ignore', '1'],
  ['net/ipv4/conf/all/arp_announce', '2'],
  ['net/ipv4/ip_forward', '1'],
];

/**
 * IPv6 adds only forwarding: IPVS's settings above (net.ipv4.vs.*) hold for both families, and IPv6
 * neighbour discovery answers only for addresses of the asking link, so the VIPs on kube-dummy-if need no
 * arp_ignore counterpart.
 */
const SYSCTLS_IPV6: readonly [string, string][] = [['net/ipv6/conf/all/forwarding', '1']];

/** The node's address of one family: its first internal one, else its first external one. */
function nodeAddress(node: { internalIPs: readonly string[]; externalIPs: readonly string[] } | undefined, family: IPFamily): string | undefined {
  const of = (ips: readonly string[] = []) => ips.find((ip) => ip.includes(':') === (family === 6));
  return of(node?.internalIPs) ?? of(node?.externalIPs);
}

/** A sysfs/procfs file's text, '' when it cannot be read. */
function readSmallFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function createProxyController(ctx: ControllerContext, opts: ProxyOptions, deps: ProxyDeps = {}): ProxyController {
  const log = ctx.log;
  const exec = deps.exec ?? execHost;
  const families: IPFamily[] = [...(opts.enableIpv4 ? [4 as const] : []), ...(opts.enableIpv6 ? [6 as const] : [])];
  const nodePortRange = { min: opts.serviceNodePortRange.from, max: opts.serviceNodePortRange.to };
  const m = {
    sync: histogram(ctx.metrics, 'controller_ipvs_services_sync_time', 'Time it took for the service proxy to sync IPVS'),
    services: gauge(ctx.metrics, 'controller_ipvs_services', 'IPVS virtual servers programmed by the service proxy'),
    failures: counter(ctx.metrics, 'controller_ipvs_sync_failures', 'Failed service proxy syncs (retried with backoff)'),
    writer: gauge(ctx.metrics, 'controller_ipvs_writer', 'How the service proxy writes IPVS: 1 for the writer in use (netlink: resident generic-netlink socket; ipvsadm: the fallback)', ['writer']),
    skipped: counter(ctx.metrics, 'controller_ipvs_services_skipped', 'Service parts left out (invalid annotation, external IP outside the allowed ranges, address conflict)'),
    udpFlushed: counter(ctx.metrics, 'controller_ipvs_udp_conntrack_flushed', 'UDP conntrack entries deleted because their service backend was removed'),
  };
  let applier: ProxyApplier | undefined;
  const compiler = new ProxyCompiler();
  let extras: ProxyExtras | undefined;
  // Registered with the controller, not at start, so a scrape (and the dashboard) sees the families from the
  // first scrape; until the first apply they are empty.
  if (opts.metricsPort > 0) {
    new IpvsServiceMetrics(ctx.metrics, () => extras?.readStats() ?? Promise.resolve([]), () => extras?.appliedServers ?? new Map(), (e) => extras?.statsFailed(e));
  }
  let dsr: DsrApplier | undefined;
  /** TCP MSS for DSR pods' SYNs: the node link's MTU minus two IP headers and a TCP header. */
  let dsrTcpMss: number | undefined;
  let loop: SyncLoop | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let syncs = 0;
  let said = new Set<string>();
  let localAddresses: string[] = [];

  /** The node's own addresses (NodePorts with --nodeport-bindon-all-ip), read from the kernel. */
  async function readLocalAddresses(): Promise<string[]> {
    const { stdout } = await exec('ip', ['-o', 'addr', 'show']);
    const out: string[] = [];
    for (const line of stdout.split('\n')) {
      const dev = line.split(/\s+/)[1];
      if (!dev || dev === 'lo' || dev === DUMMY_IF) continue;
      out.push(...parseAddrShow(line).filter((ip) => !ip.startsWith('fe80:')));
    }
    return [...new Set(out)].sort();
  }

  function inputs(): ProxyInputs {
    const node = ctx.cluster.snapshot().nodes.get(opts.nodeName);
    const nodeIP = node?.primaryIP;
    // One address per served family: NodePorts listen there and masqueraded traffic of that family leaves from it.
    const nodeIPs = families.map((f) => nodeAddress(node, f)).filter((ip): ip is string => ip !== undefined);
    const nodePortAddresses = opts.nodeportBindonAllIp ? localAddresses : nodeIPs;
    return {
      nodeName: opts.nodeName,
      ...(nodeIP ? { nodeIP } : {}),
      ...(families.includes(6) ? { nodeIPs } : {}),
      nodePortAddresses,
      podCIDRs: node?.podCIDRs ?? [],
      families,
      externalIPRanges: opts.serviceExternalIpRange,
      loadBalancerIPRanges: opts.loadbalancerIpRange,
      strictExternalIPs: opts.strictExternalIpValidation,
      masqueradeAll: opts.masqueradeAll,
      hairpinAll: opts.hairpinMode,
      ...(node?.labels[ZONE_LABEL] ? { zone: node.labels[ZONE_LABEL] } : {}),
      ...(dsrTcpMss !== undefined ? { dsrTcpMss } : {}),
    };
  }

  async function sync(reason: SyncReason): Promise<void> {
    const t0 = performance.now();
    if (reason.full && opts.nodeportBindonAllIp) localAddresses = await readLocalAddresses();
    const inp = inputs();
    const snapshot = ctx.cluster.snapshot();
    const plan = compiler.compile(snapshot, inp);
    const compileMs = performance.now() - t0;
    const now = new Set(plan.skipped);
    for (const s of now) {
      if (said.has(s)) continue;
      log.warn({ reason: s }, 'service proxy: part of a service left out');
      m.skipped.inc();
    }
    said = now;
    let report, fw, after, dsrReport;
    try {
      fw = await extras!.beforeApply(plan, reason.full);
      // DSR around IPVS: pod tunnels before IPVS tunnels to them, marking after IPVS serves the marks.
      const pre = await dsr!.prepare(plan.dsr, { full: reason.full, podCIDRs: inp.podCIDRs });
      report = await applier!.apply(plan, {
        full: reason.full,
        nodePortAddresses: inp.nodePortAddresses,
        fwmarks: pre.fwmarks,
        ...(inp.nodeIP ? { nodeIP: inp.nodeIP } : {}),
        ...(inp.nodeIPs ? { nodeIPs: inp.nodeIPs } : {}),
      });
      dsrReport = await dsr!.finish(plan.dsr, { podCIDRs: inp.podCIDRs });
      after = await extras!.afterApply(plan, snapshot);
    } catch (err) {
      extras?.onFailure();
      dsr?.invalidate();
      m.failures.inc();
      ctx.health.problem('proxy', `apply failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    const totalMs = performance.now() - t0;
    m.sync.observe(totalMs / 1000);
    m.services.set(plan.virtualServers.size);
    syncs++;
    ctx.health.beat('proxy');
    logSync(log, 'service proxy', reason, report.changed || fw.changed || dsrReport.changed, {
      ms: Math.round(totalMs),
      compileMs: Math.round(compileMs),
      applyMs: Object.fromEntries(Object.entries(report.ms).map(([k, v]) => [k, Math.round(v)])),
      virtualServers: plan.virtualServers.size,
      ipvsCommands: report.ipvsCommands,
      servicesAdded: report.servicesAdded,
      servicesRemoved: report.servicesRemoved,
      realServersAdded: report.realServersAdded,
      realServersRemoved: report.realServersRemoved,
      draining: report.draining,
      vipsAdded: report.vipsAdded,
      vipsRemoved: report.vipsRemoved,
      natChanged: report.natChanged,
      servicesCompiled: compiler.stats().recompiled,
      ...(fw.changed ? { vipFirewall: fw.chainWritten ? 'chain written' : 'sets changed' } : {}),
      ...(dsrReport.changed ? { dsr: { chainWritten: dsrReport.chainWritten, policyCommands: dsrReport.policyCommands, podsChanged: dsrReport.podsChanged } } : {}),
      ...(after.udpFlushed ? { udpConntrackFlushed: after.udpFlushed } : {}),
    });
    scheduleDrain();
  }

  /** A draining real server goes at its deadline, not at the next unrelated sync. */
  function scheduleDrain(): void {
    if (drainTimer) clearTimeout(drainTimer);
    drainTimer = undefined;
    const drains = [applier?.nextDrainDeadline(), extras?.nextFlushDue()].filter((t): t is number => t !== undefined);
    if (drains.length === 0) return;
    const at = Math.min(...drains);
    drainTimer = setTimeout(() => loop?.request('graceful period ended'), Math.max(0, at - Date.now()) + 50);
    drainTimer.unref();
  }

  /** MTU of the link holding the node's IP (1500 when it cannot be told): DSR's tunnel fits inside it. */
  async function readNodeMtu(): Promise<number> {
    const nodeIP = ctx.cluster.snapshot().nodes.get(opts.nodeName)?.primaryIP;
    // For commands run here the answer needs no process: the addresses from getifaddrs, the MTU
    // from sysfs (a process start costs seconds of wall time inside user-mode Linux).
    if (runsHere(exec) && nodeIP) {
      const dev = Object.entries(networkInterfaces()).find(([, as]) => as?.some((a) => a.address === nodeIP))?.[0];
      const mtu = dev ? Number(readSmallFile(`/sys/class/net/${dev}/mtu`).trim()) : NaN;
      if (dev && mtu > 0) return mtu;
    }
    const { stdout } = await exec('ip', ['-o', 'addr', 'show']);
    const dev = nodeIP ? stdout.split('\n').find((l) => l.includes(` inet ${nodeIP}/`))?.split(/\s+/)[1] : undefined;
    if (!dev) return 1500;
    const link = (await exec('ip', ['-o', 'link', 'show', 'dev', dev])).stdout;
    return Number(/ mtu (\d+)/.exec(link)?.[1] ?? 1500);
  }

  async function setSysctls(): Promise<void> {
    const timeouts = { tcp: opts.serviceTcpTimeoutMs, tcpFin: opts.serviceTcpfinTimeoutMs, udp: opts.serviceUdpTimeoutMs };
    // Synchronous: a /proc/sys write is done when the syscall returns, and each asynchronous one waited for
    // the event loop three times (open, write, close) while the other controllers' start-up work held it:
    // with the /proc/net/ip_vs check, 1-5 s of the proxy's start inside user-mode Linux, on the path to healthy.
    for (const [key, value] of [...SYSCTLS, ...(families.includes(6) ? SYSCTLS_IPV6 : [])]) {
      try {
        writeFileSync(`/proc/sys/${key}`, value);
      } catch (e) {
        log.warn({ sysctl: key, err: (e as Error).message }, 'service proxy: cannot set a kernel setting');
      }
    }
    if (timeouts.tcp || timeouts.tcpFin || timeouts.udp) {
      // ipvsadm --set takes all three; 0 keeps the kernel's value for that one.
      const s = (ms: number) => String(Math.round(ms / 1000));
      await exec('ipvsadm', ['--set', s(timeouts.tcp), s(timeouts.tcpFin), s(timeouts.udp)]);
    }
  }

  return {
    name: 'proxy',
    get syncs() {
      return syncs;
    },
    async start() {
      const bad = proxyConfigError(opts);
      if (bad) throw new Error(bad);
      // ipvsadm loads ip_vs where modules can load; its failure says clearly that this kernel has no IPVS.
      // Already loaded (its table is in /proc/net of our namespace): nothing to start.
      const loaded = runsHere(exec) && existsSync('/proc/net/ip_vs');
      if (!loaded) await exec('ipvsadm', ['-S', '-n']).catch((e: Error) => {
        throw new Error(`service proxy: IPVS is not available on this node (${e.message}); the proxy needs the ip_vs kernel module`);
      });
      await setSysctls();
      dsrTcpMss = await readNodeMtu().then((mtu) => mtu - 60, () => undefined);
      const backend = deps.backend ?? (await detectBackend(exec)).backend;
      dsr = new DsrApplier({ exec, backend, log });
      // After the ipvsadm read above: it loads ip_vs, whose netlink family the writer resolves.
      const ipvs = chooseIpvsWriter(exec);
      if (ipvs.fallbackReason) log.warn({ reason: ipvs.fallbackReason }, 'service proxy: writing IPVS with ipvsadm -R, not over netlink');
      else log.info('service proxy: writing IPVS over a resident generic-netlink socket');
      m.writer.set({ writer: 'netlink' }, ipvs.writer.name === 'netlink' ? 1 : 0);
      m.writer.set({ writer: 'ipvsadm' }, ipvs.writer.name === 'ipvsadm' ? 1 : 0);
      applier = new ProxyApplier({
        exec,
        backend,
        writer: ipvs.writer,
        nodePortRange,
        excludedCIDRs: opts.excludedCidrs,
        gracefulPeriodMs: opts.ipvsGracefulTermination ? opts.ipvsGracefulPeriodMs : 0,
        families,
      });
      extras = new ProxyExtras({
        exec,
        backend,
        nodeName: opts.nodeName,
        families,
        permitAll: opts.ipvsPermitAll,
        gracefulPeriodMs: opts.ipvsGracefulTermination ? opts.ipvsGracefulPeriodMs : 0,
        log,
        udpFlushed: m.udpFlushed,
        ipvs: ipvs.writer,
      });
      loop = new SyncLoop(ctx, { name: 'proxy', watched: WATCHED, nodeName: opts.nodeName, periodMs: opts.ipvsSyncPeriodMs, sync });
      await loop.start();
    },
    async stop() {
      if (drainTimer) clearTimeout(drainTimer);
      await loop?.stop();
      loop = undefined;
      await extras?.stop();
    },
    async cleanup() {
      const backend = deps.backend ?? (await detectBackend(exec)).backend;
      const podCIDRs = ctx.cluster.snapshot().nodes.get(opts.nodeName)?.podCIDRs ?? [];
      const fwmarks = await new DsrApplier({ exec, backend, log }).cleanup(podCIDRs);
      const a = new ProxyApplier({ exec, backend, nodePortRange, excludedCIDRs: opts.excludedCidrs, gracefulPeriodMs: 0, writer: chooseIpvsWriter(exec).writer, families });
      await a.cleanup(await readLocalAddresses().catch(() => []), fwmarks);
      const x = new ProxyExtras({ exec, backend, nodeName: opts.nodeName, families, permitAll: false, gracefulPeriodMs: 0, log, udpFlushed: m.udpFlushed });
      await x.cleanup();
      log.info('service proxy: removed its IPVS services, kube-dummy-if and its NAT chain');
    },
  };
}
