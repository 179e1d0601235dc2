// Applies a ProxyPlan to the kernel by diffing against what is there: VIPs on kube-dummy-if with one
// `ip -batch`, IPVS with one batch of only the differences (over netlink, or one `ipvsadm -R`: see
// ipvs-writer.ts), the NAT chain with one `iptables-restore --noflush` when it changed. Owns only what it
// made: IPVS services on addresses it holds (or held) on kube-dummy-if or on the node's NodePort addresses
// within the NodePort range, outside --excluded-cidrs.
// The kernel is read on a full sync and whenever the applier does not know it (at start, after any
// failure); in between it keeps its own copy of the IPVS table, updated only after a batch succeeded, and
// the plan object each virtual server was applied from: an identical object is not compared again, so
// one EndpointSlice change costs O(change), not a read and parse of the whole table (~0.9 s at 10,000
// services). A failed step throws, forgets everything it believed, and the retry reads the kernel.
import { existsSync } from 'node:fs';
import { binaries, type BackendName } from '../../../dataplane/iptables/backend.js';
import { renderRestore } from '../../../dataplane/iptables/restore.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import { runsHere, type Exec } from '../../../dataplane/exec.js';
import { cidrContainsIP } from '../../../model/normalize/cidr.js';
import type { IPFamily } from '../../../model/types.js';
import type { ProxyPlan } from '../compile/plan.js';
import { DUMMY_IF, parseAddrShow, vipBatch } from './dummy-link.js';
import type { VirtualServer } from '../compile/plan.js';
import { diffIpvs, kernelTable, realServerKey, virtualServerOf, type KernelVirtualServer } from './ipvs-table.js';
import { ipvsadmWriter, type IpvsWriter, type IpvsWriterName } from './ipvs-writer.js';
import { NAT_CHAIN, NAT_JUMP, natChainRules } from './nat-chain.js';

export interface ProxyApplierOptions {
  readonly exec: Exec;
  readonly backend: BackendName;
  readonly nodePortRange: { readonly min: number; readonly max: number };
  readonly excludedCIDRs: readonly string[];
  /** Drain removed real servers (weight 0) for this long before deleting them; 0 deletes at once. */
  readonly gracefulPeriodMs: number;
  readonly now?: () => number;
  /** Where IPVS is read and written (default: ipvsadm through `exec`). */
  readonly writer?: IpvsWriter;
  /** Address families served: the NAT chain is kept in iptables (4) and ip6tables (6) for these. Default [4]. */
  readonly families?: readonly IPFamily[];
}

export interface ApplyReport {
  readonly changed: boolean;
  readonly vipsAdded: readonly string[];
  readonly vipsRemoved: readonly string[];
  readonly ipvsCommands: number;
  /** Which writer applied them. */
  readonly writer: IpvsWriterName;
  readonly servicesAdded: number;
  readonly servicesRemoved: number;
  readonly realServersAdded: number;
  readonly realServersRemoved: number;
  readonly draining: number;
  readonly natChanged: boolean;
  /** The kernel's IPVS table was read (full sync, start, or after a failure) rather than taken from the cache. */
  readonly readKernel: boolean;
  /** Virtual servers compared entry by entry (the others were known to be applied as planned). */
  readonly compared: number;
  readonly ms: { read: number; vips: number; ipvs: number; nat: number };
}

export interface ApplyOptions {
  readonly full: boolean;
  readonly nodePortAddresses: readonly string[];
  readonly nodeIP?: string;
  /** The node's address per family (dual-stack): the source of the VIPs' local routes. Default: nodeIP. */
  readonly nodeIPs?: readonly string[];
  /** Firewall marks whose IPVS services are ours (DSR): the plan's and those our mangle chain still marks. */
  readonly fwmarks?: ReadonlySet<number>;
}

export class ProxyApplier {
  private readonly now: () => number;
  /** Real servers draining (realServerKey) -> when they may be deleted. */
  private readonly draining = new Map<string, number>();
  /** Addresses we put on kube-dummy-if (as last read or written). */
  private vips = new Set<string>();
  /** Our NAT chain's rules per family as last written or read (absent: read it next time). */
  private readonly natRules = new Map<IPFamily, string[]>();
  private readonly families: readonly IPFamily[];
  private dummyReady = false;
  /** kube-dummy-if's addresses are as `vips` says (false: read them before the next change). */
  private vipsKnown = false;
  /** The kernel's IPVS table as last read, plus every batch applied since; undefined: read it next time. */
  private table: Map<string, KernelVirtualServer> | undefined;
  /** The plan object each virtual server was last applied from (an identical one needs no comparison). */
  private readonly applied = new Map<string, VirtualServer>();

  private readonly writer: IpvsWriter;

  constructor(private readonly o: ProxyApplierOptions) {
    this.now = o.now ?? Date.now;
    this.writer = o.writer ?? ipvsadmWriter(o.exec);
    this.families = o.families ?? [4];
  }

  private run(cmd: string, args: readonly string[], input?: string) {
    return this.o.exec(cmd, args, input !== undefined ? { input } : {});
  }

  /** Creates kube-dummy-if if missing and reads the addresses on it. */
  private async readDummy(): Promise<void> {
    // For commands run here, sysfs says when the link is missing (the first sync): no `ip` to start.
    const missing = runsHere(this.o.exec) && existsSync('/sys/class/net/lo') && !existsSync(`/sys/class/net/${DUMMY_IF}`);
    const show = missing ? { code: 1, stdout: '', stderr: '' } : await this.o.exec('ip', ['-o', 'addr', 'show', 'dev', DUMMY_IF], { okCodes: [1] });
    if (show.code !== 0 || /does not exist/.test(show.stderr)) {
      await this.run('ip', ['-batch', '-'], `link add ${DUMMY_IF} type dummy\nlink set ${DUMMY_IF} up\n`);
      this.vips = new Set();
    } else {
      if (!this.dummyReady) await this.run('ip', ['link', 'set', DUMMY_IF, 'up']);
      // The kernel gives the link an IPv6 link-local address of its own: not a VIP, never ours to remove.
      this.vips = new Set(parseAddrShow(show.stdout).filter((ip) => !ip.toLowerCase().startsWith('fe80:')));
    }
    this.dummyReady = true;
    this.vipsKnown = true;
  }

  /** Forgets what it believes about the kernel: the next apply reads it all again. */
  private forget(): void {
    this.vipsKnown = false;
    this.table = undefined;
    this.applied.clear();
    this.natRules.clear();
  }

  /** How many IPVS virtual servers the applier believes the kernel holds (undefined: it will read them). */
  cachedServices(): number | undefined {
    return this.table?.size;
  }

  private owned(v: KernelVirtualServer, planVips: ReadonlySet<string>, nodePortAddresses: ReadonlySet<string>, fwmarks: ReadonlySet<number> = new Set()): boolean {
    // A fwmark service (DSR) is ours when our mangle chain marks for it or the plan has it (dsr/).
    if (v.fwmark !== undefined) return fwmarks.has(v.fwmark);
    if (this.o.excludedCIDRs.some((c) => cidrContainsIP(c, v.address))) return false;
    if (this.vips.has(v.address) || planVips.has(v.address)) return true;
    return nodePortAddresses.has(v.address) && v.port >= this.o.nodePortRange.min && v.port <= this.o.nodePortRange.max;
  }

  async apply(plan: ProxyPlan, opts: ApplyOptions): Promise<ApplyReport> {
    try {
      return await this.applyKnown(plan, opts);
    } catch (err) {
      // Any step may have half-happened (ipvsadm -R stops at its first failing line, a netlink batch skips
      // only the failed operations): the kernel is the truth again.
      this.forget();
      throw err;
    }
  }

  private async applyKnown(plan: ProxyPlan, opts: ApplyOptions): Promise<ApplyReport> {
    const t0 = performance.now();
    if (opts.full || !this.vipsKnown) await this.readDummy();
    const readKernel = opts.full || this.table === undefined;
    if (readKernel) {
      this.table = kernelTable(await this.writer.read());
      this.applied.clear();
    }
    const table = this.table!;
    const tRead = performance.now();

    // 1. New VIPs first, so a service is reachable as soon as its IPVS entry exists.
    const want = new Set(plan.vips);
    const add = plan.vips.filter((ip) => !this.vips.has(ip));
    const del = [...this.vips].filter((ip) => !want.has(ip));
    if (add.length) {
      await this.run('ip', ['-batch', '-'], vipBatch(add, [], opts.nodeIPs ?? opts.nodeIP).join('\n') + '\n');
      for (const ip of add) this.vips.add(ip);
    }
    const tVips = performance.now();

    // 2. IPVS: only the differences, in one batch. Virtual servers with draining real servers are always
    // compared: their drain may have ended.
    const now = this.now();
    const keep = new Set([...this.draining].filter(([, until]) => until > now).map(([k]) => k));
    const drainingIn = new Set([...this.draining.keys()].map(virtualServerOf));
    const nodePorts = new Set(opts.nodePortAddresses);
    const diff = diffIpvs(plan.virtualServers, table, {
      owned: (v) => this.owned(v, want, nodePorts, opts.fwmarks),
      graceful: this.o.gracefulPeriodMs > 0,
      keepDraining: keep,
      unchanged: (key, v) => this.applied.get(key) === v && !drainingIn.has(key),
    });
    if (diff.ops.length) await this.writer.write(diff.ops);
    // Applied: the kernel now holds what the diff said it would.
    for (const [key, k] of diff.after) {
      const v = plan.virtualServers.get(key);
      if (k === undefined) {
        table.delete(key);
        this.applied.delete(key);
      } else {
        table.set(key, k);
        if (v) this.applied.set(key, v);
      }
    }
    const stillDraining = new Map<string, number>();
    for (const k of diff.drained) stillDraining.set(k, this.draining.get(k) ?? now + this.o.gracefulPeriodMs);
    this.draining.clear();
    for (const [k, v] of stillDraining) this.draining.set(k, v);
    const tIpvs = performance.now();

    // 3. Source NAT, per family (iptables, ip6tables): restore our chain when its rules changed (or, on a
    // full sync, when it is not as we left it).
    let natChanged = false;
    for (const family of this.families) {
      if (await this.applyNat(plan, family, opts.full)) natChanged = true;
    }
    const tNat = performance.now();

    // 4. Stale VIPs last: their IPVS services are gone by now.
    if (del.length) {
      await this.run('ip', ['-batch', '-'], vipBatch([], del, undefined).join('\n') + '\n');
      for (const ip of del) this.vips.delete(ip);
    }
    const tEnd = performance.now();
    return {
      changed: add.length + del.length + diff.ops.length > 0 || natChanged,
      vipsAdded: add,
      vipsRemoved: del,
      ipvsCommands: diff.ops.length,
      writer: this.writer.name,
      servicesAdded: diff.servicesAdded,
      servicesRemoved: diff.servicesRemoved,
      realServersAdded: diff.realServersAdded,
      realServersRemoved: diff.realServersRemoved,
      draining: this.draining.size,
      natChanged,
      readKernel,
      compared: diff.compared,
      ms: { read: tRead - t0, vips: tVips - tRead + (tEnd - tNat), ipvs: tIpvs - tVips, nat: tNat - tIpvs },
    };
  }

  /** Our NAT chain of one family as the plan wants it; true when it was written. */
  private async applyNat(plan: ProxyPlan, family: IPFamily, full: boolean): Promise<boolean> {
    const rules = natChainRules(plan.nat, family);
    const bin = binaries(this.o.backend, family);
    let known = this.natRules.get(family);
    let needJump = known === undefined;
    if (full || known === undefined) {
      const nat = parseSave((await this.run(bin.save, ['-t', 'nat'])).stdout).get('nat');
      const chain = nat?.chains.get(NAT_CHAIN);
      needJump = !(nat?.chains.get('POSTROUTING')?.rules.some((r) => r.endsWith(`-j ${NAT_CHAIN}`)) ?? false);
      if (!chain || chain.rules.length !== rules.length) known = undefined;
    }
    if (!needJump && known !== undefined && known.join('\n') === rules.join('\n')) return false;
    const text = renderRestore('nat', {
      edits: [{ kind: 'replace', chain: NAT_CHAIN, rules }],
      extra: needJump ? [`-I POSTROUTING 1 ${NAT_JUMP}`] : [],
    });
    await this.run(bin.restore, ['--noflush', '--wait=5'], text);
    this.natRules.set(family, rules);
    return true;
  }

  /** Soonest moment a draining real server may go (the controller schedules a sync for it). */
  nextDrainDeadline(): number | undefined {
    let min: number | undefined;
    for (const t of this.draining.values()) if (min === undefined || t < min) min = t;
    return min;
  }

  /** Removes everything the proxy made: our IPVS services, kube-dummy-if, the NAT chain and its jump. */
  async cleanup(nodePortAddresses: readonly string[], fwmarks: ReadonlySet<number> = new Set()): Promise<void> {
    await this.readDummy().catch(() => undefined);
    // No IPVS on this kernel at all: nothing of ours to remove.
    const current = kernelTable(await this.writer.read().catch(() => []));
    const nodePorts = new Set(nodePortAddresses);
    const d = diffIpvs(new Map(), current, { owned: (v) => this.owned(v, new Set(), nodePorts, fwmarks), graceful: false, keepDraining: new Set() });
    if (d.ops.length) await this.writer.write(d.ops);
    await this.o.exec('ip', ['link', 'del', DUMMY_IF], { okCodes: [1, 2] });
    // Both families: a node once run with --enable-ipv6 is cleaned without it too. A family not served now
    // is best effort (this host may have no ip6tables at all).
    for (const family of [4, 6] as const) {
      const bin = binaries(this.o.backend, family);
      const saved = await this.run(bin.save, ['-t', 'nat']).catch((e: unknown) => {
        if (this.families.includes(family)) throw e;
        return undefined;
      });
      const nat = saved && parseSave(saved.stdout).get('nat');
      if (!nat?.chains.has(NAT_CHAIN)) continue;
      const jumps = (nat.chains.get('POSTROUTING')?.rules ?? []).filter((r) => r.endsWith(`-j ${NAT_CHAIN}`)).map((r) => `-D POSTROUTING ${r}`);
      await this.run(bin.restore, ['--noflush', '--wait=5'], ['*nat', ...jumps, `-F ${NAT_CHAIN}`, `-X ${NAT_CHAIN}`, 'COMMIT', ''].join('\n'));
    }
    this.vips.clear();
    this.draining.clear();
    this.forget();
  }
}

export { realServerKey };
