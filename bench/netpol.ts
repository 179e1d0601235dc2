// Firewall benchmark: a synthetic cluster (default 5,000 pods in 100 namespaces, 1,000 policies with
// mixed selectors, ipBlocks and named ports, every pod on the measured node: the worst case for one
// agent), on both iptables backends, in throw-away network namespaces. Prints:
//   full compile, full apply, rules/chains/sets/entries, one pod-label change to kernel, one policy
//   change to kernel, and the raw floor (iptables-restore + ipset restore of the final state into an
//   empty netns; one --noflush chain restore into the loaded table) measured in the same run.
// The native nftables backend (--use-nftables-for-netpol: verdict-map dispatch, one `nft -f` per sync) runs
// beside them on the same cluster; its floor is `nft -f` of its own full transaction into an empty netns.
// Run: npx tsx bench/netpol.ts [--pods 5000] [--namespaces 100] [--policies 1000] [--backend nft|legacy|native|both|all]
// (both = nft and legacy, all = the three; default all)
import { writeFileSync } from 'node:fs';
import { execHost, execInNetns, type Exec } from '../src/dataplane/exec.js';
import { renderRestore } from '../src/dataplane/iptables/restore.js';
import { setRestoreLines } from '../src/dataplane/ipset/ipset.js';
import { binaries, type BackendName } from '../src/dataplane/iptables/backend.js';
import type { ClusterSnapshot, NetworkPolicyModel, PodModel } from '../src/model/types.js';
import { FirewallApplier } from '../src/controllers/firewall/apply/applier.js';
import { NftFirewallApplier } from '../src/controllers/firewall/apply/nft-applier.js';
import type { FirewallPlan } from '../src/controllers/firewall/compile/plan.js';
import { renderChain } from '../src/controllers/firewall/apply/render.js';
import { FirewallCompiler, type CompileOptions } from '../src/controllers/firewall/compile/compiler.js';
import { namespace, pod, policy, snapshot } from '../src/testing/firewall/fixtures.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const PODS = Number(arg('pods', '5000'));
const NAMESPACES = Number(arg('namespaces', '100'));
const POLICIES = Number(arg('policies', '1000'));
type Bench = BackendName | 'native';
const BACKENDS: Bench[] = ((b: string): Bench[] => (b === 'all' ? ['nft', 'legacy', 'native'] : b === 'both' ? ['nft', 'legacy'] : [b as Bench]))(arg('backend', 'all'));
const REPEAT = 5;

const ms = (t: number): string => `${t.toFixed(1)} ms`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function buildCluster(): ClusterSnapshot {
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => namespace(`ns${i}`, { team: `t${i % 5}`, env: i % 2 ? 'prod' : 'dev' }));
  const pods: PodModel[] = [];
  for (let i = 0; i < PODS; i++) {
    const ns = `ns${i % NAMESPACES}`;
    pods.push(
      pod({
        ns,
        name: `p${i}`,
        ip: `10.244.${Math.floor(i / 250)}.${(i % 250) + 2}`,
        node: 'bench',
        labels: { app: `app${i % 10}`, tier: ['web', 'db', 'cache'][i % 3]!, ...(i % 7 === 0 ? { canary: 'true' } : {}) },
        ports: [
          { name: 'http', containerPort: 8080 + (i % 2), protocol: 'TCP' },
          { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      }),
    );
  }
  const policies: NetworkPolicyModel[] = [];
  for (let i = 0; i < POLICIES; i++) {
    const ns = `ns${i % NAMESPACES}`;
    const sel = { matchLabels: { app: `app${i % 10}` } };
    switch (i % 5) {
      case 0:
        policies.push(policy(ns, `np${i}`, { podSelector: sel, ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 'http' }] }] }));
        break;
      case 1:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: sel,
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${i % 5}` } }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'cache'] }] } }] }],
          }),
        );
        break;
      case 2:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: { matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] },
            ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.244.${i % 20}.0/24`] } }], ports: [{ port: 8000, endPort: 8100 }] }],
          }),
        );
        break;
      case 3:
        policies.push(
          policy(ns, `np${i}`, {
            podSelector: sel,
            policyTypes: ['Ingress', 'Egress'],
            ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'prod' } } }] }],
            egress: [{ to: [{ podSelector: {} }], ports: [{ port: 'dns', protocol: 'UDP' }] }, { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }], ports: [{ port: 443 }] }],
          }),
        );
        break;
      default:
        policies.push(policy(ns, `np${i}`, { podSelector: sel, ingress: [{ ports: [{ port: 'metrics' }] }, { from: [{ podSelector: { matchLabels: { canary: 'true' } } }] }] }));
    }
  }
  return snapshot({ namespaces, pods, policies });
}

const OPTS: CompileOptions = {
  nodeName: 'bench',
  families: [4],
  podCIDRs: ['10.244.0.0/16'],
  ranges: { clusterIPRanges: ['10.96.0.0/12'], externalIPRanges: [], loadBalancerIPRanges: [], nodePortRange: { min: 30000, max: 32767 } },
};

async function freshNetns(name: string): Promise<Exec> {
  await execHost('ip', ['netns', 'del', name], { okCodes: [1, 255] }).catch(() => undefined);
  await execHost('ip', ['netns', 'add', name]);
  return execInNetns(name);
}

/** The cluster with one more TCP port in the first ingress rule of `target`: a one-policy change. */
function withExtraPort(cur: ClusterSnapshot, target: NetworkPolicyModel, port: number): ClusterSnapshot {
  const policies = new Map(cur.policies);
  policies.set(`${target.namespace}/${target.name}`, {
    ...target,
    ingress: [{ ...target.ingress[0]!, ports: [...target.ingress[0]!.ports, { protocol: 'TCP', port }] }],
  });
  return { ...cur, policies };
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

async function runBackend(backend: BackendName, s1: ClusterSnapshot): Promise<void> {
  const nsA = `krt-np-bench-${backend}`;
  const nsB = `krt-np-bench-${backend}-floor`;
  try {
    const exec = await freshNetns(nsA);
    const compiler = new FirewallCompiler(OPTS);
    const [{ plan, stats }, compileMs] = await timed(async () => compiler.update(s1));
    void stats;
    const applier = new FirewallApplier({ exec, backend, families: [4], timeoutMs: 300_000 });
    const [fullRep, applyMs] = await timed(() => applier.apply(plan));
    const table = plan.tables.get(4)!;
    let rules = 0;
    for (const r of table.chains.values()) rules += r.length;
    let entries = 0;
    for (const s of plan.sets.values()) entries += s.entries.length;

    // Raw floor: the final state restored into an empty netns with plain restores.
    const save = (await exec(binaries(backend, 4).save, ['-t', 'filter'])).stdout;
    const ipsetSave = (await exec('ipset', ['save'])).stdout;
    const floorExec = await freshNetns(nsB);
    const [, floorIpsetMs] = await timed(() => floorExec('ipset', ['restore'], { input: ipsetSave }));
    const [, floorIptMs] = await timed(() => floorExec(binaries(backend, 4).restore, [], { input: save }));

    // One pod-label change (moves a pod into/out of selections) to rules in the kernel.
    const labelTimes: number[] = [];
    const labelCompile: number[] = [];
    let labelIptables = 0;
    let cur = s1;
    const victim = [...s1.pods.values()][1234 % PODS]!;
    for (let i = 0; i < REPEAT; i++) {
      const pods = new Map(cur.pods);
      const tier = i % 2 === 0 ? 'web' : 'db';
      pods.set(`${victim.namespace}/${victim.name}`, { ...victim, labels: { ...victim.labels, tier, canary: i % 2 === 0 ? 'true' : 'no' } });
      cur = { ...cur, pods };
      const t0 = performance.now();
      const p = compiler.update(cur).plan;
      labelCompile.push(performance.now() - t0);
      const rep = await applier.apply(p);
      const t = performance.now() - t0;
      labelTimes.push(t);
      labelIptables += Object.keys(rep.texts.iptables).length;
    }

    // One policy change (new port in a rule) to rules in the kernel: one chain restore.
    const polTimes: number[] = [];
    const target = [...s1.policies.values()][0]!;
    let changedChain = '';
    for (let i = 0; i < REPEAT; i++) {
      cur = withExtraPort(cur, target, 10000 + i);
      const [rep, t] = await timed(async () => applier.apply(compiler.update(cur).plan));
      polTimes.push(t);
      changedChain = rep.chainsReplaced[0] ?? changedChain;
    }
    // Floor for that: one --noflush restore of the same chain into the loaded floor table.
    const chainRules = renderChain(compiler.update(cur).plan.tables.get(4)!.chains.get(changedChain) ?? []);
    const floorChain: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const text = `*filter\n:${changedChain} - [0:0]\n${chainRules.map((r) => `-A ${changedChain} ${r}`).join('\n')}\nCOMMIT\n`;
      floorChain.push((await timed(() => floorExec(binaries(backend, 4).restore, ['--noflush'], { input: text })))[1]);
    }
    // A new pod (chain + top-level jumps edited in place).
    const podTimes: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const pods = new Map(cur.pods);
      pods.set(`ns0/new${i}`, pod({ ns: 'ns0', name: `new${i}`, ip: `10.244.250.${i + 2}`, node: 'bench', labels: { app: 'app0', tier: 'web' } }));
      cur = { ...cur, pods };
      podTimes.push((await timed(async () => applier.apply(compiler.update(cur).plan)))[1]);
    }

    const floor = floorIpsetMs + floorIptMs;
    const full = compileMs + applyMs;
    console.log(`\n== backend ${backend}: ${PODS} pods, ${NAMESPACES} namespaces, ${POLICIES} policies (all pods on this node)`);
    console.log(`rules ${rules}, chains ${table.chains.size}, ipsets ${plan.sets.size}, set entries ${entries}`);
    console.log(`full compile            ${ms(compileMs)}`);
    console.log(`full apply              ${ms(applyMs)}  (ipset ${ms(fullRep.timings.ipsetMs)}, iptables ${ms(fullRep.timings.iptablesMs[4] ?? 0)}, ipset post ${ms(fullRep.timings.postMs)})`);
    console.log(`full sync (both)        ${ms(full)}   raw floor ${ms(floor)} (ipset ${ms(floorIpsetMs)} + iptables ${ms(floorIptMs)})   ratio ${(full / floor).toFixed(2)}x`);
    console.log(`pod label change        ${ms(median(labelTimes))} median of ${REPEAT} (compile ${ms(median(labelCompile))}; iptables restores: ${labelIptables})`);
    console.log(`policy change (1 chain) ${ms(median(polTimes))} median   floor --noflush chain restore ${ms(median(floorChain))}   ratio ${(median(polTimes) / median(floorChain)).toFixed(2)}x`);
    console.log(`new pod                 ${ms(median(podTimes))} median`);
  } finally {
    for (const n of [nsA, nsB]) await execHost('ip', ['netns', 'del', n], { okCodes: [1, 255] }).catch(() => undefined);
  }
}

function counts(plan: FirewallPlan): { rules: number; chains: number; sets: number; entries: number; maps: number; mapEntries: number } {
  const table = plan.tables.get(4)!;
  let rules = 0;
  for (const r of table.chains.values()) rules += r.length;
  let entries = 0;
  for (const s of plan.sets.values()) entries += s.entries.length;
  let mapEntries = 0;
  for (const m of table.maps.values()) mapEntries += m.entries.size;
  return { rules, chains: table.chains.size, sets: plan.sets.size, entries, maps: table.maps.size, mapEntries };
}

/** The native backend: the same cluster and the same changes as runBackend, through `nft -f`. */
async function runNative(s1: ClusterSnapshot): Promise<void> {
  const nsA = 'krt-np-bench-native';
  const nsB = 'krt-np-bench-native-floor';
  try {
    const exec = await freshNetns(nsA);
    const compiler = new FirewallCompiler({ ...OPTS, podDispatch: 'maps' });
    const [{ plan }, compileMs] = await timed(async () => compiler.update(s1));
    const applier = new NftFirewallApplier({ exec, families: [4], timeoutMs: 300_000 });
    const [fullRep, applyMs] = await timed(() => applier.apply(plan));
    const c = counts(plan);
    // Floor: the same transaction text into an empty netns, by hand.
    const floorExec = await freshNetns(nsB);
    const [, floorMs] = await timed(() => floorExec('nft', ['-f', '-'], { input: fullRep.text }));

    const labelTimes: number[] = [];
    const labelCompile: number[] = [];
    let cur = s1;
    const victim = [...s1.pods.values()][1234 % PODS]!;
    let labelCmds = 0;
    for (let i = 0; i < REPEAT; i++) {
      const pods = new Map(cur.pods);
      pods.set(`${victim.namespace}/${victim.name}`, { ...victim, labels: { ...victim.labels, tier: i % 2 === 0 ? 'web' : 'db', canary: i % 2 === 0 ? 'true' : 'no' } });
      cur = { ...cur, pods };
      const t0 = performance.now();
      const p = compiler.update(cur).plan;
      labelCompile.push(performance.now() - t0);
      const rep = await applier.apply(p);
      labelTimes.push(performance.now() - t0);
      labelCmds = rep.commands;
    }
    const polTimes: number[] = [];
    const target = [...s1.policies.values()][0]!;
    let polCmds = 0;
    for (let i = 0; i < REPEAT; i++) {
      cur = withExtraPort(cur, target, 10000 + i);
      const [rep, t] = await timed(async () => applier.apply(compiler.update(cur).plan));
      polTimes.push(t);
      polCmds = rep.commands;
    }
    const podTimes: number[] = [];
    let podCmds = 0;
    for (let i = 0; i < REPEAT; i++) {
      const pods = new Map(cur.pods);
      pods.set(`ns0/new${i}`, pod({ ns: 'ns0', name: `new${i}`, ip: `10.244.250.${i + 2}`, node: 'bench', labels: { app: 'app0', tier: 'web' } }));
      cur = { ...cur, pods };
      const [rep, t] = await timed(async () => applier.apply(compiler.update(cur).plan));
      podTimes.push(t);
      podCmds = rep.commands;
    }
    const full = compileMs + applyMs;
    console.log(`\n== backend native nftables: ${PODS} pods, ${NAMESPACES} namespaces, ${POLICIES} policies (all pods on this node)`);
    console.log(`rules ${c.rules}, chains ${c.chains}, sets ${c.sets}, set elements ${c.entries}, verdict maps ${c.maps}, map elements ${c.mapEntries}`);
    console.log(`full compile            ${ms(compileMs)}`);
    console.log(`full apply              ${ms(applyMs)}  (nft -f ${ms(fullRep.timings.nftMs)}, ${fullRep.commands} commands)`);
    console.log(`full sync (both)        ${ms(full)}   raw floor nft -f ${ms(floorMs)}   ratio ${(full / floorMs).toFixed(2)}x`);
    console.log(`pod label change        ${ms(median(labelTimes))} median of ${REPEAT} (compile ${ms(median(labelCompile))}; ${labelCmds} nft commands)`);
    console.log(`policy change (1 chain) ${ms(median(polTimes))} median (${polCmds} nft commands)`);
    console.log(`new pod                 ${ms(median(podTimes))} median (${podCmds} nft commands)`);
  } finally {
    for (const n of [nsA, nsB]) await execHost('ip', ['netns', 'del', n], { okCodes: [1, 255] }).catch(() => undefined);
  }
}

const s1 = buildCluster();
const dump = arg('dump', '');
if (dump) {
  // The first-apply restore input, for experiments with iptables-restore by hand.
  const plan = new FirewallCompiler(OPTS).update(s1).plan;
  const t = plan.tables.get(4)!;
  const text = renderRestore('filter', { edits: [...t.chains].map(([chain, rules]) => ({ kind: 'replace' as const, chain, rules: renderChain(rules) })) });
  writeFileSync(dump, text);
  const sets: string[] = [];
  for (const spec of plan.sets.values()) setRestoreLines(sets, spec, undefined, '', { created: 0, swapped: 0, added: 0, deleted: 0 });
  writeFileSync(`${dump}.ipset`, `${sets.join('\n')}\n`);
  console.log(`wrote ${dump}: ${t.chains.size} chains`);
} else for (const b of BACKENDS) await (b === 'native' ? runNative(s1) : runBackend(b, s1));
