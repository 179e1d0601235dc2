// Applies a ProxyPlan to the kernel by diffing against what is there: VIPs on kube-dummy-if with one
// `ip -batch`, IPVS with one `ipvsadm -R` batch of only the differences, the NAT chain with one
// `iptables-restore --noflush` when it changed. Owns only what it made: IPVS services on addresses it
// holds (or held) on kube-dummy-if or on the node's NodePort addresses within the NodePort range,
// outside --excluded-cidrs. A failed step throws and leaves the rest as it was; the next sync retries.
import { binaries, type BackendName } from '../../../dataplane/iptables/backend.js';
import { renderRestore } from '../../../dataplane/iptables/restore.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import type { Exec } from '../../../dataplane/exec.js';
import { cidrContainsIP } from '../../../model/normalize/cidr.js';
import type { ProxyPlan } from '../compile/plan.js';
import { DUMMY_IF, parseAddrShow, vipBatch } from './dummy-link.js';
import { diffIpvs, parseIpvsSave, realServerKey, type KernelVirtualServer } from './ipvs-table.js';
import { NAT_CHAIN, NAT_JUMP, natChainRules } from './nat-chain.js';

export interface ProxyApplierOptions {
  readonly exec: Exec;
  readonly backend: BackendName;
  readonly nodePortRange: { readonly min: number; readonly max: number };
  readonly excludedCIDRs: readonly string[];
  /** Drain removed real servers (weight 0) for this long before deleting them; 0 deletes at once. */
  readonly gracefulPeriodMs: number;
  readonly now?: () => number;
}

export interface ApplyReport {
  readonly changed: boolean;
  readonly vipsAdded: readonly string[];
  readonly vipsRemoved: readonly string[];
  readonly ipvsCommands: number;
  readonly servicesAdded: number;
  readonly servicesRemoved: number;
  readonly realServersAdded: number;
  readonly realServersRemoved: number;
  readonly draining: number;
  readonly natChanged: boolean;
  readonly ms: { read: number; vips: number; ipvs: number; nat: number };
}

export class ProxyApplier {
  private readonly now: () => number;
  /** Real servers draining (realServerKey) -> when they may be deleted. */
  private readonly draining = new Map<string, number>();
  /** Addresses we put on kube-dummy-if (as last read or written). */
  private vips = new Set<string>();
  private natRules: string[] | undefined;
  private dummyReady = false;

  constructor(private readonly o: ProxyApplierOptions) {
    this.now = o.now ?? Date.now;
  }

  private run(cmd: string, args: readonly string[], input?: string) {
    return this.o.exec(cmd, args, input !== undefined ? { input } : {});
  }

  /** Creates kube-dummy-if if missing and reads the addresses on it. */
  private async readDummy(): Promise<void> {
    const show = await this.o.exec('ip', ['-o', 'addr', 'show', 'dev', DUMMY_IF], { okCodes: [1] });
    if (show.code !== 0 || /does not exist/.test(show.stderr)) {
      await this.run('ip', ['-batch', '-'], `link add ${DUMMY_IF} type dummy\nlink set ${DUMMY_IF} up\n`);
      this.vips = new Set();
    } else {
      if (!this.dummyReady) await this.run('ip', ['link', 'set', DUMMY_IF, 'up']);
      this.vips = new Set(parseAddrShow(show.stdout));
    }
    this.dummyReady = true;
  }

  private owned(v: KernelVirtualServer, plan: ProxyPlan, nodePortAddresses: ReadonlySet<string>): boolean {
    if (this.o.excludedCIDRs.some((c) => cidrContainsIP(c, v.address))) return false;
    if (this.vips.has(v.address) || plan.vips.includes(v.address)) return true;
    return nodePortAddresses.has(v.address) && v.port >= this.o.nodePortRange.min && v.port <= this.o.nodePortRange.max;
  }

  async apply(plan: ProxyPlan, opts: { full: boolean; nodePortAddresses: readonly string[]; nodeIP?: string }): Promise<ApplyReport> {
    const t0 = performance.now();
    if (opts.full || !this.dummyReady) await this.readDummy();
    const current = parseIpvsSave((await this.run('ipvsadm', ['-S', '-n'])).stdout);
    const tRead = performance.now();

    // 1. New VIPs first, so a service is reachable as soon as its IPVS entry exists.
    const want = new Set(plan.vips);
    const add = plan.vips.filter((ip) => !this.vips.has(ip));
    const del = [...this.vips].filter((ip) => !want.has(ip));
    if (add.length) {
      await this.run('ip', ['-batch', '-'], vipBatch(add, [], opts.nodeIP).join('\n') + '\n');
      for (const ip of add) this.vips.add(ip);
    }
    const tVips = performance.now();

    // 2. IPVS: only the differences, in one batch.
    const now = this.now();
    const keep = new Set([...this.draining].filter(([, until]) => until > now).map(([k]) => k));
    const nodePorts = new Set(opts.nodePortAddresses);
    const diff = diffIpvs(plan.virtualServers, current, {
      owned: (v) => this.owned(v, plan, nodePorts),
      graceful: this.o.gracefulPeriodMs > 0,
      keepDraining: keep,
    });
    if (diff.commands.length) await this.run('ipvsadm', ['-R'], diff.commands.join('\n') + '\n');
    const stillDraining = new Map<string, number>();
    for (const k of diff.drained) stillDraining.set(k, this.draining.get(k) ?? now + this.o.gracefulPeriodMs);
    this.draining.clear();
    for (const [k, v] of stillDraining) this.draining.set(k, v);
    const tIpvs = performance.now();

    // 3. Source NAT: restore our chain when its rules changed (or, on a full sync, when it is not as we left it).
    const rules = natChainRules(plan.nat);
    let natChanged = false;
    const bin = binaries(this.o.backend, 4);
    let needJump = this.natRules === undefined;
    if (opts.full || this.natRules === undefined) {
      const nat = parseSave((await this.run(bin.save, ['-t', 'nat'])).stdout).get('nat');
      const chain = nat?.chains.get(NAT_CHAIN);
      needJump = !(nat?.chains.get('POSTROUTING')?.rules.some((r) => r.endsWith(`-j ${NAT_CHAIN}`)) ?? false);
      if (!chain || chain.rules.length !== rules.length) this.natRules = undefined;
    }
    if (needJump || this.natRules === undefined || this.natRules.join('\n') !== rules.join('\n')) {
      const text = renderRestore('nat', {
        edits: [{ kind: 'replace', chain: NAT_CHAIN, rules }],
        extra: needJump ? [`-I POSTROUTING 1 ${NAT_JUMP}`] : [],
      });
      await this.run(bin.restore, ['--noflush', '--wait=5'], text);
      this.natRules = rules;
      natChanged = true;
    }
    const tNat = performance.now();

    // 4. Stale VIPs last: their IPVS services are gone by now.
    if (del.length) {
      await this.run('ip', ['-batch', '-'], vipBatch([], del, undefined).join('\n') + '\n');
      for (const ip of del) this.vips.delete(ip);
    }
    const tEnd = performance.now();
    return {
      changed: add.length + del.length + diff.commands.length > 0 || natChanged,
      vipsAdded: add,
      vipsRemoved: del,
      ipvsCommands: diff.commands.length,
      servicesAdded: diff.servicesAdded,
      servicesRemoved: diff.servicesRemoved,
      realServersAdded: diff.realServersAdded,
      realServersRemoved: diff.realServersRemoved,
      draining: this.draining.size,
      natChanged,
      ms: { read: tRead - t0, vips: tVips - tRead + (tEnd - tNat), ipvs: tIpvs - tVips, nat: tNat - tIpvs },
    };
  }

  /** Soonest moment a draining real server may go (the controller schedules a sync for it). */
  nextDrainDeadline(): number | undefined {
    let min: number | undefined;
    for (const t of this.draining.values()) if (min === undefined || t < min) min = t;
    return min;
  }

  /** Removes everything the proxy made: our IPVS services, kube-dummy-if, the NAT chain and its jump. */
  async cleanup(nodePortAddresses: readonly string[]): Promise<void> {
    await this.readDummy().catch(() => undefined);
    const current = parseIpvsSave((await this.o.exec('ipvsadm', ['-S', '-n'], { okCodes: [1, 2] })).stdout);
    const empty: ProxyPlan = { virtualServers: new Map(), vips: [], nat: [], skipped: [] };
    const nodePorts = new Set(nodePortAddresses);
    const d = diffIpvs(new Map(), current, { owned: (v) => this.owned(v, empty, nodePorts), graceful: false, keepDraining: new Set() });
    if (d.commands.length) await this.run('ipvsadm', ['-R'], d.commands.join('\n') + '\n');
    await this.o.exec('ip', ['link', 'del', DUMMY_IF], { okCodes: [1, 2] });
    const bin = binaries(this.o.backend, 4);
    const nat = parseSave((await this.run(bin.save, ['-t', 'nat'])).stdout).get('nat');
    if (nat?.chains.has(NAT_CHAIN)) {
      const jumps = (nat.chains.get('POSTROUTING')?.rules ?? []).filter((r) => r.endsWith(`-j ${NAT_CHAIN}`)).map((r) => `-D POSTROUTING ${r}`);
      await this.run(bin.restore, ['--noflush', '--wait=5'], ['*nat', ...jumps, `-F ${NAT_CHAIN}`, `-X ${NAT_CHAIN}`, 'COMMIT', ''].join('\n'));
    }
    this.vips.clear();
    this.draining.clear();
    this.natRules = undefined;
  }
}

export { realServerKey };
