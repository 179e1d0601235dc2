// Firewall benchmark: a synthetic cluster (default 5,000 pods in 100 namespaces, 1,000 policies with
// mixed selectors, ipBlocks and named ports, every pod on the measured node: the worst case for one
// agent), on iptables-nft, iptables-legacy and native nftables (--use-nftables-for-netpol), each in a
// throw-away network namespace. Measured as the agent runs: the measuring process is itself inside the
// netns (this script re-executes itself under one `ip netns exec`), so a kernel call costs only its own
// spawn, not an `ip netns exec` around each (~37 ms that no agent pays). Prints per backend: full sync,
// then the median of REPEAT runs of a pod-label change, a one-policy change and a new pod (in a
// namespace that has local pods), each split into compile (CPU) and apply (spawn + kernel), with the
// kernel commands each made; rules/chains/sets; and the raw floor measured after them in the same netns
// (wiped first): the final state restored by plain restores, one --noflush chain restore into it.
// The full sync is cold (fresh process, empty netns), so it is measured in FULL_RUNS fresh workers (the
// first also runs the rest) and printed as their median, each beside the raw floor of its own state,
// with where the first run's apply went.
// Run: npx tsx bench/netpol.ts [--pods 5000] [--namespaces 100] [--policies 1000] [--backend nft|legacy|native|both|all]
// [--full-runs 5] (both = nft and legacy, all = the three; default all); KRT_BENCH_STEPS=1 prints every step (=text: and a native small transaction's text)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execHost, type Exec } from '../src/dataplane/exec.js';
import { renderRestore } from '../src/dataplane/iptables/restore.js';
import { setRestoreLines } from '../src/dataplane/ipset/ipset.js';
import { binaries, type BackendName } from '../src/dataplane/iptables/backend.js';
import type { ClusterSnapshot, NetworkPolicyModel } from '../src/model/types.js';
import { FirewallApplier } from '../src/controllers/firewall/apply/applier.js';
import { NftFirewallApplier } from '../src/controllers/firewall/apply/nft-applier.js';
import type { FirewallPlan } from '../src/controllers/firewall/compile/plan.js';
import { renderChain } from '../src/controllers/firewall/apply/render.js';
import { nftChainRules, T } from '../src/controllers/firewall/apply/nft-render.js';
import { openIpsetContext, openNftContext } from '../src/dataplane/netfilter/native/addon.js';
import { policyChainName } from '../src/controllers/firewall/compile/names.js';
import { FirewallCompiler } from '../src/controllers/firewall/compile/compiler.js';
import { buildCluster, OPTS } from './netpol-cluster.js';
import { pod } from '../src/testing/firewall/fixtures.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
}
const PODS = Number(arg('pods', '5000'));
const NAMESPACES = Number(arg('namespaces', '100'));
const POLICIES = Number(arg('policies', '1000'));
type Bench = BackendName | 'native';
const BACKENDS: Bench[] = ((b: string): Bench[] => (b === 'all' ? ['nft', 'legacy', 'native'] : b === 'both' ? ['nft', 'legacy'] : [b as Bench]))(arg('backend', 'all'));
const REPEAT = 7;
/** Full syncs are cold (a fresh process and netns each): the first run measures everything, the rest only that. */
const FULL_RUNS = Number(arg('full-runs', '5'));

const ms = (t: number): string => `${t.toFixed(1)} ms`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs kernel tools here (inside the netns) and counts the calls. */
function countingExec(): { exec: Exec; calls: () => number; count: () => void } {
  let n = 0;
  const exec: Exec = (cmd, args, opts) => {
    n++;
    return execHost(cmd, args, opts);
  };
  return { exec, calls: () => n, count: () => void n++ };
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

function counts(plan: FirewallPlan): { rules: number; chains: number; sets: number; entries: number } {
  const table = plan.tables.get(4)!;
  let rules = 0;
  for (const r of table.chains.values()) rules += r.length;
  let entries = 0;
  for (const s of plan.sets.values()) entries += s.entries.length;
  return { rules, chains: table.chains.size, sets: plan.sets.size, entries };
}

/** One backend's applier behind one shape: apply a plan, say how many kernel commands it ran. */
interface Target {
  /** What the controller starts before it compiles (kernel reads the next apply needs). */
  prefetch(): void;
  /** Applies a plan; says where the apply's time went. */
  apply(plan: FirewallPlan): Promise<string>;
  /** Empties the netns of everything ours, for the floor. */
  wipe(): Promise<void>;
  /** The final state as plain restore inputs, and how to load them into an empty netns. */
  floor(): Promise<{ load: () => Promise<void>; chain: (name: string, plan: FirewallPlan) => () => Promise<void> }>;
}

function iptablesTarget(backend: BackendName, exec: Exec, count: () => void): Target {
  // As the agent does: small ipset batches through the resident libipset session if the addon loads.
  const resident = openIpsetContext();
  if (resident instanceof Error) console.log(`(iptables: ${resident.message}; ipset restore per change)`);
  const ipsetContext =
    resident instanceof Error ? undefined : { run: (lines: readonly string[]) => (count(), resident.run(lines)), fill: (lines: readonly string[]) => (count(), resident.fill(lines)) };
  const applier = new FirewallApplier({ exec, backend, families: [4], timeoutMs: 300_000, ...(ipsetContext ? { ipsetContext } : {}) });
  const bin = binaries(backend, 4);
  return {
    prefetch: () => applier.prefetch(),
    async apply(plan) {
      const t = (await applier.apply(plan)).timings;
      const ipt = Object.values(t.iptablesMs).reduce((a, b) => a + b, 0);
      const fill = t.fillMs !== undefined ? ` beside fill ${ms(t.fillMs)} (${t.fillVia}${t.fillFallback ? `: ${t.fillFallback}` : ''})` : '';
      return `read ${ms(t.readMs)}, ipset ${ms(t.ipsetMs)}, restore ${ms(ipt)}${fill}, post ${ms(t.postMs)}`;
    },
    async wipe() {
      await exec(bin.restore, [], { input: '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n' });
      await exec('ipset', ['destroy']);
    },
    async floor() {
      const save = (await exec(bin.save, ['-t', 'filter'])).stdout;
      const ipsetSave = (await exec('ipset', ['save'])).stdout;
      return {
        load: async () => {
          await exec('ipset', ['restore'], { input: ipsetSave });
          await exec(bin.restore, [], { input: save });
        },
        chain: (name, plan) => {
          const rules = renderChain(plan.tables.get(4)!.chains.get(name) ?? []);
          const text = `*filter\n:${name} - [0:0]\n${rules.map((r) => `-A ${name} ${r}`).join('\n')}\nCOMMIT\n`;
          return async () => void (await exec(bin.restore, ['--noflush'], { input: text }));
        },
      };
    },
  };
}

function nativeTarget(exec: Exec, count: () => void): Target {
  // As the agent does: the resident libnftables context if the addon loads (this process is in the netns).
  const resident = openNftContext();
  if (resident instanceof Error) console.log(`(native: ${resident.message}; nft binary per sync)`);
  const context =
    resident instanceof Error
      ? undefined
      : {
          run: (text: string) => (count(), resident.run(text)),
          ...(resident.elements ? { elements: (table: string, ops: Parameters<NonNullable<typeof resident.elements>>[1]) => (count(), resident.elements!(table, ops)) } : {}),
          beside: () => {
            const other = resident.beside?.();
            return other && { run: (text: string) => (count(), other.run(text)) };
          },
        };
  const applier = new NftFirewallApplier({ exec, families: [4], timeoutMs: 300_000, ...(context ? { context } : {}) });
  let lastFull = '';
  return {
    prefetch: () => undefined,
    async apply(plan) {
      const rep = await applier.apply(plan);
      if (rep.full) lastFull = rep.text;
      // KRT_BENCH_STEPS=text: a small transaction's text too (what one change sends).
      if (process.env['KRT_BENCH_STEPS'] === 'text' && rep.commands < 20) console.log(rep.text);
      return `nft ${ms(rep.timings.nftMs)}, ${rep.commands} commands${rep.direct ? ' (direct netlink batch)' : ''}${rep.split ? ' (cold: sets and rules as two transactions side by side)' : ''}`;
    },
    wipe: () => applier.cleanup(),
    async floor() {
      const text = lastFull;
      return {
        load: async () => void (await exec('nft', ['-f', '-'], { input: text })),
        chain: (name, plan) => {
          const rules = nftChainRules(plan.tables.get(4)!.chains.get(name) ?? [], 4);
          const t = `flush chain ${T} ${name}\n${rules.map((r) => `add rule ${T} ${name} ${r}`).join('\n')}\n`;
          return async () => void (await exec('nft', ['-f', '-'], { input: t }));
        },
      };
    },
  };
}

interface Step {
  compile: number;
  detail: string;
  apply: number;
  calls: number;
}

function summary(label: string, xs: Step[]): string {
  const total = median(xs.map((x) => x.compile + x.apply));
  const calls = [...new Set(xs.map((x) => x.calls))].join('/');
  return `${label.padEnd(24)}${ms(total)} median of ${xs.length} (compile ${ms(median(xs.map((x) => x.compile)))}, apply ${ms(median(xs.map((x) => x.apply)))}; ${calls} kernel command(s))`;
}

interface FullResult {
  compile: number;
  apply: number;
  floor: number;
  detail: string;
}

/** The measurement, run inside the backend's netns; `fullOnly`: the full sync and its floor alone. */
async function worker(bench: Bench, s1: ClusterSnapshot, fullOnly: boolean, resultFile: string): Promise<void> {
  const { exec, calls, count } = countingExec();
  const target = bench === 'native' ? nativeTarget(exec, count) : iptablesTarget(bench, exec, count);
  const compiler = new FirewallCompiler(OPTS);
  const step = async (snap: ClusterSnapshot): Promise<Step> => {
    const c0 = calls();
    const t0 = performance.now();
    target.prefetch();
    const plan = compiler.update(snap).plan;
    const t1 = performance.now();
    const detail = await target.apply(plan);
    const t2 = performance.now();
    // KRT_BENCH_STEPS=1: every step's own figures (the summaries print medians of each part separately).
    if (process.env['KRT_BENCH_STEPS']) console.log(`  step: total ${(t2 - t0).toFixed(1)} ms, compile ${(t1 - t0).toFixed(1)}, apply ${(t2 - t1).toFixed(1)}: ${detail}`);
    return { compile: t1 - t0, apply: t2 - t1, calls: calls() - c0, detail };
  };
  const full = await step(s1);
  const result = (floor: number): void =>
    writeFileSync(resultFile, JSON.stringify({ compile: full.compile, apply: full.apply, floor, detail: full.detail } satisfies FullResult));
  if (fullOnly) {
    const floor = await target.floor();
    await target.wipe();
    const t0 = performance.now();
    await floor.load();
    return result(performance.now() - t0);
  }
  const c = counts(compiler.update(s1).plan);

  let cur = s1;
  const label: Step[] = [];
  const victim = [...s1.pods.values()][1234 % PODS]!;
  for (let i = 0; i < REPEAT; i++) {
    const pods = new Map(cur.pods);
    pods.set(`${victim.namespace}/${victim.name}`, { ...victim, labels: { ...victim.labels, tier: i % 2 === 0 ? 'web' : 'db', canary: i % 2 === 0 ? 'true' : 'no' } });
    cur = { ...cur, pods };
    label.push(await step(cur));
  }
  const policyChange: Step[] = [];
  const pol = [...s1.policies.values()][0]!;
  for (let i = 0; i < REPEAT; i++) {
    cur = withExtraPort(cur, pol, 10000 + i);
    policyChange.push(await step(cur));
  }
  const newPod: Step[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const pods = new Map(cur.pods);
    pods.set(`ns0/new${i}`, pod({ ns: 'ns0', name: `new${i}`, ip: `10.244.250.${i + 2}`, node: 'bench', labels: { app: 'app0', tier: 'web' } }));
    cur = { ...cur, pods };
    newPod.push(await step(cur));
  }
  // A namespace's first local pod adds its jumps and pod chains: rules change (one sample each).
  const firstInNs: Step[] = [];
  for (let i = 0; i < 3; i++) {
    const pods = new Map(cur.pods);
    pods.set(`fresh${i}/p`, pod({ ns: `fresh${i}`, name: 'p', ip: `10.244.251.${i + 2}`, node: 'bench', labels: { app: 'app0' } }));
    cur = { ...cur, pods };
    firstInNs.push(await step(cur));
  }

  // Floor: the final state through plain restores into this netns, wiped first.
  const plan = compiler.update(cur).plan;
  const floor = await target.floor();
  await target.wipe();
  const t0 = performance.now();
  await floor.load();
  const floorFull = performance.now() - t0;
  result(floorFull);
  const polChain = [...plan.tables.get(4)!.chains.keys()].find((n) => n === policyChainName(pol.namespace, pol.name, 'ingress'))!;
  const chainLoad = floor.chain(polChain, plan);
  const floorChain: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = performance.now();
    await chainLoad();
    floorChain.push(performance.now() - t);
  }
  const name = bench === 'native' ? 'native nftables' : `iptables-${bench}`;
  console.log(`\n== ${name}: ${PODS} pods, ${NAMESPACES} namespaces, ${POLICIES} policies (all pods on this node; measured inside the netns)`);
  let nftRules = 0;
  if (bench === 'native') for (const r of plan.tables.get(4)!.chains.values()) nftRules += nftChainRules(r, 4).length;
  const fused = bench === 'native' ? ` (${nftRules} in nft: each policy rule's mark-then-return pair is one)` : '';
  console.log(`rules ${c.rules}${fused}, chains ${c.chains}, sets ${c.sets}, set entries ${c.entries}`);
  console.log(`full sync               ${ms(full.compile + full.apply)} (compile ${ms(full.compile)}, apply ${ms(full.apply)}; ${full.calls} kernel commands)   raw floor ${ms(floorFull)}`);
  console.log(`  apply: ${full.detail}`);
  console.log(summary('new pod', newPod));
  console.log(summary('policy change', policyChange) + `   floor one-chain restore ${ms(median(floorChain))}`);
  console.log(summary('pod label change', label));
  console.log(summary("namespace's first pod", firstInNs));
}

/** The parent: per backend, FULL_RUNS workers (the first measures everything), each in a fresh netns. */
async function runBackend(bench: Bench): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'krt-np-bench-'));
  try {
    const runs: FullResult[] = [];
    for (let i = 0; i < Math.max(1, FULL_RUNS); i++) {
      const file = join(dir, `run${i}.json`);
      await runInNetns(bench, [...(i > 0 ? ['--full-only'] : []), '--result', file]);
      runs.push(JSON.parse(readFileSync(file, 'utf8')) as FullResult);
    }
    const m = (f: (r: FullResult) => number): string => ms(median(runs.map(f)));
    const each = runs.map((r) => (r.compile + r.apply).toFixed(0)).join(', ');
    console.log(
      `full sync, median of ${runs.length} cold runs: ${m((r) => r.compile + r.apply)} (compile ${m((r) => r.compile)}, apply ${m((r) => r.apply)})   raw floor ${m((r) => r.floor)}   [runs: ${each} ms]`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One worker in a throw-away netns. */
async function runInNetns(bench: Bench, extra: string[]): Promise<void> {
  const ns = `krt-np-bench-${bench}`;
  await execHost('ip', ['netns', 'del', ns], { okCodes: [1, 255] }).catch(() => undefined);
  await execHost('ip', ['netns', 'add', ns]);
  try {
    const args = ['netns', 'exec', ns, process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2), '--worker', bench, ...extra];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('ip', args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`worker for ${bench} exited with ${code}`);
  } finally {
    await execHost('ip', ['netns', 'del', ns], { okCodes: [1, 255] }).catch(() => undefined);
  }
}

const s1 = buildCluster(PODS, NAMESPACES, POLICIES);
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
} else if (arg('worker', '')) await worker(arg('worker', '') as Bench, s1, process.argv.includes('--full-only'), arg('result', '/dev/null'));
else for (const b of BACKENDS) await runBackend(b);
