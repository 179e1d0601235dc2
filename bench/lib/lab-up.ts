// `lab up` to all nodes healthy, run after run, with where the seconds went: read from the lab's own logs
// (the UML console's "kernel ready at", the supervisor's phase lines, each agent's log and, with
// KRT_EXEC_TRACE=1, every command it ran) while the lab is still up, then `down`. Used by bench/lab.ts --up-runs.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../../src/lab/config.js';
import { downLab } from '../../src/lab/down.js';
import { Lab, type UpOptions } from '../../src/lab/index.js';

export interface UpRun {
  readonly upMs: number;
  readonly downMs: number;
  readonly healthy: boolean;
  /** Phase name -> seconds (see PHASES). */
  readonly phases: Record<string, number>;
  /** CPU seconds the UML kernel's host processes used (the work done, less sensitive to a busy machine). */
  readonly umlCpuS?: number;
  /** Commands the agents ran before all were healthy (with KRT_EXEC_TRACE=1), and their summed wall time. */
  readonly agentExecs?: { count: number; seconds: number; top: [string, number, number][]; perAgent: Record<string, [string, number][]> };
}

const tsOf = (line: string | undefined): number | undefined => {
  if (!line) return undefined;
  const iso = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(line)?.[1] ?? /"time":"([^"]+)"/.exec(line)?.[1];
  return iso ? Date.parse(iso) : undefined;
};

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
}

/** CPU seconds of every live linux.uml host process, plus what the kernel process reaped from exited ones. */
function umlCpuSeconds(): number | undefined {
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  let found = false;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    if (comm !== 'linux.uml') continue;
    found = true;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime are fields 14-17 (1-based) = 11-14 after the comm.
    total += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return found ? total / tick : undefined;
}

/** Phases, each from the end of the previous one (all clocks are the same machine's). */
function phasesOf(stateDir: string, t0: number, tUp: number): { phases: Record<string, number>; execs?: UpRun['agentExecs'] } {
  const P = paths(stateDir);
  const sup = lines(P.supervisorLog);
  const kernelReady = Number(/kernel ready at (\d+)/.exec(lines(join(stateDir, 'uml', 'console.log')).join('\n'))?.[1] ?? NaN);
  const at = (re: RegExp) => tsOf(sup.find((l) => re.test(l)));
  const supStart = tsOf(sup.find((l) => tsOf(l) !== undefined));
  const underlay = at(/underlay up/);
  const synced = at(/lab kubelet and controllers synced/);
  const started = at(/started \d+ agents/);
  const healthy = at(/all agents healthy|agents not healthy/);
  const nodeDirs = existsSync(join(stateDir, 'nodes')) ? readdirSync(join(stateDir, 'nodes')) : [];
  let firstLog = 0, cacheSynced = 0;
  const firstSync: Record<string, number> = {};
  const perCmd = new Map<string, [number, number]>();
  // Process starts per agent by command (first two words: `ip -j`, `ipset save`), the figure to cut in UML.
  const perAgent: Record<string, [string, number][]> = {};
  let execCount = 0, execMs = 0;
  for (const n of nodeDirs) {
    const log = lines(P.nodeLog(n));
    const keep = process.env.KRT_BENCH_KEEP_LOGS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, `${n}.log`), log.join('\n'));
    }
    firstLog = Math.max(firstLog, tsOf(log.find((l) => l.startsWith('{'))) ?? 0);
    cacheSynced = Math.max(cacheSynced, tsOf(log.find((l) => l.includes('"cluster cache synced"'))) ?? 0);
    for (const c of ['firewall', 'proxy']) {
      const t = tsOf(log.find((l) => l.includes(`"controller":"${c}"`) && l.includes('first sync done')));
      if (t) firstSync[c] = Math.max(firstSync[c] ?? 0, t);
    }
    const cni = tsOf(log.find((l) => l.includes('"wrote CNI config"')));
    if (cni) firstSync['router (CNI config written)'] = Math.max(firstSync['router (CNI config written)'] ?? 0, cni);
    const mine = new Map<string, number>();
    for (const l of log) {
      const m = /^exec-trace (\S+) (\d+)ms \S+ (\S+)( \S+)?/.exec(l);
      if (!m || (healthy && Date.parse(m[1] as string) > healthy)) continue;
      execCount++;
      execMs += Number(m[2]);
      const key = `${m[3]}${m[4] ?? ''}`;
      const e = perCmd.get(key) ?? [0, 0];
      perCmd.set(key, [e[0] + 1, e[1] + Number(m[2])]);
      mine.set(key, (mine.get(key) ?? 0) + 1);
    }
    if (mine.size > 0) perAgent[n] = [...mine].sort((a, b) => b[1] - a[1]);
  }
  const s = (a: number | undefined, b: number | undefined) => (a && b ? (b - a) / 1000 : NaN);
  const phases: Record<string, number> = {};
  if (Number.isFinite(kernelReady)) {
    phases['UML boot (host start to kernel ready: namespace, kernel, mounts, modules)'] = s(t0, kernelReady);
    phases['supervisor process start (node loading the lab)'] = s(kernelReady, supStart);
  } else phases['supervisor start'] = s(t0, supStart);
  phases['API server, underlay (namespaces, veths, sysctls)'] = s(supStart, underlay);
  phases['forwarders, nodes registered, lab kubelet+controllers synced'] = s(underlay, synced);
  phases['agents spawned'] = s(synced, started);
  phases['agent process start (slowest first log line)'] = s(started, firstLog);
  phases['agent cluster cache synced (slowest)'] = s(started, cacheSynced);
  for (const [c, t] of Object.entries(firstSync)) phases[`agent ${c} first sync (slowest, from agents spawned)`] = s(started, t);
  phases['all agents healthy (from agents spawned)'] = s(started, healthy);
  phases['lab up seen by the caller (state written, host side)'] = s(t0, tUp);
  const top = [...perCmd].sort((a, b) => b[1][1] - a[1][1]).slice(0, 8).map(([k, [c, ms]]) => [k, c, ms / 1000] as [string, number, number]);
  return { phases, ...(execCount > 0 ? { execs: { count: execCount, seconds: execMs / 1000, top, perAgent } } : {}) };
}

export async function upRun(o: UpOptions & { name: string; stateDir: string; prefix: string }): Promise<UpRun> {
  await downLab({ stateDir: o.stateDir, prefix: o.prefix });
  const t0 = Date.now();
  const lab = await Lab.up(o);
  const tUp = Date.now();
  const upMs = tUp - t0;
  const umlCpuS = umlCpuSeconds();
  const health = await lab.health().catch(() => ({}) as Record<string, { ok: boolean }>);
  const healthy = Object.keys(health).length === (o.nodes ?? 3) && Object.values(health).every((h) => h.ok);
  const { phases, execs } = phasesOf(o.stateDir, t0, tUp);
  const t1 = Date.now();
  await lab.down();
  return { upMs, downMs: Date.now() - t1, healthy, phases, ...(umlCpuS !== undefined ? { umlCpuS } : {}), ...(execs ? { agentExecs: execs } : {}) };
}

const stats = (xs: readonly number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const med = v.length % 2 ? (v[(v.length - 1) / 2] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
  return `min ${(v[0] as number).toFixed(1)}  median ${med.toFixed(1)}  max ${(v[v.length - 1] as number).toFixed(1)}`;
};

export function printRuns(runs: readonly UpRun[], nodes: number): void {
  console.log(`\nlab up, ${nodes} nodes, to all agents healthy: ${runs.length} runs (seconds)`);
  console.log(`  up:   ${stats(runs.map((r) => r.upMs / 1000))}   (healthy at the end: ${runs.filter((r) => r.healthy).length}/${runs.length})`);
  console.log(`  down: ${stats(runs.map((r) => r.downMs / 1000))}`);
  if (runs.some((r) => r.umlCpuS !== undefined)) console.log(`  UML kernel CPU during up: ${stats(runs.map((r) => r.umlCpuS ?? NaN))}`);
  console.log('phases (seconds):');
  for (const k of Object.keys(runs[0]?.phases ?? {})) console.log(`  ${k}: ${stats(runs.map((r) => r.phases[k] ?? NaN))}`);
  const ex = runs.map((r) => r.agentExecs).filter((e) => e !== undefined);
  if (ex.length > 0) {
    console.log(`agents' commands before healthy (all nodes, KRT_EXEC_TRACE=1): count ${stats(ex.map((e) => e.count))}; summed wall ${stats(ex.map((e) => e.seconds))}`);
    console.log('  longest in the last run (command, count, summed s): ' + (ex[ex.length - 1]?.top ?? []).map(([k, c, s]) => `${k} x${c} ${s.toFixed(1)}`).join('; '));
    for (const [node, cmds] of Object.entries(ex[ex.length - 1]?.perAgent ?? {})) {
      console.log(`  ${node}, ${cmds.reduce((a, [, c]) => a + c, 0)} process starts: ${cmds.map(([k, c]) => `${k} x${c}`).join(', ')}`);
    }
  }
}
