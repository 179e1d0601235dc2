// The routing controller (--run-router): pod CIDR -> CNI conflist + kube-bridge + forwarding/egress rules,
// BGP peers and advertisements from the cluster, and kernel routes from the speaker's best paths.
// Route installation reacts to every best-path change at once; a periodic pass re-checks the kernel
// against the *current* best paths only (no route cache that could resurrect a withdrawn prefix).
import { readFile } from 'node:fs/promises';
import type { BestPathChange, BgpSpeaker, PeerStatus } from '../../bgp/api.js';
import type { Controller, ControllerContext } from '../controller.js';
import { compileAdvertisements, toSpeakerAdvertisements, vipImportRejects, type TypedAdvertisement } from './compile/advertisements.js';
import { GO_ADDRESSES, ipFamily } from '../../model/normalize/ip.js';
import type { IPFamily, NodeModel, PodModel } from '../../model/types.js';
import { OwnNodeHold, peersThatDeconfiguredUs, podsOutside } from './own-node.js';
import { resolvePodCidrs } from './compile/pod-cidr.js';
import { compilePeers } from './compile/peers.js';
import { compileRoutes } from './compile/routes.js';
import { ensureBridge, ensureSysctls, findNodeInterfaces, type NodeInterface } from './apply/bridge.js';
import { removeCniFile, syncCniFile } from './apply/cni-file.js';
import { execAnyCode, execHost, type Exec } from '../../dataplane/exec.js';
import { cleanupForwardEgress, syncForwardEgress } from './apply/forward-egress.js';
import { detectBackend, type BackendName } from '../../dataplane/iptables/backend.js';
import { applyRoutes, cleanupRoutes, readKernelRoutes, type KernelRouteState } from './apply/routes.js';
import { watchKernel, type KernelWatch } from '../../dataplane/ip/monitor.js';
import { syncPolicyRules } from './apply/policy-routing.js';
import { SyncRunner } from '../../watch/sync-runner.js';
import { createRouterMetrics } from './metrics.js';
import type { RouterOptions } from './options.js';
import { BRIDGE_NAME } from './compile/cni.js';
import { chooseRouterId, defaultSpeakerFactory, SpeakerHolder, type SpeakerFactory } from './speaker.js';

export interface RouterDeps {
  /** Where kernel commands run (default: this process's namespace). */
  readonly exec?: Exec;
  readonly speakerFactory?: SpeakerFactory;
  /** Re-sync routes on link/route events (default true). */
  readonly watchKernel?: boolean;
  /** iptables backend; default: detected the way the firewall controller detects it. */
  readonly iptablesBackend?: BackendName;
}

export interface RouterStatus {
  readonly podCidrs: readonly string[];
  readonly problem?: string;
  readonly peers: readonly PeerStatus[];
  readonly advertisements: readonly TypedAdvertisement[];
  readonly configErrors: readonly string[];
  readonly missingCniPlugins: readonly string[];
  readonly routesHeldForGracefulRestart: boolean;
}

export interface RouterController extends Controller {
  cleanup(): Promise<void>;
  status(): RouterStatus;
  /** Runs a full sync now (tests, and the agent on demand). */
  syncNow(): Promise<void>;
}

const NAME = 'router';
/** After every peer is up following a graceful restart, wait this long for their routes before deleting stale ones. */
const GR_SETTLE_MS = 3000;
/** Without graceful restart, the longest a restarted agent keeps its previous routes while peers come up. */
const RESTART_HOLD_MAX_MS = 30_000;
/**
 * A peer that removes us from its configuration (Cease 6/3) most often does so because our own Node object
 * was deleted, and its session drop can reach us before our own informer reports the deletion: removals wait
 * this long for that, then go ahead if our Node is still there.
 */
const DECONFIGURED_HOLD_MS = 15_000;
/** A failed full sync is retried after 1 s, doubling up to this (capped by the sync period). */
const FULL_RETRY_MAX_MS = 60_000;
/** A failed route sync is retried after 250 ms, doubling up to this (best-path changes still apply at once). */
const ROUTES_RETRY_INITIAL_MS = 250;
const ROUTES_RETRY_MAX_MS = 30_000;
/**
 * A route sync may diff against the state the previous one left (no `ip` read) only while `ip monitor` runs
 * and had been running this long when that state was read: time for it to have subscribed, so an event
 * before then cannot have been missed (an `ip` start takes up to ~1 s in the lab's busy user-mode Linux).
 */
const WATCH_SETTLE_MS = 3000;

export function createRouterController(ctx: ControllerContext, opts: RouterOptions, deps: RouterDeps = {}): RouterController {
  const exec = deps.exec ?? execHost;
  let backend: BackendName | undefined = deps.iptablesBackend;
  const iptablesBackend = async (): Promise<BackendName> => {
    if (!backend) {
      const choice = await detectBackend(exec);
      backend = choice.backend;
      log.info({ backend, reason: choice.reason }, 'iptables backend');
    }
    return backend;
  };
  const log = ctx.log; // already a per-controller child logger (agent: controllerLogger)
  const metrics = createRouterMetrics(ctx.metrics);
  const families: IPFamily[] = [...(opts.enableIpv4 ? [4 as const] : []), ...(opts.enableIpv6 ? [6 as const] : [])];

  let stopped = false;
  let podCidrs: readonly string[] = [];
  let problem: string | undefined;
  let configErrors: readonly string[] = [];
  let missingPlugins: readonly string[] = [];
  let ads: readonly TypedAdvertisement[] = [];
  let nodeIPs: readonly string[] = [];
  let ifaces: readonly NodeInterface[] = [];
  let clusterNodeIPs = new Set<string>();
  let grHoldUntil = 0;
  let grAllUpSince = 0;
  let deconfiguredRecheck: NodeJS.Timeout | undefined;
  const own = new OwnNodeHold(ctx.nodeName, log, ctx.health, NAME);
  const logged = new Map<string, string>();
  const timers: NodeJS.Timeout[] = [];
  let unsubscribe: (() => void) | undefined;
  let kernelWatch: KernelWatch | undefined;

  // Log a condition once when it appears or changes, not on every sync.
  const once = (key: string, msg: string | undefined, level: 'error' | 'warn' | 'info' = 'warn', extra: object = {}) => {
    if (msg === undefined) { logged.delete(key); return; }
    if (logged.get(key) === msg) return;
    logged.set(key, msg);
    log[level](extra, msg);
  };

  const onBestPath = (c: BestPathChange) => {
    if (c.best?.peer !== undefined) metrics.advertisementsReceived.inc();
    void requestRoutes();
  };
  const onPeerState = () => updatePeerMetrics();
  const holder = new SpeakerHolder(
    deps.speakerFactory ?? defaultSpeakerFactory, opts, log,
    (s) => s.on('bestPathChanged', onBestPath).on('peerStateChanged', onPeerState),
    (s) => s.off('bestPathChanged', onBestPath).off('peerStateChanged', onPeerState),
  );

  function updatePeerMetrics(): void {
    metrics.peerInfo.reset();
    for (const p of holder.speaker?.peers() ?? []) {
      metrics.peerInfo.set({ address: p.address, type: p.internal ? 'internal' : 'external', asn: String(p.asn), state: p.state }, 1);
    }
  }

  // Full syncs (cluster -> BGP config, CNI, bridge, rules) run on the project's SyncRunner: events coalesce,
  // a full re-apply comes every routesSyncPeriodMs, and a failed run (which keeps whatever the kernel had:
  // every step is a diff or an atomic restore) is retried with exponential backoff instead of waiting for the
  // period. Route syncs (best paths -> kernel) have their own immediate worker so a best-path change never
  // waits behind a full sync or its backoff.
  let fullRunSeq = 0;
  let fullRunning: Promise<void> | undefined;
  const fullWaiters: { after: number; resolve: () => void }[] = [];
  const full = new SyncRunner({
    name: 'router',
    log,
    minIntervalMs: 0,
    periodMs: opts.routesSyncPeriodMs,
    backoff: { initialMs: 1000, maxMs: Math.max(1000, Math.min(FULL_RETRY_MAX_MS, opts.routesSyncPeriodMs)) },
    run: async (reason) => {
      const seq = ++fullRunSeq;
      fullRunning = fullSync(reason.full);
      try {
        await fullRunning;
      } finally {
        fullRunning = undefined;
        for (const w of fullWaiters.splice(0)) if (w.after < seq) w.resolve(); else fullWaiters.push(w);
      }
    },
  });
  /** Resolves when a full sync that starts after this call has ended (successfully or not), or on stop. */
  function nextFullSync(): Promise<void> {
    if (stopped) return Promise.resolve();
    return new Promise((resolve) => fullWaiters.push({ after: fullRunSeq, resolve }));
  }

  // What the kernel held after the last route sync, and the kernel-event generation it holds for: a route
  // sync triggered by a best-path change or cluster event diffs against it instead of starting an `ip` to read
  // (in user-mode Linux a process start costs ~36 ms of the one CPU and a route sync ran 8-9 times before an
  // agent was healthy). Every `ip monitor` event that can touch our routes (a deletion of ours, a link
  // change) and every exit/restart of the monitor bumps the generation; the periodic and on-demand syncs
  // always read, which repairs changes the monitor does not report (e.g. our route replaced by someone).
  let kernelGen = 0;
  let knownKernel: { gen: number; state: KernelRouteState } | undefined;
  let routesPending = false, routesRead = false, routesRunning: Promise<void> | undefined;
  let routeFailures = 0;
  let routeRetry: NodeJS.Timeout | undefined;
  /** `read`: the sync reads the kernel instead of trusting the state the last one left. */
  function requestRoutes(read = false): Promise<void> {
    routesPending = true;
    routesRead ||= read;
    routesRunning ??= (async () => {
      while (routesPending && !stopped) {
        routesPending = false;
        const errors: string[] = [];
        const mustRead = routesRead;
        routesRead = false;
        await routeSync(errors, mustRead);
        once('route-errors', errors.length > 0 ? `route sync had errors: ${errors.join('; ')}` : undefined, 'error');
        clearTimeout(routeRetry);
        routeRetry = undefined;
        if (errors.length === 0) { routeFailures = 0; continue; }
        routeFailures++;
        const delay = Math.min(ROUTES_RETRY_MAX_MS, ROUTES_RETRY_INITIAL_MS * 2 ** (routeFailures - 1));
        routeRetry = setTimeout(() => void requestRoutes(true), delay);
        routeRetry.unref();
      }
    })().finally(() => { routesRunning = undefined; });
    return routesRunning;
  }

  async function step<T>(name: string, fn: () => Promise<T>, errors: string[]): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      metrics.syncErrors.inc({ step: name });
      errors.push(`${name}: ${(e as Error).message}`);
      return undefined;
    }
  }

  // Kernel steps whose inputs did not change since their last success are skipped on event-driven
  // syncs; the periodic (forced) sync re-applies everything, which repairs drift.
  const applied = new Map<string, string>();
  async function stepIfChanged(name: string, inputs: unknown, forced: boolean, fn: () => Promise<unknown>, errors: string[]): Promise<void> {
    const key = JSON.stringify(inputs);
    if (!forced && applied.get(name) === key) return;
    const before = errors.length;
    await step(name, fn, errors);
    if (errors.length === before) applied.set(name, key); else applied.delete(name);
  }

  async function fullSync(forced: boolean): Promise<void> {
    const t0 = performance.now();
    const errors: string[] = [];
    const snap = ctx.cluster.snapshot();
    const self = ownNode(snap.nodes.get(ctx.nodeName));
    // Every node of the cluster as this sync treats it: with our own held last state while it is missing.
    const nodes: NodeModel[] = [...snap.nodes.values()];
    if (self && !snap.nodes.has(ctx.nodeName)) nodes.push(self);
    const cidr = resolvePodCidrs(self, ctx.nodeName, opts);
    cidr.warnings.forEach((w, i) => once(`cidr-warn-${i}`, w));
    if (cidr.ok && podCidrs.length > 0 && cidr.cidrs.join(',') !== podCidrs.join(',')) podCidrChanged(podCidrs, cidr.cidrs, snap.pods.values());
    podCidrs = cidr.ok ? cidr.cidrs : [];
    problem = cidr.ok ? undefined : cidr.reason;
    metrics.podCidrMissing.set(cidr.ok ? 0 : 1);
    once('pod-cidr', problem, 'error');
    if (cidr.ok) once('pod-cidr-ok', `node ${ctx.nodeName} pod CIDR(s) ${cidr.cidrs.join(',')} (from ${cidr.source})`, 'info');
    if (!self) { ctx.health.problem(NAME, problem!, 'KRT_ROUTER_NO_POD_CIDR'); return; }

    nodeIPs = [...self.internalIPs, ...self.externalIPs].filter((ip) => families.includes(ipFamily(ip, GO_ADDRESSES)!));
    clusterNodeIPs = new Set(nodes.map((n) => n.primaryIP).filter((ip): ip is string => !!ip));
    if (forced || ifaces.length === 0) ifaces = (await step('interfaces', () => findNodeInterfaces(exec, nodeIPs), errors)) ?? ifaces;

    // BGP first: peers and announcements are in-memory and let sessions come up while the kernel work runs.
    const tp = performance.now();
    let pwLines: string[] | undefined;
    if (opts.peerRouterPasswordsFile && opts.peerRouterPasswords.length === 0) {
      pwLines = await step('passwords-file', async () => (await readFile(opts.peerRouterPasswordsFile, 'utf8')).split('\n').map((l) => l.trim()), errors);
    }
    const otherPodCidrs: string[] = [];
    for (const n of nodes) {
      const r = n.name === self.name ? undefined : resolvePodCidrs(n, n.name, opts);
      if (r?.ok) otherPodCidrs.push(...r.cidrs.filter((c) => !podCidrs.includes(c)));
    }
    const plan = compilePeers({
      self, nodes, opts, importRejects: vipImportRejects(snap.services.values(), opts), otherPodCidrs: otherPodCidrs.sort(),
      ...(pwLines ? { passwordsFileLines: pwLines } : {}),
    });
    configErrors = plan.errors;
    metrics.configErrors.set(plan.errors.length);
    const seen = new Set(plan.errors);
    for (const k of [...logged.keys()]) if (k.startsWith('cfg:') && !seen.has(k.slice(4))) logged.delete(k);
    for (const e of plan.errors) once(`cfg:${e}`, e);
    const routerId = chooseRouterId(opts, self.name, nodeIPs);
    if (plan.asn !== undefined && routerId) {
      const speaker = await step('bgp-start', () => holder.ensure({ asn: plan.asn!, routerId, listen: self.primaryIP ?? '', ...(plan.clusterId ? { clusterId: plan.clusterId } : {}) }), errors);
      if (speaker) {
        speaker.setPeers(plan.peers);
        const next = compileAdvertisements({ self, podCidrs, services: snap.services.values(), endpointSlices: snap.endpointSlices.values(), opts });
        const before = new Set(ads.map((a) => a.prefix));
        for (const a of next) if (!before.has(a.prefix)) metrics.advertisementsSent.inc({ type: a.type });
        ads = next;
        speaker.setAdvertisements(toSpeakerAdvertisements(next));
        updatePeerMetrics();
      }
    } else if (!routerId) {
      errors.push('bgp: no router id (set --router-id for nodes without an IPv4 address)');
    }
    metrics.internalPeersSyncTime.observe((performance.now() - tp) / 1000);

    if (cidr.ok) {
      const mtu = opts.autoMtu ? (ifaces[0]?.mtu ?? 0) : opts.mtu;
      if (opts.enableCni) {
        await stepIfChanged('cni', [podCidrs, mtu], forced, async () => {
          const res = await syncCniFile(opts.cniConfFile, { podCidrs, mtu, hairpinMode: opts.hairpinMode, portmap: opts.cniPortmap }, opts.cniBinDirs);
          if (res.written) log.info({ file: res.path, podCidrs }, 'wrote CNI config');
          if (res.replacedInvalid) log.error({ file: res.path, kept: res.replacedInvalid }, 'existing CNI config was not valid JSON; replaced it and kept the old bytes');
          missingPlugins = res.missingPlugins;
          metrics.cniPluginsMissing.set(missingPlugins.length);
          once('cni-plugins', missingPlugins.length > 0
            ? `CNI plugin binaries missing: ${missingPlugins.join(', ')} (looked in ${opts.cniBinDirs.join(', ')}); pods on this node cannot start until they are installed (e.g. /opt/cni/bin/bridge from containernetworking/plugins)`
            : undefined, 'error');
        }, errors);
      }
      await stepIfChanged('bridge', [podCidrs, mtu], forced, () => ensureBridge(exec, podCidrs, mtu), errors);
      await stepIfChanged('sysctl', podCidrs, forced, async () => (await ensureSysctls(exec, podCidrs)).forEach((m, i) => once(`sysctl-${i}`, m)), errors);
    }
    // Policy routing exists for the tunnels; without the overlay the rules go (as kube-router removes them).
    await stepIfChanged('policy-rules', [podCidrs, opts.enableOverlay], forced, () => syncPolicyRules(exec, families, podCidrs, opts.enableOverlay && cidr.ok), errors);

    const allPodCidrs: string[] = [];
    for (const n of nodes) {
      const r = n.name === self.name ? cidr : resolvePodCidrs(n, n.name, opts);
      if (r.ok) allPodCidrs.push(...r.cidrs);
    }
    const allNodeIPs = nodes.flatMap((n) => [...n.internalIPs, ...n.externalIPs]);
    const fw = { families, clusterPodCidrs: allPodCidrs.sort(), clusterNodeIPs: allNodeIPs.sort(), enablePodEgress: opts.enablePodEgress };
    await stepIfChanged('iptables', fw, forced, async () => syncForwardEgress(exec, await iptablesBackend(), fw), errors);

    // A periodic full sync re-reads our routes too; the first has nothing to repair that a read would add.
    void requestRoutes(forced && fullRunSeq > 1);
    metrics.routesSyncTime.observe((performance.now() - t0) / 1000);
    once('sync-errors', errors.length > 0 ? `router sync had errors: ${errors.join('; ')}` : undefined, 'error');
    if (problem) ctx.health.problem(NAME, problem, 'KRT_ROUTER_NO_POD_CIDR');
    else if (errors.length === 0) ctx.health.beat(NAME);
    // The runner retries with backoff; steps that succeeded are not redone on an event-driven retry.
    if (errors.length > 0) throw new Error(errors.join('; '));
  }

  /** Our Node, or its held last state while missing (see own-node.ts); its return holds route removals. */
  function ownNode(current: NodeModel | undefined): NodeModel | undefined {
    const r = own.observe(current, podCidrs);
    if (r.cameBack) {
      grHoldUntil = Math.max(grHoldUntil, Date.now() + Math.min(RESTART_HOLD_MAX_MS, opts.bgpGracefulRestartDeferralTimeMs));
      grAllUpSince = 0;
    }
    return r.self;
  }

  function podCidrChanged(from: readonly string[], to: readonly string[], pods: Iterable<PodModel>): void {
    const stranded = podsOutside(from, to, ctx.nodeName, pods);
    log.warn(
      { from, to, podsWithOldAddresses: stranded },
      `pod CIDR changed: re-addressing kube-bridge, rewriting the CNI config, announcing the new CIDR and withdrawing the old; ` +
        `${stranded} pod(s) on this node still hold addresses of the old CIDR and stay unreachable until recreated`,
    );
  }

  /** The kernel state a route sync may diff against without reading, if any (see knownKernel). */
  function trustedKernel(): KernelRouteState | undefined {
    return knownKernel?.gen === kernelGen && kernelWatch?.runningSince() !== undefined ? knownKernel.state : undefined;
  }

  async function routeSync(errors: string[], mustRead: boolean): Promise<void> {
    const speaker = holder.speaker;
    if (!speaker) return;
    const t0 = performance.now();
    const plan = compileRoutes({
      bestPaths: speaker.bestPaths(), ownPrefixes: podCidrs, nodeIPs, localSubnets: ifaces.flatMap((i) => i.subnets), clusterNodeIPs,
      enableOverlay: opts.enableOverlay, overlayType: opts.overlayType, overlayEncap: opts.overlayEncap, overlayEncapPort: opts.overlayEncapPort,
      enableIpv4: opts.enableIpv4, enableIpv6: opts.enableIpv6,
    });
    for (const u of plan.unroutable) once(`unroutable:${u.prefix}`, `not installing ${u.prefix} via ${u.nextHop}: ${u.reason}`);
    // While our Node object is missing the peers drop us and their routes go with the sessions: removing them
    // here would cut this node's pods off the rest of the cluster for what may be a transient deletion.
    const holdRemovals = own.missing || grHolding(speaker) || deconfiguredHolding(speaker);
    const gen = kernelGen;
    const since = kernelWatch?.runningSince();
    const known = mustRead ? undefined : trustedKernel();
    knownKernel = undefined;
    const readAt = Date.now();
    const res = await step('routes', () => applyRoutes(exec, plan, families, !holdRemovals, known), errors);
    // Kept only if no kernel event came during the sync and, for a fresh read, the monitor was listening.
    const settled = since !== undefined && (known !== undefined || readAt - since >= WATCH_SETTLE_MS);
    if (res?.after && gen === kernelGen && settled) knownKernel = { gen, state: res.after };
    if (res) {
      if (res.read) metrics.hostRoutesReads.inc();
      metrics.hostRoutesAdded.inc(res.added);
      metrics.hostRoutesRemoved.inc(res.removed);
      metrics.hostRoutesSynced.set(res.synced);
      // Routes appearing or going away are news for an operator; a sync that changes nothing is not logged.
      if (res.added + res.removed + res.tunnelsAdded + res.tunnelsRemoved > 0) {
        log.info({ added: res.added, removed: res.removed, tunnelsAdded: res.tunnelsAdded, tunnelsRemoved: res.tunnelsRemoved }, 'routes synced');
      }
      if (res.errors.length > 0) {
        metrics.syncErrors.inc({ step: 'routes' });
        errors.push(`routes: ${res.errors.join(' | ')}`);
      }
    }
    metrics.hostRoutesSyncTime.observe((performance.now() - t0) / 1000);
  }

  /** True while a peer's recent Cease "peer de-configured" may be the first sign of our own Node's deletion. */
  function deconfiguredHolding(speaker: BgpSpeaker): boolean {
    const recent = peersThatDeconfiguredUs(speaker.peers(), DECONFIGURED_HOLD_MS);
    if (recent.length === 0) {
      once('deconfigured-hold', undefined);
      return false;
    }
    once('deconfigured-hold', `peer(s) ${recent.map((p) => p.address).join(', ')} removed this node from their configuration: ` +
      `holding route removals up to ${DECONFIGURED_HOLD_MS / 1000} s in case our own Node object was deleted`, 'warn');
    // Look again when the newest drop is old enough; by then the informer has told us about our Node.
    const left = Math.max(...recent.map((p) => DECONFIGURED_HOLD_MS - (p.lastDown?.agoMs ?? 0)));
    clearTimeout(deconfiguredRecheck);
    deconfiguredRecheck = setTimeout(() => void requestRoutes(), left + 50);
    deconfiguredRecheck.unref();
    return true;
  }

  // After a graceful restart the kernel still holds the routes we installed before; deleting them before the
  // speaker has relearned the mesh would cut the very traffic graceful restart exists to keep.
  function grHolding(speaker: BgpSpeaker): boolean {
    if (grHoldUntil === 0) return false;
    const now = Date.now();
    const peers = speaker.peers();
    if (peers.length > 0 && peers.every((p) => p.state === 'Established')) grAllUpSince ||= now;
    else grAllUpSince = 0;
    if (now >= grHoldUntil || (grAllUpSince > 0 && now - grAllUpSince >= GR_SETTLE_MS)) {
      grHoldUntil = 0;
      log.info('restart hold over: stale routes may now be removed');
      return false;
    }
    const t = setTimeout(() => void requestRoutes(), 500);
    t.unref();
    return true;
  }

  return {
    name: NAME,
    async start() {
      ctx.health.register(NAME, opts.routesSyncPeriodMs);
      // Watching from the start (a route sync before the speaker exists does nothing) lets the route syncs of
      // start-up diff against what the last one left once the monitor has settled, instead of each reading.
      if (deps.watchKernel !== false) kernelWatch = watchKernel(exec.netns, () => void requestRoutes(), 100, () => { kernelGen++; });
      await ctx.cluster.whenSynced();
      // Our routes still in the kernel mean a previous instance stopped without cleanup: a restart.
      const left = await readKernelRoutes(exec, families).catch(() => []);
      if (opts.bgpGracefulRestart) {
        grHoldUntil = Date.now() + opts.bgpGracefulRestartDeferralTimeMs;
        holder.restarting = left.length > 0;
        if (holder.restarting) log.info({ routes: left.length }, 'routes from a previous run found: restarting gracefully');
      } else if (left.length > 0) {
        // Without graceful restart the peers forget us, but our own routes to them are still right: deleting
        // them because the new speaker has not heard its peers yet would cut this node's cross-node traffic.
        grHoldUntil = Date.now() + Math.min(RESTART_HOLD_MAX_MS, opts.bgpGracefulRestartDeferralTimeMs);
        log.info({ routes: left.length }, 'routes from a previous run found: keeping them until the peers are heard again');
      }
      unsubscribe = ctx.cluster.subscribe(['Node', 'Service', 'EndpointSlice'], () => full.request());
      // Returns after the first run even when it failed (the runner keeps retrying): the agent must come up
      // and report the problem rather than hang.
      const first = nextFullSync();
      void full.start();
      await first;
      // The first full sync has just requested a route sync from the same state: wait for it, not a second.
      await (routesRunning ?? requestRoutes());
      timers.push(setInterval(() => void requestRoutes(true), opts.injectedRoutesSyncPeriodMs));
      for (const t of timers) t.unref();
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      kernelWatch?.stop();
      timers.forEach(clearInterval);
      clearTimeout(routeRetry);
      clearTimeout(deconfiguredRecheck);
      full.stop();
      for (const w of fullWaiters.splice(0)) w.resolve();
      await Promise.all([fullRunning?.catch(() => undefined), routesRunning]);
      await holder.stop(opts.bgpGracefulRestart);
    },
    async cleanup() {
      await holder.stop(false);
      const errs: string[] = [];
      await step('cleanup-routes', () => cleanupRoutes(exec, families), errs);
      await step('cleanup-policy-rules', () => syncPolicyRules(exec, families, [], false), errs);
      await step('cleanup-iptables', async () => cleanupForwardEgress(exec, await iptablesBackend(), families), errs);
      await step('cleanup-bridge', () => execAnyCode(exec, 'ip', ['link', 'del', BRIDGE_NAME]), errs);
      if (opts.enableCni) await step('cleanup-cni-config', () => removeCniFile(opts.cniConfFile), errs);
      if (errs.length > 0) log.warn({ errors: errs }, 'router cleanup incomplete');
    },
    status: () => ({
      podCidrs, ...(problem ? { problem } : {}), peers: holder.speaker?.peers() ?? [], advertisements: ads, configErrors,
      missingCniPlugins: missingPlugins, routesHeldForGracefulRestart: grHoldUntil !== 0,
    }),
    async syncNow() {
      const done = nextFullSync();
      full.request('syncNow', { full: true });
      await done;
      // The full sync requested a reading route sync at its end: wait for that one rather than queue another.
      await (routesRunning ?? requestRoutes(true));
    },
  };
}
