// Offline conformance: runs the shared NetworkPolicy cases (YAML, see shared/conformance/netpol/README.md)
// through the compiler and the plan tracer of every node, over the README's `default` cluster spread on
// two nodes. The lab runs the same cases with real packets; this catches semantic slips in milliseconds.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { ClusterSnapshot, NamespaceModel, NetworkPolicyModel, PodModel } from '../../model/types.js';
import { canonicalCIDR } from '../../model/normalize/cidr.js';
import type { CompileOptions } from '../../controllers/firewall/compile/compiler.js';
import { namespace, pod, policy } from './fixtures.js';
import { Cluster, reach } from './reach.js';

interface Rule {
  from: string;
  to: string;
  allowed: boolean;
}
interface Expectation {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  default: boolean;
  rules: Rule[];
  loopback?: boolean;
}
interface Step {
  delete?: string[];
  apply?: Array<{ metadata: { name: string; namespace: string }; spec: Record<string, unknown> }>;
  labels?: Array<{ target: string; set?: Record<string, string>; remove?: string[] }>;
  expect: Expectation[];
}
export interface ConformanceCase {
  name: string;
  steps: Step[];
}

export function loadCase(path: string): ConformanceCase {
  return parse(readFileSync(path, 'utf8')) as ConformanceCase;
}

const NS = ['x', 'y', 'z'];
const PODS = ['a', 'b', 'c'];
export const ALL = NS.flatMap((n) => PODS.map((p) => `${n}/${p}`));

function ipOf(id: string): string {
  const n = NS.indexOf(id.split('/')[0]!);
  const p = PODS.indexOf(id.split('/')[1]!);
  // Pods a and b of each namespace on node1, c on node2: same-node and cross-node paths both occur.
  return p < 2 ? `10.244.1.${10 + n * 3 + p}` : `10.244.2.${10 + n}`;
}

function defaultCluster(): { namespaces: Map<string, NamespaceModel>; pods: Map<string, PodModel> } {
  const ports = [
    { name: 'serve-80-tcp', containerPort: 80, protocol: 'TCP' as const },
    { name: 'serve-81-tcp', containerPort: 81, protocol: 'TCP' as const },
    { name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' as const },
    { name: 'serve-81-udp', containerPort: 81, protocol: 'UDP' as const },
  ];
  const namespaces = new Map(NS.map((n) => [n, namespace(n, { ns: n })] as const));
  const pods = new Map(
    ALL.map((id) => {
      const [n, p] = id.split('/') as [string, string];
      return [id, pod({ ns: n, name: p, ip: ipOf(id), node: PODS.indexOf(p) < 2 ? 'node1' : 'node2', labels: { pod: p }, ports })] as const;
    }),
  );
  return { namespaces, pods };
}

function substitute(v: unknown): unknown {
  if (typeof v === 'string') {
    return v
      .replace(/\{\{ip ([a-z]+\/[a-z]+)\}\}/g, (_, id: string) => ipOf(id))
      .replace(/\{\{cidr ([a-z]+\/[a-z]+) (\d+)\}\}/g, (_, id: string, len: string) => canonicalCIDR(`${ipOf(id)}/${len}`)!);
  }
  if (Array.isArray(v)) return v.map(substitute);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x)]));
  return v;
}

function selects(sel: string, id: string): boolean {
  if (sel === '*') return true;
  const [sn, sp] = sel.split('/');
  const [n, p] = id.split('/');
  return (sn === '*' || sn === n) && (sp === '*' || sp === p);
}

export interface Mismatch {
  step: number;
  port: number;
  protocol: string;
  from: string;
  to: string;
  expected: boolean;
  got: boolean;
}

/**
 * Applies a case's steps in order to the default cluster, compiling every node's plan after each; `each`
 * sees the step, its plans and the pods. (The renderer's golden test reads the plans this way, untraced.)
 */
export function compileSteps(
  c: ConformanceCase,
  extra: Partial<CompileOptions>,
  each: (step: number, spec: Step, cluster: Cluster, pods: ReadonlyMap<string, PodModel>) => void,
): void {
  const { namespaces, pods } = defaultCluster();
  const policies = new Map<string, NetworkPolicyModel>();
  const cluster = new Cluster(['node1', 'node2'], extra);
  c.steps.forEach((step, si) => {
    for (const d of step.delete ?? []) policies.delete(d);
    for (const m of step.apply ?? []) {
      const sub = substitute(m) as typeof m;
      policies.set(`${sub.metadata.namespace}/${sub.metadata.name}`, policy(sub.metadata.namespace, sub.metadata.name, sub.spec));
    }
    for (const l of step.labels ?? []) {
      const parts = l.target.split('/');
      const apply = (labels: Record<string, string>): Record<string, string> => {
        const next = { ...labels, ...(l.set ?? {}) };
        for (const k of l.remove ?? []) delete next[k];
        return next;
      };
      if (parts[0] === 'ns') {
        const ns = namespaces.get(parts[1]!)!;
        namespaces.set(ns.name, { ...ns, labels: apply(ns.labels) });
      } else {
        const id = `${parts[1]}/${parts[2]}`;
        const p = pods.get(id)!;
        pods.set(id, { ...p, labels: apply(p.labels) });
      }
    }
    const snap: ClusterSnapshot = {
      nodes: new Map(),
      namespaces: new Map(namespaces),
      pods: new Map(pods),
      services: new Map(),
      endpointSlices: new Map(),
      policies: new Map(policies),
    };
    cluster.update(snap);
    each(si, step, cluster, pods);
  });
}

/** Runs a case; returns every (step, probe, pair) whose traced verdict differs from the expectation. */
export function runCase(c: ConformanceCase, extra: Partial<CompileOptions> = {}): Mismatch[] {
  const out: Mismatch[] = [];
  compileSteps(c, extra, (si, step, cluster, pods) => {
    for (const e of step.expect) {
      for (const from of ALL) {
        for (const to of ALL) {
          let expected = e.default;
          for (const r of e.rules) if (selects(r.from, from) && selects(r.to, to)) expected = r.allowed;
          if (e.loopback && from === to) expected = true;
          const proto = e.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp';
          const got = reach(cluster, pods.get(from)!, pods.get(to)!, { proto, port: e.port }) === 'ACCEPT';
          if (got !== expected) out.push({ step: si, port: e.port, protocol: e.protocol, from, to, expected, got });
        }
      }
    }
  });
  return out;
}
