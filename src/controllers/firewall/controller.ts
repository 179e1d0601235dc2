// The NetworkPolicy firewall controller (--run-firewall): watches pods, namespaces, policies and its own
// node, compiles incrementally and applies through one ipset restore + one iptables-restore --noflush
// per family. Each node runs its own; everything happens in the agent's network namespace.
import type { Logger } from 'pino';
import { execHost, type Exec } from '../../dataplane/exec.js';
import { detectBackend, type BackendName, type IptablesBinaries } from '../../dataplane/iptables/backend.js';
import type { IPFamily, NodeModel } from '../../model/types.js';
import { gauge, histogram, counter } from '../../observe/metrics.js';
import type { SyncReason } from '../../watch/sync-runner.js';
import type { Controller, ControllerContext } from '../controller.js';
import { logSync, SyncLoop } from '../sync-loop.js';
import { FirewallApplier } from './apply/applier.js';
import { NftFirewallApplier } from './apply/nft-applier.js';
import { openIpsetContext, openNftContext, type IpsetContext, type NftContext } from '../../dataplane/netfilter/native/addon.js';
import { FirewallCompiler, type CompileOptions } from './compile/compiler.js';
import { deriveCompileOptions, firewallFamilies } from './options.js';
import { errorCode, KrtError } from '../../observe/errors.js';

export interface FirewallOptions {
  nodeName: string;
  /** Optional; otherwise from the Node object. (Node-local traffic is recognised by addrtype LOCAL.) */
  nodeIPs?: string[];
  /**
   * This node's pod CIDRs; otherwise the Node object's (kube-router.io/pod-cidr(s) annotation, else
   * spec.podCIDRs). Fail-closed for pods not programmed yet needs them.
   */
  podCIDRs?: string[];
  syncPeriodMs: number;
  /**
   * --netpol-default-deny, kept for compatibility: kube-router-ts always fails closed for pods it has not
   * programmed yet (what the flag turns on in kube-router), so it changes nothing; start() says so.
   */
  defaultDeny: boolean;
  serviceClusterIPRanges: string[];
  serviceExternalIPRanges: string[];
  loadBalancerIPRanges: string[];
  nodePortRange: { min: number; max: number };
  enableIPv4: boolean;
  enableIPv6: boolean;
  backend?: 'auto' | BackendName;
  /**
   * --use-nftables-for-netpol: program our own nftables table (inet kube-router-ts-netpol) instead of
   * iptables chains and ipsets (the same plan). Whichever backend runs removes the other's state after its first
   * sync, so an agent restarted with the other setting leaves nothing behind.
   */
  useNftables?: boolean;
  netns?: never;
}

/** Seams for tests and the lab: where commands run and which binaries they use. */
export interface FirewallDeps {
  readonly exec?: Exec;
  readonly binaries?: (family: IPFamily) => IptablesBinaries;
  readonly ipsetBinary?: string;
  readonly nftBinary?: string;
  readonly backoff?: { initialMs: number; maxMs: number };
}

export type FirewallController = Controller & {
  cleanup(): Promise<void>;
  /** Completed successful syncs (tests wait on it). */
  readonly syncs: number;
  /** The iptables backend, or 'nftables' for the native one. */
  readonly backend: BackendName | 'nftables' | undefined;
};

const WATCHED = ['Pod', 'Namespace', 'NetworkPolicy', 'Node'] as const;

export function createFirewallController(ctx: ControllerContext, opts: FirewallOptions, deps: FirewallDeps = {}): FirewallController {
  const log: Logger = ctx.log;
  const exec = deps.exec ?? execHost;
  const families: IPFamily[] = firewallFamilies(opts);
  const m = {
    sync: histogram(ctx.metrics, 'controller_iptables_sync_time', 'Time it took for the network policy controller to sync iptables'),
    compile: histogram(ctx.metrics, 'controller_policy_chains_sync_time', 'Time it took to compile network policy chains and sets'),
    restore: {
      4: histogram(ctx.metrics, 'controller_iptables_v4_restore_time', 'Time it took for iptables-restore (IPv4)'),
      6: histogram(ctx.metrics, 'controller_iptables_v6_restore_time', 'Time it took for ip6tables-restore (IPv6)'),
    },
    save: histogram(ctx.metrics, 'controller_iptables_v4_save_time', 'Time it took to read the kernel state (iptables-save, ipset save)'),
    ipset: histogram(ctx.metrics, 'controller_policy_ipset_v4_restore_time', 'Time it took for ipset restore'),
    chains: gauge(ctx.metrics, 'controller_policy_chains', 'Active network policy chains'),
    ipsets: gauge(ctx.metrics, 'controller_policy_ipsets', 'Active network policy ipsets'),
    failures: counter(ctx.metrics, 'controller_policy_sync_failures', 'Failed firewall syncs (retried with backoff)'),
    warnings: counter(ctx.metrics, 'controller_policy_warnings', 'Policy parts skipped as invalid or unsupported'),
  };

  let backend: BackendName | 'nftables' | undefined;
  let applier: FirewallApplier | undefined;
  let nftApplier: NftFirewallApplier | undefined;
  /** The other backend's state is removed once, after our first successful sync. */
  let otherCleaned = false;
  let compiler: FirewallCompiler | undefined;
  let compilerKey = '';
  let loop: SyncLoop | undefined;
  let syncs = 0;
  let warned = new Set<string>();
  let cidrNote = '';
  // Our Node as last seen: its deletion from the API (transient, or an operator's mistake) must not drop
  // fail-closed; the router holds its last state the same way (router/own-node.ts).
  let lastNode: NodeModel | undefined;

  const compileOptions = (): CompileOptions => {
    const node = ctx.cluster.snapshot().nodes.get(opts.nodeName) ?? lastNode;
    lastNode = node;
    const { options, podCidrs: found } = deriveCompileOptions(opts, node);
    const podCIDRs = options.podCIDRs;
    // Said once per change of what is known, so an operator sees when fail-closed starts (or cannot).
    const note = `${found.source}:${podCIDRs.join(',')}:${found.invalid.join(',')}`;
    if (note !== cidrNote) {
      cidrNote = note;
      if (found.invalid.length > 0) log.warn({ invalid: found.invalid }, 'firewall: ignoring invalid CIDR(s) in the kube-router.io/pod-cidr(s) annotation');
      const missing = families.filter((f) => !podCIDRs.some((c) => c.includes(':') === (f === 6)));
      if (missing.length > 0) {
        log.warn(
          { node: opts.nodeName, families: missing },
          `firewall: no IPv${missing.join('/IPv')} pod CIDR known for node ${opts.nodeName} (node.spec.podCIDRs or the kube-router.io/pod-cidr annotation): ` +
            'fail-closed for new pods needs it, so until it is known a pod is reachable before its rules exist',
        );
      }
      if (podCIDRs.length > 0) log.info({ podCIDRs, source: found.source }, 'firewall: failing closed for pod addresses not programmed yet');
    }
    return options;
  };

  /** Removes what the backend we are not using holds (an agent restarted with the other setting). */
  async function cleanOther(): Promise<void> {
    try {
      if (opts.useNftables) {
        await iptablesApplier(await detectBackend(exec, opts.backend ?? 'auto')).cleanup();
      } else {
        const n = nftablesApplier(true, 'to look for (and remove) a table left by --use-nftables-for-netpol');
        if (await n.exists()) {
          await n.cleanup();
          log.info('firewall: removed the native nftables table left by --use-nftables-for-netpol');
        }
      }
    } catch (err) {
      // No nft binary, or no iptables: nothing of that backend can be ours.
      log.debug({ err }, 'firewall: the other backend could not be read or cleaned');
    }
  }

  let ipsetContext: IpsetContext | Error | undefined;
  /** The resident libipset session (opened once, in the namespace `exec` runs in), unless a test names an ipset binary. */
  function residentIpset(): IpsetContext | undefined {
    if (deps.ipsetBinary) return undefined;
    if (!ipsetContext) {
      ipsetContext = openIpsetContext(exec.netns);
      if (ipsetContext instanceof Error) log.info({ err: ipsetContext.message }, 'firewall: no resident libipset session; running ipset restore for each change');
    }
    return ipsetContext instanceof Error ? undefined : ipsetContext;
  }

  function iptablesApplier(choice: { backend: BackendName }, fams: readonly IPFamily[] = [4, 6], resident = false): FirewallApplier {
    const ipsetCtx = resident ? residentIpset() : undefined;
    return new FirewallApplier({
      exec,
      backend: choice.backend,
      families: fams,
      ...(deps.binaries ? { binaries: deps.binaries } : {}),
      ...(deps.ipsetBinary ? { ipsetBinary: deps.ipsetBinary } : {}),
      ...(ipsetCtx ? { ipsetContext: ipsetCtx } : {}),
    });
  }

  let nftContext: NftContext | Error | undefined;
  /**
   * The resident libnftables context (opened once, in the namespace `exec` runs in), unless a test names an
   * nft binary. `use` says what the nft binary runs for without it, for the log line.
   */
  function residentNft(use = 'for each sync'): NftContext | undefined {
    if (deps.nftBinary) return undefined;
    if (!nftContext) {
      nftContext = openNftContext(exec.netns);
      if (nftContext instanceof Error) log.info({ err: nftContext.message }, `firewall: no resident libnftables context; running the nft binary ${use}`);
    }
    return nftContext instanceof Error ? undefined : nftContext;
  }

  /**
   * The native backend needs libnftables (the addon) or the nft binary. Without either every sync would fail
   * and be retried for ever behind a healthy-looking start, so the controller refuses to start instead.
   */
  async function requireNft(): Promise<void> {
    if (residentNft()) return;
    const nft = deps.nftBinary ?? 'nft';
    try {
      await exec(nft, ['--version'], { timeoutMs: 5000 });
    } catch (err) {
      const addon = nftContext instanceof Error ? nftContext.message : 'not used (a test names the nft binary)';
      throw new KrtError(
        'KRT_FIREWALL_NFT_UNAVAILABLE',
        `firewall: --use-nftables-for-netpol needs libnftables or the nft binary, and this node has neither: libnftables: ${addon}; ${nft}: ${err instanceof Error ? err.message : String(err)}. ` +
          'Install nftables (Debian: nftables, libnftables1) or drop --use-nftables-for-netpol',
        { cause: err },
      );
    }
  }

  function nftablesApplier(resident = false, use?: string): NftFirewallApplier {
    const context = resident ? residentNft(use) : undefined;
    return new NftFirewallApplier({ exec, families, ...(deps.nftBinary ? { nftBinary: deps.nftBinary } : {}), ...(context ? { context } : {}) });
  }

  async function sync(reason: SyncReason): Promise<void> {
    const t0 = performance.now();
    const co = compileOptions();
    const key = JSON.stringify(co);
    if (!compiler || key !== compilerKey) {
      // Options that shape every chain (pod CIDRs arriving, say) mean a fresh compile; the applier still
      // diffs against the kernel, so only what really differs is written.
      compiler = new FirewallCompiler(co);
      compilerKey = key;
    }
    if (reason.full && reason.cause === 'periodic') {
      if (nftApplier) nftApplier.invalidate();
      else applier!.invalidate();
    }
    // Kernel reads the apply needs (first sync, periodic, after a failure) run while the plan compiles.
    applier?.prefetch();
    const { plan, stats } = compiler.update(ctx.cluster.snapshot());
    const compileMs = performance.now() - t0;
    m.compile.observe(compileMs / 1000);
    const now = new Set(plan.warnings);
    for (const w of now) {
      if (warned.has(w)) continue;
      log.warn({ policyWarning: w }, 'network policy part skipped');
      m.warnings.inc();
    }
    warned = now;
    if (nftApplier) {
      const rep = await reportFailure(nftApplier.apply(plan));
      const totalMs = performance.now() - t0;
      m.sync.observe(totalMs / 1000);
      const st = nftApplier.state();
      m.chains.set(st.chains);
      m.ipsets.set(st.sets);
      finishSync(reason, rep.changed, {
        ms: Math.round(totalMs),
        compileMs: Math.round(compileMs),
        nftMs: Math.round(rep.timings.nftMs),
        fullTable: rep.full,
        commands: rep.commands,
        podsCompiled: stats.podsCompiled,
        policiesCompiled: stats.policiesCompiled,
        chainsReplaced: rep.chainsReplaced.length,
        chainsDeleted: rep.chainsDeleted.length,
        setsChanged: rep.setsChanged.length,
        setsDeleted: rep.setsDeleted.length,
        elementsAdded: rep.elementsAdded,
        elementsDeleted: rep.elementsDeleted,
      });
      if (rep.changed && log.isLevelEnabled('trace')) log.trace({ nft: rep.text }, 'firewall nft input');
    } else {
      await applyIptables(reason, plan, stats, t0, compileMs);
    }
    if (!otherCleaned) {
      otherCleaned = true;
      await cleanOther();
    }
  }

  /** A failed apply is counted and shown on /healthz before the sync loop retries it. */
  async function reportFailure<T>(apply: Promise<T>): Promise<T> {
    try {
      return await apply;
    } catch (err) {
      m.failures.inc();
      ctx.health.problem('firewall', `apply failed: ${err instanceof Error ? err.message : String(err)}`, errorCode(err));
      throw err;
    }
  }

  function finishSync(reason: SyncReason, changed: boolean, fields: Record<string, unknown>): void {
    syncs++;
    ctx.health.beat('firewall');
    logSync(log, 'firewall', reason, changed, fields);
  }

  async function applyIptables(
    reason: SyncReason,
    plan: Parameters<FirewallApplier['apply']>[0],
    stats: { podsCompiled: number; policiesCompiled: number },
    t0: number,
    compileMs: number,
  ): Promise<void> {
    const report = await reportFailure(applier!.apply(plan));
    if (report.timings.fillFallback) log.warn({ err: report.timings.fillFallback }, 'firewall: the netlink ipset fill was refused; ipset restore filled the sets instead');
    const totalMs = performance.now() - t0;
    m.sync.observe(totalMs / 1000);
    for (const f of families) {
      const ms = report.timings.iptablesMs[f];
      if (ms !== undefined) m.restore[f].observe(ms / 1000);
    }
    if (report.timings.ipsetMs || report.timings.postMs) m.ipset.observe((report.timings.ipsetMs + report.timings.postMs) / 1000);
    if (report.timings.readMs) m.save.observe(report.timings.readMs / 1000);
    let chains = 0;
    for (const t of plan.tables.values()) chains += t.chains.size;
    m.chains.set(chains);
    m.ipsets.set(plan.sets.size);
    finishSync(reason, report.changed, {
      ms: Math.round(totalMs),
      compileMs: Math.round(compileMs),
      ipsetMs: Math.round(report.timings.ipsetMs + report.timings.postMs),
      iptablesMs: report.timings.iptablesMs,
      podsCompiled: stats.podsCompiled,
      policiesCompiled: stats.policiesCompiled,
      chainsReplaced: report.chainsReplaced.length,
      chainsEdited: report.chainsEdited.length,
      chainsDeleted: report.chainsDeleted.length,
      setsChanged: report.setsChanged.length,
      setsDestroyed: report.setsDestroyed.length,
      jumpsFixed: report.jumpsFixed,
    });
    if (report.changed && log.isLevelEnabled('trace')) {
      log.trace({ ipset: report.texts.ipset, iptables: report.texts.iptables, ipsetPost: report.texts.post }, 'firewall restore input');
    }
  }

  return {
    name: 'firewall',
    get syncs() {
      return syncs;
    },
    get backend() {
      return backend;
    },
    async start() {
      if (families.length === 0) throw new Error('firewall: neither IPv4 nor IPv6 is enabled');
      if (opts.useNftables) {
        await requireNft();
        backend = 'nftables';
        nftApplier = nftablesApplier(true);
        log.info({ backend, families }, 'firewall: native nftables (--use-nftables-for-netpol), table inet kube-router-ts-netpol');
      } else {
        const choice = await detectBackend(exec, opts.backend ?? 'auto');
        backend = choice.backend;
        log.info({ backend: choice.backend, reason: choice.reason, families }, 'firewall: iptables backend chosen');
        applier = iptablesApplier(choice, families, true);
      }
      if (opts.defaultDeny) {
        log.info('firewall: --netpol-default-deny changes nothing: kube-router-ts always rejects traffic of pods whose rules are not programmed yet (kept for compatibility)');
      }
      loop = new SyncLoop(ctx, {
        name: 'firewall',
        watched: WATCHED,
        nodeName: opts.nodeName,
        periodMs: opts.syncPeriodMs,
        ...(deps.backoff ? { backoff: deps.backoff } : {}),
        sync,
      });
      await loop.start();
    },
    async stop() {
      await loop?.stop();
      loop = undefined;
    },
    async cleanup() {
      // Every backend: a node may have run either setting.
      const errors: unknown[] = [];
      try {
        await iptablesApplier(await detectBackend(exec, opts.backend ?? 'auto')).cleanup();
      } catch (e) {
        errors.push(e);
      }
      try {
        // The resident context if this agent opened one (no process start); the nft binary otherwise.
        const n = nftablesApplier(nftContext !== undefined && !(nftContext instanceof Error));
        if (await n.exists()) await n.cleanup();
      } catch (e) {
        // Without nft on the host there is no table of ours; a failure with it is reported.
        if (opts.useNftables) errors.push(e);
      }
      if (errors.length > 0) throw errors[0];
      log.info('firewall: removed all network policy chains, jumps, ipsets and nftables table');
    },
  };
}
