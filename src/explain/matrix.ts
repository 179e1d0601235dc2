// explain over a whole probe matrix, for `kube-router lab conformance --explain`: one cluster list and
// one plan per node for all cells, then every (from, to, port, protocol) through explain, compared with
// what the real packets did.
import pino from 'pino';
import type { AgentConfig } from '../cli/flags.js';
import { FlagError, parseAgentArgs } from '../cli/parse.js';
import type { FirewallPlan } from '../controllers/firewall/compile/plan.js';
import type { ClusterSnapshot } from '../model/types.js';
import { errorLine } from '../observe/errors.js';
import { explainWith } from './command.js';
import type { Protocol } from './explain.js';
import { loadSnapshot } from './snapshot.js';

export interface ExplainMismatch {
  readonly port: number;
  readonly protocol: string;
  readonly from: string;
  readonly to: string;
  /** What the probe saw. */
  readonly observed: boolean;
  /** What explain says; undefined when it failed (then `error` says why). */
  readonly explained?: boolean;
  readonly error?: string;
}

export interface MatrixProbe {
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  /** observed[from][to]: whether the real connection got through. */
  readonly observed: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

export function agentConfigOf(flags: readonly string[]): AgentConfig {
  const o = parseAgentArgs(flags);
  if (o.kind !== 'run') throw new FlagError('unexpected-argument', 'agent flags must not ask for --help or --version');
  return o.config;
}

/** Compares every cell of the probed matrices with explain over one snapshot; returns the cells that differ. */
export function explainMismatches(snapshot: ClusterSnapshot, config: AgentConfig, probes: readonly MatrixProbe[]): { checked: number; mismatches: ExplainMismatch[] } {
  const plans = new Map<string, FirewallPlan | undefined>();
  const mismatches: ExplainMismatch[] = [];
  let checked = 0;
  for (const p of probes) {
    const protocol = p.protocol.toLowerCase() as Protocol;
    for (const [from, row] of Object.entries(p.observed)) {
      for (const [to, observed] of Object.entries(row)) {
        checked++;
        const cell = { port: p.port, protocol: p.protocol, from, to, observed };
        try {
          const explained = explainWith(snapshot, config, { from, to, protocol, port: p.port }, plans).explanation.allowed;
          if (explained !== observed) mismatches.push({ ...cell, explained });
        } catch (err) {
          mismatches.push({ ...cell, error: errorLine(err) });
        }
      }
    }
  }
  return { checked, mismatches };
}

/** Lists the cluster through `kubeconfig` (as explain does) and checks the matrices against it. */
export async function explainProbes(kubeconfig: string, agentFlags: readonly string[], probes: readonly MatrixProbe[]): Promise<{ checked: number; mismatches: ExplainMismatch[] }> {
  const snapshot = await loadSnapshot({ kubeconfig, timeoutMs: 30_000, log: pino({ level: 'error' }) });
  return explainMismatches(snapshot, agentConfigOf(agentFlags), probes);
}
