// NetworkPolicy conformance runner for the case format of shared/conformance/netpol/README.md: builds
// the fixed nine-pod cluster in a lab, applies each step, waits until every agent's firewall reports a
// sync after the change, then probes the full matrix until it matches or the step times out.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { agentFeatures } from './agent-flags.js';
import { cidrContainsIP, networkOf } from '../model/normalize/cidr.js';
import { lastSyncOf, type AgentHealth } from './health.js';
import { R, type KObj } from './kube.js';
import type { Lab } from './lab.js';
import { sleep } from './sh.js';
import { explainProbes, type ExplainMismatch } from '../explain/matrix.js';

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const POD_NAMES = ['a', 'b', 'c'] as const;
export const PODS: readonly string[] = NAMESPACES.flatMap((n) => POD_NAMES.map((p) => `${n}/${p}`));
const PORTS = [
  { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' },
  { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' },
  { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' },
  { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' },
];

export interface Expectation {
  port: number;
  protocol: 'TCP' | 'UDP';
  default: boolean;
  rules?: { from: string; to: string; allowed: boolean }[];
  loopback?: boolean;
}
/** One connection to an address (a pod IP or a Service's ClusterIP through a placeholder), from each pod of `from`. */
export interface Probe {
  from: string;
  to: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  allowed: boolean;
}
export interface Step {
  description?: string;
  delete?: string[];
  apply?: KObj[];
  labels?: { target: string; set?: Record<string, string>; remove?: string[] }[];
  expect: Expectation[];
  probes?: Probe[];
}
export interface Case {
  name: string;
  file: string;
  steps: Step[];
}

export interface CellDiff {
  readonly port: number;
  readonly protocol: string;
  readonly from: string;
  readonly to: string;
  readonly expected: boolean;
  readonly observed: boolean;
}
export interface CaseResult {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly ms: number;
  readonly failedStep?: number;
  readonly diffs?: readonly CellDiff[];
  readonly error?: string;
  /** Where the time went: waiting for firewall syncs, probing (all rounds), and probe rounds made. */
  readonly timings?: { readonly syncWaitMs: number; readonly probeMs: number; readonly rounds: number; readonly explainMs?: number };
  /** With `explain`: cells checked against `kube-router explain`, and those where it disagrees with the packets. */
  readonly explain?: { readonly checked: number; readonly mismatches: readonly (ExplainMismatch & { readonly step: number })[] };
}
export interface ConformanceReport {
  readonly cases: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly setupMs: number;
  /** Present with `explain`: cells where explain and the real packets disagree, over all cases. */
  readonly explainMismatches?: number;
}
export interface ConformanceOptions {
  readonly stepTimeoutMs?: number;
  readonly probeTimeoutMs?: number;
  readonly only?: readonly string[];
  /** Nodes to place the nine pods on, round-robin (default: every lab node). */
  readonly nodes?: readonly string[];
  readonly onCase?: ((line: string) => void) | undefined;
  /** Also check every probed cell of every step against `kube-router explain` (src/explain). */
  readonly explain?: boolean;
}

/** Loads every *.yaml case in `dir`; an unreadable case becomes a failing entry, never a crash. */
export function loadCases(dir: string): (Case | { name: string; file: string; error: string })[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      try {
        const doc = parse(readFileSync(file, 'utf8')) as KObj;
        if (!doc || typeof doc['name'] !== 'string' || !Array.isArray(doc['steps'])) throw new Error('needs name and steps');
        for (const [i, s] of (doc['steps'] as KObj[]).entries()) {
          if (!Array.isArray(s['expect'])) throw new Error(`step ${i + 1} has no expect list`);
        }
        return { name: doc['name'] as string, file, steps: doc['steps'] as Step[] };
      } catch (e) {
        return { name: f.replace(/\.ya?ml$/, ''), file, error: `bad case file: ${e instanceof Error ? e.message : String(e)}` };
      }
    });
}

function select(sel: string): string[] {
  if (sel === '*') return [...PODS];
  const [ns, pod] = sel.split('/');
  return PODS.filter((p) => {
    const [n, q] = p.split('/');
    return (ns === '*' || ns === n) && (pod === '*' || pod === q);
  });
}

export function expectedMatrix(e: Expectation): Record<string, Record<string, boolean>> {
  const m: Record<string, Record<string, boolean>> = {};
  for (const f of PODS) m[f] = Object.fromEntries(PODS.map((t) => [t, e.default]));
  for (const r of e.rules ?? []) for (const f of select(r.from)) for (const t of select(r.to)) m[f]![t] = r.allowed;
  if (e.loopback) for (const p of PODS) m[p]![p] = true;
  return m;
}

/** The /len network around a pod IP; a bad IP or length is a broken case, reported as its error. */
function podNetwork(ip: string, len: number): string {
  const net = networkOf(ip, len);
  if (!net) throw new Error(`bad address ${ip} or prefix length ${len}`);
  return net.text;
}

const CLUSTERIP = /\{\{\s*clusterip\s+(\S+?)\s*\}\}/g;

/**
 * Replaces {{ip ns/pod}}, {{cidr ns/pod len}} and {{clusterip ns/svc}} in every string of a manifest.
 * `clusterIPs` holds the ClusterIPs of the case's Services (read after they were created).
 */
export function substitute(v: unknown, ips: Readonly<Record<string, string>>, clusterIPs: Readonly<Record<string, string>> = {}): unknown {
  if (typeof v === 'string') {
    return v
      .replace(CLUSTERIP, (_m, k: string) => {
        if (!clusterIPs[k]) throw new Error(`placeholder names unknown service ${k} (or one without a ClusterIP)`);
        return clusterIPs[k] as string;
      })
      .replace(/\{\{\s*ip\s+(\S+?)\s*\}\}/g, (_m, p: string) => {
        if (!ips[p]) throw new Error(`placeholder names unknown pod ${p}`);
        return ips[p] as string;
      })
      .replace(/\{\{\s*cidr\s+(\S+)\s+(\d+)\s*\}\}/g, (_m, p: string, len: string) => {
        if (!ips[p]) throw new Error(`placeholder names unknown pod ${p}`);
        return podNetwork(ips[p] as string, Number(len));
      });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ips, clusterIPs));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ips, clusterIPs)]));
  return v;
}

/** A case that reaches Services through their ClusterIP needs the service proxy (IPVS) in the lab. */
export function needsServiceProxy(c: Pick<Case, 'steps'>): boolean {
  return JSON.stringify(c.steps).search(/\{\{\s*clusterip\s/) >= 0 || c.steps.some((s) => (s.apply ?? []).some((m) => m['kind'] === 'Service'));
}

/** A {{cidr p N}} case assumes all nine pod IPs share that /N; the README says to skip it otherwise. */
function cidrAssumptionHolds(c: Case, ips: Readonly<Record<string, string>>): boolean {
  const text = JSON.stringify(c.steps);
  for (const m of text.matchAll(/\{\{\s*cidr\s+(\S+)\s+(\d+)\s*\}\}/g)) {
    const net = podNetwork(ips[m[1] as string] ?? '0.0.0.0', Number(m[2]));
    if (!PODS.every((p) => cidrContainsIP(net, ips[p] as string))) return false;
  }
  return true;
}

async function setupCluster(lab: Lab, nodes: readonly string[]): Promise<Record<string, string>> {
  const c = lab.client;
  for (const ns of NAMESPACES) {
    await c.createOrReplace(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ns, 'kubernetes.io/metadata.name': ns } } });
  }
  let i = 0;
  for (const key of PODS) {
    const [ns, name] = key.split('/') as [string, string];
    const node = nodes[i++ % nodes.length] as string;
    const existing = await c.getOr(R.pods, ns, name);
    if (existing && existing['spec']?.['nodeName'] === node) continue;
    if (existing) {
      await c.delete(R.pods, ns, name, 0);
      await sleep(200);
    }
    await c.create(R.pods, ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: { pod: name } },
      spec: { nodeName: node, containers: [{ name: 'serve', image: 'lab/serve-hostname', ports: PORTS }] },
    });
  }
  return lab.waitForPods(PODS, 120_000);
}

/** Back to the default cluster; returns whether anything had to change. */
async function resetCluster(lab: Lab): Promise<boolean> {
  const c = lab.client;
  let changed = false;
  const same = (a: unknown, b: unknown) => JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort());
  for (const ns of NAMESPACES) {
    const list = await c.list(R.networkpolicies, ns);
    for (const p of (list['items'] ?? []) as KObj[]) {
      await c.delete(R.networkpolicies, ns, p['metadata']['name']);
      changed = true;
    }
    // Services a case created (the default cluster has none in x, y, z).
    for (const svc of ((await c.list(R.services, ns))['items'] ?? []) as KObj[]) {
      await c.delete(R.services, ns, svc['metadata']['name']);
      changed = true;
    }
    const want = { ns, 'kubernetes.io/metadata.name': ns };
    await c.modify(R.namespaces, undefined, ns, (o) => {
      if (same(o['metadata']['labels'], want)) return false;
      o['metadata']['labels'] = want;
      changed = true;
      return true;
    });
    for (const pod of POD_NAMES) {
      await c.modify(R.pods, ns, pod, (o) => {
        if (same(o['metadata']['labels'], { pod })) return false;
        o['metadata']['labels'] = { pod };
        changed = true;
        return true;
      });
    }
  }
  return changed;
}

/** The ClusterIPs of the Services in the case namespaces, as "ns/name" -> IP. */
async function clusterIPsOf(lab: Lab): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const ns of NAMESPACES) {
    for (const svc of ((await lab.client.list(R.services, ns))['items'] ?? []) as KObj[]) {
      const ip = svc['spec']?.['clusterIP'];
      if (typeof ip === 'string' && ip !== 'None' && ip !== '') out[`${ns}/${svc['metadata']['name']}`] = ip;
    }
  }
  return out;
}

async function applyStep(lab: Lab, step: Step, ips: Readonly<Record<string, string>>): Promise<void> {
  const c = lab.client;
  for (const d of step.delete ?? []) {
    const [ns, name] = d.split('/') as [string, string];
    await c.delete(R.networkpolicies, ns, name);
  }
  // Services first: a policy of the same step may name their ClusterIP.
  const manifests = [...(step.apply ?? [])].sort((a, b) => Number(b['kind'] === 'Service') - Number(a['kind'] === 'Service'));
  for (const m of manifests) {
    const obj = substitute(m, ips, m['kind'] === 'Service' ? {} : await clusterIPsOf(lab)) as KObj;
    const res = obj['kind'] === 'Service' ? R.services : R.networkpolicies;
    await c.createOrReplace(res, obj['metadata']?.['namespace'] ?? 'default', obj);
  }
  for (const l of step.labels ?? []) {
    const parts = l.target.split('/');
    const [res, ns, name] = parts[0] === 'ns' ? [R.namespaces, undefined, parts[1] as string] : [R.pods, parts[1], parts[2] as string];
    await c.modify(res, ns, name, (o) => {
      const labels = { ...(o['metadata']['labels'] ?? {}) } as Record<string, string>;
      Object.assign(labels, l.set ?? {});
      for (const k of l.remove ?? []) if (k !== 'kubernetes.io/metadata.name') delete labels[k];
      o['metadata']['labels'] = labels;
    });
  }
}

/**
 * A beat is recorded when a sync *ends*, so the first beat after `since` may come from a sync that
 * started before the change reached the agent; the change then causes an immediate follow-up sync
 * (the firewall's runner coalesces requests with no minimum interval). Waiting until the last beat is
 * this old means such a follow-up has finished too (a lab sync takes ~20 ms): a step whose expected
 * matrix equals the state before it cannot then pass on the old rules.
 */
const SETTLE_MS = 150;

/** Waits until every agent's firewall has synced after `since` and settled (bounded; probing still retries after). */
async function waitForFirewallSync(lab: Lab, since: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(lab.state.nodes.map((n) => n.name));
  while (pending.size > 0 && Date.now() < deadline) {
    const health = await lab.health().catch(() => ({}) as Record<string, AgentHealth>);
    const now = Date.now();
    for (const n of [...pending]) {
      const h = health[n];
      // An agent without the JSON form, or without a firewall controller, has nothing to wait for.
      if (!h?.controllers || !h.controllers.some((c) => c.name === 'firewall')) {
        pending.delete(n);
        continue;
      }
      const s = lastSyncOf(h, 'firewall');
      if (s && s.at >= since && now - s.at >= SETTLE_MS) pending.delete(n);
    }
    if (pending.size > 0) await sleep(50);
  }
}

type Observed = Record<string, Record<string, boolean>>;

async function observe(lab: Lab, step: Step, ips: Readonly<Record<string, string>>, probeTimeoutMs: number): Promise<{ diffs: CellDiff[]; results: Observed[] }> {
  const exps = step.expect;
  const results = await Promise.all(exps.map((e) => lab.matrix(PODS, ips, e.port, e.protocol, probeTimeoutMs)));
  const diffs: CellDiff[] = [];
  if (step.probes?.length) {
    const cips = await clusterIPsOf(lab);
    for (const p of step.probes) {
      const to = substitute(p.to, ips, cips) as string;
      const froms = select(p.from);
      const got = await Promise.all(froms.map((f) => lab.probe(f, to, p.port, p.protocol, probeTimeoutMs)));
      froms.forEach((f, i) => {
        if (got[i] !== p.allowed) diffs.push({ port: p.port, protocol: p.protocol, from: f, to: p.to, expected: p.allowed, observed: got[i] === true });
      });
    }
  }
  exps.forEach((e, i) => {
    const want = expectedMatrix(e);
    const got = results[i] as Record<string, Record<string, boolean>>;
    for (const f of PODS) for (const t of PODS) {
      const expected = want[f]![t] as boolean;
      const observed = got[f]?.[t] === true;
      if (expected !== observed) diffs.push({ port: e.port, protocol: e.protocol, from: f, to: t, expected, observed });
    }
  });
  return { diffs, results };
}

export function formatCase(r: CaseResult): string {
  const secs = `(${(r.ms / 1000).toFixed(1)} s)`;
  const mm = r.explain?.mismatches ?? [];
  const explain =
    mm.length === 0
      ? ''
      : `; explain disagrees on ${mm.length} cells: ${mm
          .slice(0, 6)
          .map((m) => `step ${m.step} ${m.port}/${m.protocol} ${m.from}->${m.to} packets ${m.observed ? 'allow' : 'deny'} explain ${m.error ?? (m.explained ? 'allow' : 'deny')}`)
          .join('; ')}${mm.length > 6 ? ' ...' : ''}`;
  if (r.status === 'pass') return `PASS ${r.name} ${secs}${explain}`;
  if (r.status === 'skip') return `SKIP ${r.name}: ${r.error ?? ''}`;
  const cells = (r.diffs ?? []).slice(0, 12).map((d) => `${d.port}/${d.protocol} ${d.from}->${d.to} want ${d.expected ? 'allow' : 'deny'} got ${d.observed ? 'allow' : 'deny'}`);
  const more = (r.diffs?.length ?? 0) > 12 ? ` ... and ${(r.diffs?.length ?? 0) - 12} more` : '';
  return `FAIL ${r.name} ${secs}${r.failedStep ? ` step ${r.failedStep}` : ''}: ${r.error ?? `${r.diffs?.length ?? 0} cells differ: ${cells.join('; ')}${more}`}${explain}`;
}

export function formatReport(r: ConformanceReport, withCases = true): string {
  const lines = withCases ? r.cases.map(formatCase) : [];
  const explain = r.explainMismatches !== undefined ? `, ${r.explainMismatches} explain mismatches` : '';
  lines.push(`${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${explain}`);
  return lines.join('\n');
}

export async function runConformance(lab: Lab, dir: string, o: ConformanceOptions = {}): Promise<ConformanceReport> {
  const t0 = Date.now();
  const cases = loadCases(dir).filter((c) => !o.only || o.only.includes(c.name));
  const nodes = o.nodes ?? lab.state.nodes.map((n) => n.name);
  const ips = await setupCluster(lab, nodes);
  const setupMs = Date.now() - t0;
  const f = agentFeatures(lab.state.agentFlags);
  const firewall = lab.state.agents && f.firewall;
  const proxy = lab.state.agents && f.proxy;
  const results: CaseResult[] = [];
  for (const c of cases) {
    const start = Date.now();
    let r: CaseResult;
    if ('error' in c) r = { name: c.name, status: 'fail', ms: 0, error: c.error };
    else if (!cidrAssumptionHolds(c, ips)) r = { name: c.name, status: 'skip', ms: 0, error: 'pod IPs do not share the /N its {{cidr}} placeholders assume' };
    else if (needsServiceProxy(c) && !proxy) r = { name: c.name, status: 'skip', ms: 0, error: 'needs the service proxy (Services, {{clusterip}}): run it in a lab with the proxy (IPVS: user-mode Linux)' };
    else {
      r = { name: c.name, status: 'pass', ms: 0 };
      const t = { syncWaitMs: 0, probeMs: 0, rounds: 0, ...(o.explain ? { explainMs: 0 } : {}) };
      const ex = { checked: 0, mismatches: [] as (ExplainMismatch & { step: number })[] };
      let last: Observed[] = [];
      const waitSync = async (since: number): Promise<void> => {
        const w0 = Date.now();
        await waitForFirewallSync(lab, since, 30_000);
        t.syncWaitMs += Date.now() - w0;
      };
      const look = async (step: Step): Promise<CellDiff[]> => {
        const p0 = Date.now();
        const d = await observe(lab, step, ips, o.probeTimeoutMs ?? 1000);
        t.probeMs += Date.now() - p0;
        t.rounds++;
        last = d.results;
        return d.diffs;
      };
      try {
        const resetAt = Date.now();
        // Let the agents take the reset in before the first step, so a sync of the reset is never
        // mistaken for a sync of the step.
        if ((await resetCluster(lab)) && firewall) await waitSync(resetAt);
        for (const [i, step] of c.steps.entries()) {
          const changedAt = Date.now();
          await applyStep(lab, step, ips);
          // A step without changes gives the firewall nothing to sync (and so no beat to wait for).
          const changes = (step.delete?.length ?? 0) + (step.apply?.length ?? 0) + (step.labels?.length ?? 0);
          if (firewall && changes > 0) await waitSync(changedAt);
          // Probe until the matrix matches; retries only happen on a mismatch.
          const deadline = Date.now() + (o.stepTimeoutMs ?? 60_000);
          let diffs = await look(step);
          while (diffs.length > 0 && Date.now() < deadline) {
            await sleep(300);
            diffs = await look(step);
          }
          if (o.explain) {
            // The last round's packets against explain over the cluster as it is now (the agents synced it).
            const e0 = Date.now();
            const res = await explainProbes(lab.kubeconfig, lab.state.agentFlags, step.expect.map((e, k) => ({ port: e.port, protocol: e.protocol, observed: last[k] ?? {} })));
            t.explainMs = (t.explainMs ?? 0) + Date.now() - e0;
            ex.checked += res.checked;
            ex.mismatches.push(...res.mismatches.map((m) => ({ ...m, step: i + 1 })));
          }
          if (diffs.length > 0) {
            r = { name: c.name, status: 'fail', ms: 0, failedStep: i + 1, diffs };
            break;
          }
        }
      } catch (e) {
        r = { name: c.name, status: 'fail', ms: 0, error: e instanceof Error ? e.message : String(e) };
      }
      r = { ...r, ms: Date.now() - start, timings: t, ...(o.explain ? { explain: ex } : {}) };
    }
    results.push(r);
    o.onCase?.(formatCase(r));
  }
  await resetCluster(lab).catch(() => undefined);
  return {
    cases: results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
    setupMs,
    ...(o.explain ? { explainMismatches: results.reduce((n, r) => n + (r.explain?.mismatches.length ?? 0), 0) } : {}),
  };
}
