// Applies the VIP firewall plan by difference: one `ipset restore` of only the changed entries of our
// three sets, then, only when the chain or its INPUT jump is not as we left it, one `iptables-restore
// --noflush` of the filter chain KUBE-ROUTER-SERVICES and its jump. Nothing else in the filter table is
// touched. Turned off (--ipvs-permit-all=false), it removes the jump, the chain and our sets.
import { binaries, type BackendName } from '../../../dataplane/iptables/backend.js';
import { quoteComment, renderRestore } from '../../../dataplane/iptables/restore.js';
import { parseSave } from '../../../dataplane/iptables/save.js';
import { parseIpsetSave, setTransition, type SavedSet, type SetDiffStats } from '../../../dataplane/ipset/ipset.js';
import { ipsetRestoreExist, ipsetSave } from '../../../dataplane/ipset/resident.js';
import type { Exec } from '../../../dataplane/exec.js';
import type { IPFamily } from '../../../model/types.js';
import { familySet, LOCAL_IPS_SET, SERVICE_IPS_SET, SERVICE_PORTS_SET, SERVICES_CHAIN, type VipFirewallPlan } from '../compile/vip-firewall.js';

const c = (text: string) => `-m comment --comment ${quoteComment(text)}`;

/** The INPUT rule that sends traffic for a service address through our chain (kube-router's comment). */
export function inputJump(f: IPFamily): string {
  return `-m set --match-set ${familySet(SERVICE_IPS_SET, f)} dst ${c('handle traffic to IPVS service IPs in custom chain')} -j ${SERVICES_CHAIN}`;
}

/** KUBE-ROUTER-SERVICES, in kube-router's order: served ports, routing ICMP, then reject the rest. */
export function chainRules(f: IPFamily): string[] {
  // Numeric ICMP types, as iptables-save prints them, so what we read back compares equal to what we wrote.
  const icmp = (v4: number, v6: number) => (f === 4 ? `-p icmp -m icmp --icmp-type ${v4}` : `-p ipv6-icmp -m icmp6 --icmpv6-type ${v6}`);
  return [
    `-m set --match-set ${familySet(SERVICE_PORTS_SET, f)} dst,dst ${c('allow input traffic to ipvs services')} -j ACCEPT`,
    `${icmp(8, 128)} ${c('allow icmp echo requests to service IPs')} -j ACCEPT`,
    `${icmp(11, 3)} ${c('allow icmp ttl exceeded messages to service IPs')} -j ACCEPT`,
    // Also path MTU discovery (fragmentation needed) for connections to services.
    `${icmp(3, 1)} ${c('allow icmp destination unreachable messages to service IPs')} -j ACCEPT`,
    `-m set ! --match-set ${familySet(LOCAL_IPS_SET, f)} dst ${c('reject all unexpected traffic to service IPs')} -j REJECT --reject-with ${f === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`,
  ];
}

const OUR_SETS = new Set([4, 6].flatMap((f) => [SERVICE_IPS_SET, SERVICE_PORTS_SET, LOCAL_IPS_SET].map((b) => familySet(b, f as IPFamily))));
const TMP: Record<string, string> = { [SERVICE_IPS_SET]: 'svip', [SERVICE_PORTS_SET]: 'svip-prt', [LOCAL_IPS_SET]: 'local-ips' };
const tmpName = (base: string, f: IPFamily) => `krt-tmp${f}-${TMP[base]}`;

export interface VipFirewallReport {
  readonly changed: boolean;
  readonly setStats: SetDiffStats;
  readonly chainWritten: boolean;
}

export class VipFirewallApplier {
  private sets: Map<string, SavedSet> | undefined;
  /** Families whose chain and jump we wrote and have not seen changed since. */
  private written = new Set<IPFamily>();

  constructor(private readonly o: { readonly exec: Exec; readonly backend: BackendName; readonly ipset?: string }) {}

  private get ipset(): string {
    return this.o.ipset ?? 'ipset';
  }

  /** Forget what we believe, so the next apply reads the kernel (after a failure or on a full sync). */
  invalidate(): void {
    this.sets = undefined;
    this.written.clear();
  }

  async apply(plan: VipFirewallPlan, full: boolean): Promise<VipFirewallReport> {
    try {
      return await this.applyInner(plan, full);
    } catch (e) {
      this.invalidate();
      throw e;
    }
  }

  private async applyInner(plan: VipFirewallPlan, full: boolean): Promise<VipFirewallReport> {
    if (full) this.invalidate();
    if (!plan.enabled) return this.remove(plan.families);
    // The filter reads the chain check needs start beside the set read: independent reads, and one after
    // another they sit on the proxy's first sync (process starts are slow inside user-mode Linux).
    const filterReads = new Map(plan.families.filter((f) => !this.written.has(f)).map((f) => [f, this.o.exec(binaries(this.o.backend, f).save, ['-t', 'filter'])] as const));
    for (const r of filterReads.values()) r.catch(() => {}); // awaited below; a failure there, not unhandled here
    if (!this.sets) this.sets = parseIpsetSave(this.o.ipset ? (await this.o.exec(this.ipset, ['save'])).stdout : await ipsetSave(this.o.exec), (n) => OUR_SETS.has(n));
    const stats: SetDiffStats = { created: 0, swapped: 0, added: 0, deleted: 0 };
    const lines: string[] = [];
    const next = new Map<string, SavedSet>();
    for (const f of plan.families) {
      const family = f === 4 ? 'inet' : 'inet6';
      for (const [base, type, entries] of [
        [SERVICE_IPS_SET, 'hash:ip', plan.serviceIPs.get(f) ?? []],
        [SERVICE_PORTS_SET, 'hash:ip,port', plan.servicePorts.get(f) ?? []],
        [LOCAL_IPS_SET, 'hash:ip', plan.localIPs.get(f) ?? []],
      ] as const) {
        const name = familySet(base, f);
        const cur = this.sets.get(name);
        const want = new Set(entries);
        const how = setTransition(lines, { name, type, family }, cur?.entries, cur?.maxelem ?? 0, want, tmpName(base, f), stats);
        next.set(name, { name, type, family, maxelem: how === 'none' || how === 'edited' ? (cur?.maxelem ?? 65536) : Math.max(65536, want.size * 2), entries: want });
      }
    }
    // Sets first: the chain names them, and a new port is accepted before IPVS serves it.
    if (lines.length && this.o.ipset) await this.o.exec(this.ipset, ['-exist', 'restore'], { input: lines.join('\n') + '\n' });
    else if (lines.length) await ipsetRestoreExist(this.o.exec, lines.join('\n') + '\n');
    this.sets = next;

    let chainWritten = false;
    for (const f of plan.families) {
      if (this.written.has(f)) continue;
      const bin = binaries(this.o.backend, f);
      const filter = parseSave((await filterReads.get(f)!).stdout).get('filter');
      const have = filter?.chains.get(SERVICES_CHAIN)?.rules ?? [];
      const want = chainRules(f);
      const jump = inputJump(f);
      const input = filter?.chains.get('INPUT')?.rules ?? [];
      const jumps = input.filter((r) => r === jump).length;
      if (have.length === want.length && have.every((r, i) => r === want[i]) && jumps === 1) {
        this.written.add(f);
        continue;
      }
      // The firewall controller keeps its own jump first in INPUT; ours goes right after it, never fights it.
      const fwIndex = input.findIndex((r) => /(^| )-j KUBE-ROUTER-INPUT( |$)/.test(r));
      const extra = [...input.filter((r) => r === jump).map((r) => `-D INPUT ${r}`), `-I INPUT ${fwIndex + 2} ${jump}`];
      await this.o.exec(bin.restore, ['--noflush', '--wait=5'], { input: renderRestore('filter', { edits: [{ kind: 'replace', chain: SERVICES_CHAIN, rules: want }], extra }) });
      this.written.add(f);
      chainWritten = true;
    }
    return { changed: lines.length > 0 || chainWritten, setStats: stats, chainWritten };
  }

  /** The jump, the chain and our sets gone (--ipvs-permit-all=false, --cleanup-config). */
  async remove(families: readonly IPFamily[]): Promise<VipFirewallReport> {
    let chainWritten = false;
    for (const f of families) {
      const bin = binaries(this.o.backend, f);
      const filter = parseSave((await this.o.exec(bin.save, ['-t', 'filter'])).stdout).get('filter');
      if (!filter?.chains.has(SERVICES_CHAIN)) continue;
      const jumps = (filter.chains.get('INPUT')?.rules ?? []).filter((r) => /(^| )-j KUBE-ROUTER-SERVICES( |$)/.test(r)).map((r) => `-D INPUT ${r}`);
      await this.o.exec(bin.restore, ['--noflush', '--wait=5'], { input: renderRestore('filter', { edits: [], extra: jumps, deleteChains: [SERVICES_CHAIN] }) });
      chainWritten = true;
    }
    const present = (await this.o.exec(this.ipset, ['list', '-n'])).stdout.split('\n').filter((n) => OUR_SETS.has(n));
    if (present.length) await this.o.exec(this.ipset, ['-exist', 'restore'], { input: present.map((n) => `destroy ${n}\n`).join('') });
    this.sets = new Map();
    this.written.clear();
    const stats: SetDiffStats = { created: 0, swapped: 0, added: 0, deleted: 0 };
    return { changed: chainWritten || present.length > 0, setStats: stats, chainWritten };
  }
}
