// The lab's record of itself. state.json describes the running lab (for status, exec, kubectl users);
// the journal is append-only and written *before* each resource is made, so `down` can remove
// everything even after a crash half-way through `up`.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { paths } from './config.js';

export interface NodeState {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  readonly segment: number;
  readonly podCIDR: string;
  readonly kubeconfig: string;
  readonly log: string;
  readonly cniConf: string;
  readonly healthPort: number;
  readonly healthSock: string;
  readonly ipamDir: string;
}

export interface PodState {
  readonly netns: string;
  readonly node: string;
  readonly ip?: string;
  readonly hostNetwork: boolean;
}

export interface LabState {
  readonly version: 1;
  readonly prefix: string;
  readonly stateDir: string;
  readonly createdAt: string;
  readonly kernel: 'host' | 'uml';
  /** The nodes' iptables backend and the bin dir that selects it (absent in labs from before the option). */
  readonly iptables?: { readonly backend: 'nft' | 'legacy'; readonly binDir: string };
  readonly supervisor: { readonly pid: number; readonly start?: number };
  readonly apiserver: { readonly url: string; readonly port: number; readonly unixSocket: string };
  readonly kubeconfig: string;
  readonly hub: string;
  readonly segments: readonly { readonly bridge: string; readonly cidr: string; readonly gateway?: string }[];
  readonly tor?: { readonly netns: string; readonly ips: readonly string[] };
  readonly nodes: readonly NodeState[];
  readonly pods: Readonly<Record<string, PodState>>;
  readonly agentFlags: readonly string[];
  readonly agents: boolean;
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
}

export type JournalEntry =
  | { readonly t: 'netns'; readonly name: string; readonly inUml?: boolean }
  | { readonly t: 'netns-gone'; readonly name: string }
  /** inUml: a pid (or namespace) of the UML kernel, meaningless on the host: `down` skips it. */
  | { readonly t: 'pid'; readonly pid: number; readonly start?: number; readonly what: string; readonly inUml?: boolean }
  | { readonly t: 'created'; readonly stateDir: boolean };

export function journal(stateDir: string, e: JournalEntry): void {
  appendFileSync(paths(stateDir).journal, JSON.stringify(e) + '\n');
}

export function readJournal(stateDir: string): JournalEntry[] {
  const p = paths(stateDir).journal;
  if (!existsSync(p)) return [];
  const out: JournalEntry[] = [];
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      // A torn last line after a crash: the entries before it are still good.
    }
  }
  return out;
}

export function writeState(s: LabState): void {
  const p = paths(s.stateDir).state;
  writeFileSync(p + '.tmp', JSON.stringify(s, null, 2) + '\n');
  renameSync(p + '.tmp', p);
}

export function readState(stateDir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(paths(stateDir).state, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** The network namespace of a node (name, "nN" or "N"), a pod ("ns/pod"), "tor" or "hub". */
export function resolveTarget(st: LabState, target: string): string {
  if (target === 'tor') {
    if (!st.tor) throw new Error('this lab has no tor router (start it with --tor)');
    return st.tor.netns;
  }
  if (target === 'hub') return st.hub;
  if (target.includes('/')) {
    const p = st.pods[target];
    if (!p) throw new Error(`pod ${target} is not running in the lab`);
    return p.netns;
  }
  const n = st.nodes.find((x, i) => x.name === target || `n${i + 1}` === target || `${i + 1}` === target || x.netns === target);
  if (!n) throw new Error(`unknown target ${JSON.stringify(target)}: a node (${st.nodes.map((x) => x.name).join(', ')}), ns/pod, tor or hub`);
  return n.netns;
}
