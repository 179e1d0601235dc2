// The service proxy's cost, in two parts (issue 12).
//
// Host (no kernel): a cluster of 10,000 services x 10 endpoints in the real model store; compile time (full,
// as at start; the reference compileProxyPlan too), the read of an `ipvsadm -S -n` of that size (what a full
// sync parses), a full diff, and one EndpointSlice change through the real path: store -> snapshot ->
// incremental compile -> applier (its cached table) -> the `ipvsadm -R` it would run, with the kernel
// replaced by an in-memory table (src/testing/proxy/fake-kernel.ts): host-side time, IPVS commands, RSS.
//
// UML (real IPVS in user-mode Linux; syscalls ~100x slower than native): 1,000 services x 10 endpoints.
// The floor is `ipvsadm -R` of the final state into an empty table; the real applier's full sync into an
// empty table is measured against it in the same run, with each IPVS writer (the resident generic-netlink
// socket of src/dataplane/ipvs, and the `ipvsadm -R` fallback), and where its time goes (per tool spawned,
// and the IPVS step). Then one EndpointSlice change to the kernel with each writer, and one IPVS operation
// three ways: a spawned `ipvsadm -R` of one line, a spawned no-op (the spawn alone), the netlink writer.
//
//   npx tsx bench/proxy.ts [--part host|uml|all] [--services 10000] [--endpoints 10] [--runs 5]
//                          [--uml-services 1000] [--uml-runs 3]
// The UML part needs root and user-mode-linux; run it under the heavy lock (flock /tmp/krt-heavy.lock).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execHost, type Exec } from '../src/dataplane/exec.js';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../src/model/normalize/index.js';
import type { EndpointSliceModel } from '../src/model/types.js';
import { ModelStore } from '../src/watch/model-store.js';
import { ProxyCompiler } from '../src/controllers/proxy/compile/incremental.js';
import { compileProxyPlan, type ProxyInputs } from '../src/controllers/proxy/compile/services.js';
import type { ProxyPlan } from '../src/controllers/proxy/compile/plan.js';
import { diffIpvs, kernelTable, parseIpvsSave } from '../src/controllers/proxy/apply/ipvs-table.js';
import { ipvsadmLine } from '../src/dataplane/ipvs/ipvsadm.js';
import { IpvsNetlink } from '../src/dataplane/ipvs/netlink.js';
import { genlAddon } from '../src/dataplane/ipvs/native/addon.js';
import { ipvsadmWriter, netlinkWriter, type IpvsWriter } from '../src/controllers/proxy/apply/ipvs-writer.js';
import { ProxyApplier } from '../src/controllers/proxy/apply/applier.js';
import { FakeProxyKernel } from '../src/testing/proxy/fake-kernel.js';

const args = process.argv.slice(2);
const has = (flag: string) => args.includes(flag);
const num = (flag: string, d: number) => (has(flag) ? Number(args[args.indexOf(flag) + 1]) : d);
const str = (flag: string, d: string) => (has(flag) ? String(args[args.indexOf(flag) + 1]) : d);
const here = dirname(fileURLToPath(import.meta.url));

const ok = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!r.ok) throw new Error(r.reason);
  return r.value;
};
const ip = (base: number, i: number) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const inputs: ProxyInputs = {
  nodeName: 'n1', nodeIP: '172.20.0.11', nodePortAddresses: ['172.20.0.11'], podCIDRs: ['10.244.0.0/24'], families: [4],
  externalIPRanges: [], loadBalancerIPRanges: [], strictExternalIPs: true, masqueradeAll: false, hairpinAll: false,
};

/** Service s's one EndpointSlice with n endpoints (addresses unique per service). */
function sliceOf(s: number, n: number, E: number): EndpointSliceModel {
  const name = `svc-${s}`;
  return ok(normalizeEndpointSlice({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `${name}-a`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: n }, (_, e) => ({ addresses: [ip(11, s * (E + 2) + e)], nodeName: `n${e % 50}`, conditions: { ready: true, serving: true, terminating: false } })),
  }));
}

/** The real model store with S services of E endpoints each, as the informers would have filled it. */
function clusterStore(S: number, E: number): ModelStore {
  const store = new ModelStore();
  store.upsert('Node', 'n1', ok(normalizeNode({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: { podCIDR: '10.244.0.0/24' }, status: { addresses: [{ type: 'InternalIP', address: '172.20.0.11' }] } })));
  for (let s = 0; s < S; s++) {
    const name = `svc-${s}`;
    store.upsert('Service', `default/${name}`, ok(normalizeService({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: name }, spec: { type: 'ClusterIP', clusterIP: ip(10, s + 1), clusterIPs: [ip(10, s + 1)], ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } })));
    store.upsert('EndpointSlice', `default/${name}-a`, sliceOf(s, E, E));
  }
  store.flush();
  return store;
}

/** The table a plan leaves in the kernel, as `ipvsadm -S -n` prints it. */
function saveOf(plan: ProxyPlan): string {
  const out: string[] = [];
  for (const v of plan.virtualServers.values()) {
    out.push(`-A -t ${v.address}:${v.port} -s ${v.scheduler}`);
    for (const r of v.realServers) out.push(`-a -t ${v.address}:${v.port} -r ${r.address}:${r.port} -m -w ${r.weight}`);
  }
  return out.join('\n');
}

type Stats = { min: number; median: number; max: number };
const stats = (xs: readonly number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
};
const fmt = (xs: readonly number[], unit = 'ms', digits = 1) => {
  const s = stats(xs);
  return `${s.min.toFixed(digits)} / ${s.median.toFixed(digits)} / ${s.max.toFixed(digits)} ${unit}`;
};

/** An Exec that adds up the time spent in the commands it runs (what is not host-side work). */
function timed(inner: Exec): Exec & { spent: number; last: Map<string, number>; byCmd: Map<string, number> } {
  const t = Object.assign(
    async (cmd: string, a: readonly string[], o?: Parameters<Exec>[2]) => {
      const t0 = performance.now();
      try {
        return await inner(cmd, a, o);
      } finally {
        const d = performance.now() - t0;
        t.spent += d;
        t.last.set(`${cmd} ${a[0] ?? ''}`, d);
        t.byCmd.set(`${cmd} ${a[0] ?? ''}`, (t.byCmd.get(`${cmd} ${a[0] ?? ''}`) ?? 0) + d);
      }
    },
    { spent: 0, last: new Map<string, number>(), byCmd: new Map<string, number>() },
  );
  return t;
}

/**
 * One EndpointSlice change through the controller's sync path: the store takes the new slice, the
 * incremental compiler and the applier (not a full sync) do the rest. Alternates +1 / -1 endpoint.
 */
async function oneChange(store: ModelStore, compiler: ProxyCompiler, applier: ProxyApplier, exec: ReturnType<typeof timed>, s: number, grow: boolean, E: number) {
  exec.spent = 0;
  const t0 = performance.now();
  store.upsert('EndpointSlice', `default/svc-${s}-a`, sliceOf(s, grow ? E + 1 : E, E));
  store.flush();
  const plan = compiler.compile(store.snapshot(), inputs);
  const t1 = performance.now();
  const report = await applier.apply(plan, { full: false, nodePortAddresses: inputs.nodePortAddresses, nodeIP: inputs.nodeIP! });
  const t2 = performance.now();
  return { totalMs: t2 - t0, compileMs: t1 - t0, applyMs: t2 - t1, execMs: exec.spent, hostMs: t2 - t0 - exec.spent, report, recompiled: compiler.stats().recompiled };
}

async function hostPart(): Promise<void> {
  const S = num('--services', 10_000), E = num('--endpoints', 10), RUNS = num('--runs', 5);
  const store = clusterStore(S, E);
  const snap = store.snapshot();
  const compileMs: number[] = [], referenceMs: number[] = [], parseMs: number[] = [], diffMs: number[] = [];
  let plan: ProxyPlan | undefined;
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now();
    plan = new ProxyCompiler().compile(snap, inputs);
    compileMs.push(performance.now() - t);
    t = performance.now();
    compileProxyPlan(snap, inputs);
    referenceMs.push(performance.now() - t);
    const text = saveOf(plan);
    t = performance.now();
    const table = parseIpvsSave(text);
    parseMs.push(performance.now() - t);
    t = performance.now();
    diffIpvs(plan.virtualServers, table, { owned: () => true, graceful: false, keepDraining: new Set() });
    diffMs.push(performance.now() - t);
  }

  // The applier's real path against an in-memory kernel: a full sync into it, then single changes.
  const kernel = new FakeProxyKernel();
  const exec = timed(kernel.exec);
  const applier = new ProxyApplier({ exec, backend: 'legacy', nodePortRange: { min: 30000, max: 32767 }, excludedCIDRs: [], gracefulPeriodMs: 0 });
  const compiler = new ProxyCompiler();
  const applyOpts = { nodePortAddresses: inputs.nodePortAddresses, nodeIP: inputs.nodeIP! };
  await applier.apply(compiler.compile(store.snapshot(), inputs), { full: true, ...applyOpts });
  const fullInSyncMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    exec.spent = 0;
    const t = performance.now();
    await applier.apply(compiler.compile(store.snapshot(), inputs), { full: true, ...applyOpts });
    fullInSyncMs.push(performance.now() - t - exec.spent);
  }
  const changes: Awaited<ReturnType<typeof oneChange>>[] = [];
  const CHANGES = Math.max(RUNS * 4, 20);
  for (let i = 0; i < CHANGES; i++) {
    const s = (i * 7919) % S;
    changes.push(await oneChange(store, compiler, applier, exec, s, true, E));
    changes.push(await oneChange(store, compiler, applier, exec, s, false, E));
  }
  const cmds = [...new Set(changes.map((c) => c.report.ipvsCommands))];
  const servers = plan!.virtualServers.size;
  console.log(`proxy bench, host part: ${S} services x ${E} endpoints (${servers} virtual servers, ${S * E} real servers), node ${process.version}; min / median / max`);
  console.log(`  compile, all services (start, ProxyCompiler): ${fmt(compileMs)}   (reference compileProxyPlan: ${fmt(referenceMs)})   ${RUNS} runs`);
  console.log(`  full sync read: parse of ipvsadm -S -n:       ${fmt(parseMs)}   ${RUNS} runs`);
  console.log(`  full sync diff: plan vs parsed table:         ${fmt(diffMs)}   ${RUNS} runs`);
  console.log(`  full sync, host side, kernel in sync (read + parse + compare all, no commands): ${fmt(fullInSyncMs)}   ${RUNS} runs`);
  console.log(`  one EndpointSlice change (+1 or -1 endpoint), store -> compile -> applier, host side: ${fmt(changes.map((c) => c.hostMs), 'ms', 2)}   ${changes.length} changes`);
  console.log(`    of which compile (store + snapshot + incremental compile): ${fmt(changes.map((c) => c.compileMs), 'ms', 2)}; applier without the command: ${fmt(changes.map((c) => c.applyMs - c.execMs), 'ms', 2)}`);
  console.log(`    services recompiled per change: ${[...new Set(changes.map((c) => c.recompiled))].join(', ')}; kernel reads: ${changes.filter((c) => c.report.readKernel).length}; IPVS commands per change: ${cmds.join(', ')}`);
  console.log(`    e.g. ${changes[0]!.report.ipvsCommands} command: real server added ${changes[0]!.report.realServersAdded}; then removed ${changes[1]!.report.realServersRemoved}`);
  console.log(`  RSS ${Math.round(process.memoryUsage().rss / 1e6)} MB (the store, one compiler's parts, the applier's table, and the in-memory kernel's copy)`);
}

// ---------------------------------------------------------------- UML part

const MODULES = ['dummy', 'nf_conntrack', 'nf_nat', 'ip_vs', 'ip_vs_rr', 'ip_tables', 'iptable_nat', 'xt_ipvs', 'xt_comment', 'xt_nat'];

/** On the host: boots UML with this script as its work, waits for it, prints what it wrote. */
function umlPart(): void {
  if (!existsSync('/usr/bin/linux.uml')) throw new Error('user-mode Linux is not installed (apt-get install user-mode-linux)');
  genlAddon.build();
  const dir = mkdtempSync(join(here, '..', '.bench-uml-'));
  try {
    const ver = readdirSync('/usr/lib/uml/modules')[0]!;
    mkdirSync(join(dir, 'mod', 'lib', 'modules'), { recursive: true });
    symlinkSync(`/usr/lib/uml/modules/${ver}`, join(dir, 'mod', 'lib', 'modules', ver));
    const inner = [process.execPath, '--import', 'tsx', join(here, 'proxy.ts'), '--inside-uml', '--out', join(dir, 'result.txt'),
      '--uml-services', String(num('--uml-services', 1000)), '--endpoints', String(num('--endpoints', 10)), '--uml-runs', String(num('--uml-runs', 3))];
    writeFileSync(join(dir, 'init.sh'), [
      '#!/bin/sh',
      'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root',
      'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /run; mount -t tmpfs tmp /tmp',
      `mount -t hostfs none ${dir} -o ${dir}`,
      `for m in ${MODULES.join(' ')}; do modprobe -d ${dir}/mod $m || echo "modprobe $m failed"; done`,
      'ip link set lo up; ip addr add 172.20.0.11/32 dev lo', // the node IP: the VIP routes' source
      `cd ${resolve(here, '..')}`,
      `${inner.join(' ')} > ${dir}/inner.log 2>&1`,
      'poweroff -f',
      '',
    ].join('\n'), { mode: 0o755 });
    const t0 = performance.now();
    // linux.uml always exits 0: the result file says whether the work inside finished.
    spawnSync('linux.uml', ['mem=2048M', 'rootfstype=hostfs', 'rootflags=/', 'ro', `init=${dir}/init.sh`, 'con0=fd:0,fd:1', 'con=null', 'quiet'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 20 * 60_000 });
    const wall = (performance.now() - t0) / 1000;
    if (!existsSync(join(dir, 'result.txt'))) {
      console.error(readFileSync(join(dir, 'inner.log'), 'utf8'));
      throw new Error('the UML part wrote no result (its log is above)');
    }
    process.stdout.write(readFileSync(join(dir, 'result.txt'), 'utf8'));
    console.log(`  (UML boot to power-off: ${wall.toFixed(0)} s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Inside UML: the measurements, written to --out. */
async function insideUml(): Promise<void> {
  const S = num('--uml-services', 1000), E = num('--endpoints', 10), RUNS = num('--uml-runs', 3);
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(s);
  };
  const exec = timed(async (cmd, a, o) => {
    try {
      return await execHost(cmd, a, o);
    } catch (e) {
      console.error(`failed: ${cmd} ${a.join(' ')} with input:\n${(o?.input ?? '').slice(0, 2000)}`);
      throw e;
    }
  });
  const store = clusterStore(S, E);
  const plan = compileProxyPlan(store.snapshot(), inputs);
  const restoreText = diffIpvs(plan.virtualServers, new Map(), { owned: () => true, graceful: false, keepDraining: new Set() }).ops.map(ipvsadmLine).join('\n') + '\n';
  const applyOpts = { nodePortAddresses: inputs.nodePortAddresses, nodeIP: inputs.nodeIP! };
  const reset = async () => {
    await execHost('ipvsadm', ['-C']);
    await execHost('ip', ['link', 'del', 'kube-dummy-if'], { okCodes: [1, 2] });
    await execHost('iptables-legacy-restore', [], { input: '*nat\nCOMMIT\n' });
  };
  const count = async () => (await execHost('ipvsadm', ['-S', '-n'])).stdout.split('\n').filter((l) => l.startsWith('-a')).length;
  let t = performance.now();
  const nl = IpvsNetlink.open();
  const openMs = performance.now() - t;
  if (nl instanceof Error) throw nl;
  const writers: Record<'netlink' | 'ipvsadm', IpvsWriter> = { netlink: netlinkWriter(nl), ipvsadm: ipvsadmWriter(exec) };
  const newApplier = (w: 'netlink' | 'ipvsadm') => new ProxyApplier({ exec, backend: 'legacy', nodePortRange: { min: 30000, max: 32767 }, excludedCIDRs: [], gracefulPeriodMs: 0, writer: writers[w] });

  const floor: number[] = [];
  const full = { netlink: [] as number[], ipvsadm: [] as number[] };
  const fullIpvs = { netlink: [] as number[], ipvsadm: [] as number[] };
  const fullParts = { netlink: [] as string[], ipvsadm: [] as string[] };
  for (let r = 0; r < RUNS; r++) {
    await reset();
    t = performance.now();
    await execHost('ipvsadm', ['-R'], { input: restoreText, timeoutMs: Infinity });
    floor.push(performance.now() - t);
    if ((await count()) !== S * E) throw new Error('the floor restore did not load every real server');
    for (const w of ['netlink', 'ipvsadm'] as const) {
      await reset();
      const a = newApplier(w);
      exec.spent = 0;
      exec.byCmd.clear();
      t = performance.now();
      const rep = await a.apply(new ProxyCompiler().compile(store.snapshot(), inputs), { full: true, ...applyOpts });
      full[w].push(performance.now() - t);
      fullIpvs[w].push(rep.ms.ipvs);
      const tools = [...exec.byCmd].map(([c, ms]) => `${c} ${ms.toFixed(0)}`).join(', ');
      fullParts[w].push(`read ${rep.ms.read.toFixed(0)}, VIPs ${rep.ms.vips.toFixed(0)}, IPVS ${rep.ms.ipvs.toFixed(0)}, NAT ${rep.ms.nat.toFixed(0)} ms (spawned tools: ${tools})`);
      if ((await count()) !== S * E) throw new Error(`the full sync (${w}) did not load every real server`);
    }
  }
  const f = stats(floor);
  say(`proxy bench, UML part: ${S} services x ${E} endpoints (${S * E} real servers) in user-mode Linux, ${RUNS} runs; min / median / max`);
  say(`  floor: ipvsadm -R of the final state into an empty table:   ${fmt(floor.map((x) => x / 1000), 's', 2)}`);
  for (const w of ['netlink', 'ipvsadm'] as const) {
    const g = stats(full[w]);
    say(`  full sync of the real applier into an empty table (VIPs, IPVS, NAT), ${w} writer: ${fmt(full[w].map((x) => x / 1000), 's', 2)}  -> ${(g.median / f.median).toFixed(2)}x the floor (median/median; target <= 1.5x)`);
    say(`    of which its IPVS step: ${fmt(fullIpvs[w].map((x) => x / 1000), 's', 2)}; per run: ${fullParts[w].join(' | ')}`);
  }

  // One EndpointSlice change to the kernel, through the real path (state as the last full sync left it).
  for (const w of ['netlink', 'ipvsadm'] as const) {
    const compiler = new ProxyCompiler();
    const applier = newApplier(w);
    await applier.apply(compiler.compile(store.snapshot(), inputs), { full: true, ...applyOpts });
    const changes: Awaited<ReturnType<typeof oneChange>>[] = [];
    for (let i = 0; i < Math.max(RUNS * 2, 6); i++) {
      const s = (i * 379) % S;
      changes.push(await oneChange(store, compiler, applier, exec, s, true, E));
      changes.push(await oneChange(store, compiler, applier, exec, s, false, E));
    }
    say(`  one EndpointSlice change to the kernel, ${w} writer (+1 or -1 endpoint; ${changes.length} changes): total ${fmt(changes.map((c) => c.totalMs), 'ms', 2)}`);
    say(`    compile (store, snapshot, incremental compile): ${fmt(changes.map((c) => c.compileMs), 'ms', 2)}; applier (diff + the IPVS write, kernel included): ${fmt(changes.map((c) => c.applyMs), 'ms', 2)}; spawned tools: ${fmt(changes.map((c) => c.execMs), 'ms', 2)}; IPVS ops: ${[...new Set(changes.map((c) => c.report.ipvsCommands))].join(', ')}`);
  }

  // One IPVS operation three ways, on a service of the loaded table.
  const N = Math.max(RUNS * 3, 9);
  const v = [...plan.virtualServers.values()][0]!;
  const spawnOnly: number[] = [], ipvsadmOne: number[] = [], nlOne: number[] = [];
  const id = { protocol: v.protocol, address: v.address, port: v.port };
  const dest = { address: '10.99.0.1', port: 8080, weight: 1, method: 'm' as const };
  for (let i = 0; i < N; i++) {
    t = performance.now();
    await execHost('true', []);
    spawnOnly.push(performance.now() - t);
    t = performance.now();
    await execHost('ipvsadm', ['-R'], { input: `-a -t ${v.address}:${v.port} -r 10.99.0.1:8080 -m -w 1\n` });
    ipvsadmOne.push(performance.now() - t);
    await execHost('ipvsadm', ['-R'], { input: `-d -t ${v.address}:${v.port} -r 10.99.0.1:8080\n` });
    t = performance.now();
    await writers.netlink.write([{ op: 'add-dest', service: id, dest }]);
    nlOne.push(performance.now() - t);
    await writers.netlink.write([{ op: 'del-dest', service: id, dest }]);
  }
  say(`  one IPVS operation (add a real server), ${N} runs: ipvsadm -R of 1 line ${fmt(ipvsadmOne)}; a spawned no-op (true) ${fmt(spawnOnly)}; netlink writer ${fmt(nlOne, 'ms', 3)} (socket + family lookup once: ${openMs.toFixed(2)} ms)`);

  // Reads: what a full sync reads the table with, the whole loaded table.
  const readNl: number[] = [], readAdm: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    t = performance.now();
    const a = await writers.netlink.read();
    readNl.push(performance.now() - t);
    t = performance.now();
    const b = await writers.ipvsadm.read();
    readAdm.push(performance.now() - t);
    const canon = (t: typeof a) => JSON.stringify([...kernelTable(t)].sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => [k, [...v.realServers].sort((p, q) => (p.address + p.port).localeCompare(q.address + q.port))]));
    if (canon(a) !== canon(b)) throw new Error('the netlink dump and ipvsadm -S -n disagree');
  }
  say(`  read the loaded table (${S} services): netlink dump ${fmt(readNl)}; ipvsadm -S -n + parse ${fmt(readAdm)} (both read the same)`);
  await reset();
  writeFileSync(str('--out', '/dev/stdout'), lines.join('\n') + '\n');
}

if (has('--inside-uml')) await insideUml();
else {
  const part = str('--part', 'host');
  if (part === 'host' || part === 'all') await hostPart();
  if (part === 'uml' || part === 'all') umlPart();
}
