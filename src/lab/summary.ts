// What `lab up` and `lab status` print. The up summary is the first thing a user sees (scripts/lab.sh
// ends with it): what runs where, whether the agents came up, and the next commands, spelled the way
// this lab is reached (its --name, and `kube-router` only when that is on PATH).
import { realpathSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { agentFeatures } from './agent-flags.js';
import type { LabStatus } from './control.js';
import { which } from './iptables.js';

export interface Invocation {
  /** Name of the lab command: 'kube-router lab' (under the agent's CLI) or the standalone entry's. */
  readonly program: string;
  /** --name / --state-dir / --prefix as given (so the hints reach this lab, not the default one). */
  readonly where: { name?: string; stateDir?: string; prefix?: string };
}

const same = (a: string, b: string): boolean => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};

/** The command a user types to reach this lab again, e.g. `node dist/cli/main.js lab --name dev`. */
export function labInvocation(inv: Invocation, argv1 = process.argv[1] ?? ''): string {
  const rel = relative(process.cwd(), argv1);
  const file = rel && !rel.startsWith('..') ? rel : argv1;
  let cmd: string;
  if (inv.program === 'kube-router lab') {
    const onPath = which('kube-router');
    cmd = onPath && same(onPath, argv1) ? 'kube-router lab' : `node ${file} lab`;
  } else cmd = `node ${basename(argv1).endsWith('.ts') ? '--import tsx ' : ''}${file}`;
  const w = inv.where;
  if (w.name) cmd += ` --name ${w.name}`;
  else {
    if (w.stateDir) cmd += ` --state-dir ${w.stateDir}`;
    if (w.prefix) cmd += ` --prefix ${w.prefix}`;
  }
  return cmd;
}

function agentCell(st: LabStatus, node: string): string {
  const s = st.state;
  if (!s.agents) return 'none';
  const h = st.health[node];
  const proc = st.processes.find((p) => p.what === `agent ${node}`);
  if (proc && !proc.running) return `exited (${proc.exit ?? '?'})`;
  if (!h?.ok) return `unhealthy${h?.error ? ` (${h.error})` : h?.status ? ` (HTTP ${h.status})` : ''}`;
  const ctrls = (h.controllers ?? []).map((c) => c.name);
  return ctrls.length ? `healthy (${ctrls.join(', ')})` : 'healthy';
}

export function formatUp(st: LabStatus, ms: number, inv: Invocation): string {
  const s = st.state;
  const me = labInvocation(inv);
  const f = agentFeatures(s.agentFlags);
  const pad = Math.max(...s.nodes.map((n) => n.name.length));
  const lines = [
    `lab up in ${(ms / 1000).toFixed(1)} s (${s.kernel} kernel${s.iptables ? `, iptables-${s.iptables.backend}` : ''}): ${s.nodes.length} nodes, API server ${s.apiserver.url}`,
    ...s.nodes.map((n) => `  ${n.name.padEnd(pad)}  ${n.ip}  pod CIDR ${n.podCIDR}  netns ${n.netns}  agent ${agentCell(st, n.name)}`),
    `  underlay: ${s.segments.map((g) => `${g.cidr} (${g.bridge} in ${s.hub})`).join(', ')}${s.tor ? `; tor router ${s.tor.netns} at ${s.tor.ips.join(', ')}` : ''}`,
    s.agents ? `  agents: kube-router ${s.agentFlags.join(' ') || '(default flags)'}; logs ${s.stateDir}/nodes/<node>/agent.log` : '  agents: none (started without agents)',
  ];
  const unhealthy = s.agents ? s.nodes.filter((n) => !agentCell(st, n.name).startsWith('healthy')) : [];
  if (unhealthy.length) lines.push(`  WARNING: agent not healthy on ${unhealthy.map((n) => n.name).join(', ')}: see its agent.log`);
  lines.push(
    '',
    `  export KUBECONFIG=${s.kubeconfig}`,
    '  kubectl get nodes -o wide; kubectl run web --image=x --port=80   # the lab kubelet runs it on a node',
    `  ${me} status          # nodes, agent health, iptables backend, underlay`,
    `  ${me} exec lab-node-1 -- iptables-save     (or ns/pod, tor, hub)`,
    `  ${me} probe default/web <IP>:80`,
  );
  if (s.agents && f.firewall) lines.push(`  ${me} conformance <dir of NetworkPolicy cases, e.g. ../shared/conformance/netpol>`);
  lines.push(`  ${me} down            # removes everything the lab made`);
  return lines.join('\n');
}

export function formatStatus(st: LabStatus): string {
  const s = st.state;
  const out = [`lab ${s.stateDir} (${s.kernel} kernel), API server ${s.apiserver.url}, kubeconfig ${s.kubeconfig}`];
  if (s.iptables) out.push(`iptables: ${s.iptables.backend} on every node (iptables* in ${s.iptables.binDir}, first in the PATH of agents, CNI plugins and lab exec)`);
  out.push('NODE            IP             POD CIDR         AGENT');
  for (const n of s.nodes) out.push(`${n.name.padEnd(16)}${n.ip.padEnd(15)}${n.podCIDR.padEnd(17)}${agentCell(st, n.name)}`);
  out.push(`underlay: ${s.segments.map((g) => g.cidr).join(', ')} on ${s.hub}${s.tor ? `; tor ${s.tor.netns} (${s.tor.ips.join(', ')})` : ''}`);
  out.push(`pods running: ${Object.keys(s.pods).length}`);
  const dead = st.processes.filter((p) => !p.running);
  if (dead.length) out.push(`stopped processes: ${dead.map((p) => `${p.what} (${p.exit ?? 'gone'})`).join(', ')}`);
  return out.join('\n');
}
