// Applies a plan's DSR part by difference, around the IPVS apply: prepare() before it (pod-side tunnels
// first, so IPVS's first tunnelled packet is decapsulated; and which fwmark services are ours), finish()
// after it (the marking chain and policy routing once IPVS serves the marks; stale pod tunnels last).
// State is read from the kernel at start, on full syncs while DSR is in use, and after any failure;
// in between the applier trusts what it wrote. What it owns: the mangle chain KUBE-ROUTER-DSR and its two
// jumps, rules of priority 32764 -> table 78 and 32765 -> table 79 and those tables' routes, and
// kube-tunnel-if in the network namespaces of this node's pods.
import type { Logger } from 'pino';
import { countTableRoutes, readRules } from '../../../dataplane/ip/rtnl-read.js';
import { binaries, legacyTableAbsent, type BackendName } from '../../../dataplane/iptables/backend.js';
import { renderRestore } from '../../../dataplane/iptables/restore.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import { runsHere, type Exec } from '../../../dataplane/exec.js';
import { cidrContainsIP } from '../../../model/normalize/cidr.js';
import { DSR_TABLE, EXTERNAL_IP_TABLE } from '../compile/dsr.js';
import type { DsrPlan } from '../compile/plan.js';
import { desiredRoutes, desiredRules, DSR_CHAIN, DSR_JUMP, DSR_JUMP_CHAINS, dsrChainRules, parseRoutes, parseRules, policyBatch, type PolicyRule, type TableRoute } from './node-rules.js';
import { HOST_NETNS_SOURCE, scanNetns, type NetnsSource } from './pod-netns.js';
import { applyTunnel, tunnelBatch } from './pod-tunnel.js';

export interface DsrApplierOptions {
  readonly exec: Exec;
  readonly backend: BackendName;
  readonly log: Logger;
  readonly netns?: NetnsSource;
}

export interface DsrReport {
  readonly changed: boolean;
  readonly chainWritten: boolean;
  readonly policyCommands: number;
  readonly podsChanged: number;
  /** Pods whose network namespace was not found (their tunnelled traffic is lost until it is). */
  readonly podsMissing: readonly string[];
}

interface NodeState {
  /** Our chain's rules, undefined when it does not exist. */
  chain: string[] | undefined;
  /** Built-in chains that hold our jump. */
  jumps: Set<string>;
  rules: PolicyRule[];
  routes: TableRoute[];
}

/** The marks set by our chain's rules (`--set-xmark 0x7b/0xffffffff`). */
const chainMarks = (rules: readonly string[]) => rules.map((r) => /--set-xmark (0x[0-9a-f]+)\//.exec(r)?.[1]).filter((m): m is string => !!m).map(Number);

export class DsrApplier {
  private node: NodeState | undefined;
  /** This node's pods holding kube-tunnel-if: pod IP -> namespace path and VIPs (undefined: read them). */
  private pods: Map<string, { path: string; vips: readonly string[] }> | undefined;
  /** Pod IP -> namespace path of pods without a tunnel yet (from the last scan). */
  private paths = new Map<string, string>();
  /** DSR seen in the kernel or the plan since start: full syncs re-read it to repair drift. */
  private inUse = false;
  private missing: string[] = [];

  constructor(private readonly o: DsrApplierOptions) {}

  private get bin() {
    return binaries(this.o.backend, 4);
  }

  /** Forget everything believed: the next prepare() reads the kernel. */
  invalidate(): void {
    this.node = undefined;
    this.pods = undefined;
  }

  /**
   * Whether the kernel says, without a process, that nothing of ours can exist: no mangle table (legacy
   * x_tables lists its tables in /proc), no rule looking up our tables, both tables empty or
   * never created (rtnetlink). Then the four reads below would find nothing; a node that never used DSR
   * (most of them) starts without those four process starts. Only for commands that run here, where /proc
   * and the netlink socket are the commands' own namespace; false whenever anything cannot be told.
   */
  private kernelHoldsNothingOfOurs(): boolean {
    if (!runsHere(this.o.exec) || this.o.backend !== 'legacy' || legacyTableAbsent(4, 'mangle') !== true) return false;
    try {
      const rules = readRules(4);
      // Every rule of ours looks up table 78 or 79 (a foreign one to them only costs the reads). Not by
      // priority: the router's `from <pod CIDR> lookup 77` rule gets 32765 from the kernel when added bare.
      if (!rules || rules.some((r) => r.table === DSR_TABLE || r.table === EXTERNAL_IP_TABLE)) return false;
      return [DSR_TABLE, EXTERNAL_IP_TABLE].every((t) => countTableRoutes(t) === 0);
    } catch {
      return false;
    }
  }

  private async readNode(): Promise<NodeState> {
    if (this.kernelHoldsNothingOfOurs()) return { chain: undefined, jumps: new Set(), rules: [], routes: [] };
    // Four independent reads at once: each is a process start, and one after another they sit on the
    // proxy's first sync for seconds where process starts are slow (user-mode Linux).
    const [save, ruleShow, ...tables] = await Promise.all([
      this.o.exec(this.bin.save, ['-t', 'mangle']),
      this.o.exec('ip', ['-o', 'rule', 'show']),
      // A table that was never used does not exist: exit 2, nothing in it.
      ...[DSR_TABLE, EXTERNAL_IP_TABLE].map((table) => this.o.exec('ip', ['-o', 'route', 'show', 'table', String(table)], { okCodes: [2] })),
    ]);
    const mangle = parseSave(save!.stdout).get('mangle');
    const jumps = new Set(DSR_JUMP_CHAINS.filter((c) => mangle?.chains.get(c)?.rules.includes(DSR_JUMP)));
    const rules = parseRules(ruleShow!.stdout);
    const routes: TableRoute[] = [];
    [DSR_TABLE, EXTERNAL_IP_TABLE].forEach((table, i) => {
      const r = tables[i]!;
      if (r.code === 0) routes.push(...parseRoutes(table, r.stdout));
    });
    return { chain: mangle?.chains.get(DSR_CHAIN)?.rules, jumps, rules, routes };
  }

  /** Reads every namespace and keeps this node's pods (IP in `podCIDRs`): their tunnels and paths. */
  private async scanPods(podCIDRs: readonly string[]): Promise<void> {
    const pods = new Map<string, { path: string; vips: readonly string[] }>();
    this.paths = new Map();
    for (const v of await scanNetns(this.o.exec, this.o.netns ?? HOST_NETNS_SOURCE)) {
      const podIP = v.addresses.find((ip) => podCIDRs.some((c) => cidrContainsIP(c, ip)));
      if (!podIP) continue;
      if (v.tunnelVips) pods.set(podIP, { path: v.path, vips: v.tunnelVips });
      else this.paths.set(podIP, v.path);
    }
    this.pods = pods;
  }

  /**
   * Before IPVS: reads what is unknown, gives new DSR pods their tunnel, and returns the marks whose IPVS
   * fwmark services are ours (the plan's and those our chain still marks, so stale ones are removed).
   */
  async prepare(plan: DsrPlan, o: { full: boolean; podCIDRs: readonly string[] }): Promise<{ fwmarks: Set<number>; podsChanged: number }> {
    const reread = !this.node || (o.full && (this.inUse || plan.marks.length > 0));
    if (reread) this.node = await this.readNode();
    const node = this.node!;
    this.inUse ||= plan.marks.length > 0 || node.chain !== undefined || node.rules.length > 0;
    // Pods are scanned only when DSR is or was in use: a stale tunnel needs our chain to have existed
    // (finish() removes tunnels before the chain), so a node that never used DSR never pays the scan.
    if (this.inUse && (!this.pods || (reread && o.full))) await this.scanPods(o.podCIDRs);
    let podsChanged = 0;
    this.missing = [];
    for (const p of plan.pods) {
      const have = this.pods?.get(p.podIP)?.vips;
      // Additions only here; VIPs the pod no longer serves go in finish(), after IPVS stopped using them.
      const want = [...new Set([...(have ?? []), ...p.vips])].sort();
      if (tunnelBatch(p.podIP, have, want).length && (await this.podApply(p.podIP, want, o.podCIDRs))) podsChanged++;
    }
    return { fwmarks: new Set([...plan.marks.map((m) => m.fwmark), ...chainMarks(node.chain ?? [])]), podsChanged };
  }

  /**
   * Brings one pod's tunnel to `want` (undefined: no tunnel). Its namespace path comes from the last scan;
   * a path that no longer holds the pod IP (pod replaced, process gone) means one fresh scan and a retry.
   */
  private async podApply(podIP: string, want: readonly string[] | undefined, podCIDRs: readonly string[]): Promise<boolean> {
    const attempt = async (): Promise<boolean | undefined> => {
      const have = this.pods?.get(podIP);
      const path = have?.path ?? this.paths.get(podIP);
      if (!path) return undefined;
      const batch = tunnelBatch(podIP, have?.vips, want);
      if (batch.length === 0) return false;
      if (!(await applyTunnel(this.o.exec, path, podIP, batch, want !== undefined))) return undefined;
      if (want) {
        this.pods!.set(podIP, { path, vips: want });
        this.paths.delete(podIP);
      } else {
        this.pods!.delete(podIP);
        this.paths.set(podIP, path);
      }
      return true;
    };
    this.pods ??= new Map();
    const first = await attempt();
    if (first !== undefined) return first;
    await this.scanPods(podCIDRs);
    const second = await attempt();
    if (second !== undefined) return second;
    // Not found on this node: a pod to serve is reported; a pod to clean up is gone, and its interface with it.
    if (want) this.missing.push(podIP);
    else this.pods.delete(podIP);
    return false;
  }

  /** After IPVS: our chain and policy routing as planned, then pod tunnels and VIPs no longer planned removed. */
  async finish(plan: DsrPlan, o: { podCIDRs: readonly string[] }): Promise<DsrReport> {
    const node = this.node!;
    let podsChanged = 0;
    const want = new Map(plan.pods.map((p) => [p.podIP, p.vips]));
    for (const [podIP, have] of [...(this.pods ?? new Map<string, { path: string; vips: readonly string[] }>())]) {
      if (tunnelBatch(podIP, have.vips, want.get(podIP)).length && (await this.podApply(podIP, want.get(podIP), o.podCIDRs))) podsChanged++;
    }

    const rules = dsrChainRules(plan);
    let chainWritten = false;
    const jumpsOk = DSR_JUMP_CHAINS.every((c) => node.jumps.has(c));
    if (rules.length === 0 && (node.chain !== undefined || node.jumps.size > 0)) {
      const text = renderRestore('mangle', {
        edits: [],
        extra: [...node.jumps].map((c) => `-D ${c} ${DSR_JUMP}`),
        ...(node.chain !== undefined ? { deleteChains: [DSR_CHAIN] } : {}),
      });
      await this.o.exec(this.bin.restore, ['--noflush', '--wait=5'], { input: text });
      chainWritten = true;
      node.chain = undefined;
      node.jumps = new Set();
    } else if (rules.length > 0 && (!jumpsOk || node.chain === undefined || node.chain.join('\n') !== rules.join('\n'))) {
      const text = renderRestore('mangle', {
        edits: [{ kind: 'replace', chain: DSR_CHAIN, rules }],
        extra: DSR_JUMP_CHAINS.filter((c) => !node.jumps.has(c)).map((c) => `-I ${c} 1 ${DSR_JUMP}`),
      });
      await this.o.exec(this.bin.restore, ['--noflush', '--wait=5'], { input: text });
      chainWritten = true;
      node.chain = rules;
      node.jumps = new Set(DSR_JUMP_CHAINS);
    }

    const wantPolicy = { rules: desiredRules(plan), routes: desiredRoutes(plan) };
    const batch = policyBatch(wantPolicy, node);
    if (batch.length) {
      await this.o.exec('ip', ['-batch', '-'], { input: batch.join('\n') + '\n' });
      node.rules = wantPolicy.rules;
      node.routes = wantPolicy.routes;
    }
    if (this.missing.length) this.o.log.warn({ pods: this.missing }, 'service proxy: DSR endpoint pods whose network namespace was not found on this node');
    return { changed: chainWritten || batch.length > 0 || podsChanged > 0, chainWritten, policyCommands: batch.length, podsChanged, podsMissing: this.missing };
  }

  /** --cleanup-config: every trace of DSR (tunnels in this node's pods, chain, rules, routes). Returns the marks it held. */
  async cleanup(podCIDRs: readonly string[]): Promise<Set<number>> {
    this.invalidate();
    this.inUse = true;
    const empty: DsrPlan = { marks: [], tcpMss: 0, bridgeRoutes: [], pods: [] };
    const { fwmarks } = await this.prepare(empty, { full: true, podCIDRs });
    await this.finish(empty, { podCIDRs });
    return fwmarks;
  }
}
