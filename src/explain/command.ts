// `kube-router explain FROM TO`: the CLI around explain.ts. The cluster comes from the kubeconfig as
// the agent finds it; the firewall options of each node come from the agent's flags (given after `--`,
// parsed by the agent's own parser, defaults as the agent's), through firewallOptionsFrom: the function
// the agent itself calls. With --lab NAME, the lab's kubeconfig, its agents' flags and its nodes'
// kernels (for --kernel) are used.
import { Command, Option } from 'commander';
import { firewallOptionsFrom } from '../agent/builtin.js';
import { resolveNodeName } from '../agent/agent.js';
import type { AgentConfig } from '../cli/flags.js';
import { FlagError, parseAgentArgs } from '../cli/parse.js';
import type { FirewallPlan } from '../controllers/firewall/compile/plan.js';
import { execHost, ExecError, type Exec } from '../dataplane/exec.js';
import type { ClusterSnapshot } from '../model/types.js';
import { createLogger } from '../observe/logger.js';
import { errorCode, errorLine, KrtError } from '../observe/errors.js';
import { explain, planFor, type ExplainContext, type Explanation, type Protocol } from './explain.js';
import { explanationJson, formatExplanation } from './format.js';
import { compareWithKernel, type KernelAccess } from './kernel.js';
import { loadSnapshot } from './snapshot.js';

export const EXPLAIN_HELP = `
FROM and TO are a pod (namespace/name), a node (its name), or an IP address: a pod's IP, a node's
address (a host-network pod counts as its node), or any other address (an address of a node's pod CIDR that no pod holds is
routed to that node, where the fail-closed check rejects it).

explain lists the cluster once, the way the agent does (--kubeconfig, else --master, else the in-cluster
service account, else ~/.kube/config), compiles the firewall plan of each node on the path with the
agent's own compiler and the options the agent derives from its flags (give the agents' flags after --;
defaults are the agent's), and traces a new connection (conntrack NEW) through the filter table of each
node: FORWARD for pod to pod (once when both are on one node, on both nodes otherwise), INPUT on the node
a pod talks to, OUTPUT on the node that talks to its pod. It prints the verdict and, for the egress of
FROM and the ingress of TO, the policies that select the pod, the policy rule that admits the packet
(policy, rule index, peer and port) or the default deny, and the chains and sets that implement it.

--kernel reads each traced node's live filter table (iptables-save of the backend the agent picks) and
ipsets (ipset save) and compares them with the plan: the built-in chain's jump, every chain the trace
entered and every set those chains read. "identical" means the kernel holds exactly the rules the verdict
came from; a difference names the chain or set and the first differing rule or entries. It sends no
packet. The kernel is reachable on the node itself (its name: --hostname-override, NODE_NAME or the host
name) or, in a lab, through --lab.

Exit status: 0 explained (allowed or denied), 1 error, 2 usage, 3 --kernel found a difference or could
not read a node. Errors end with a code from docs/errors.md.

Examples:
  kube-router explain x/a y/b --port 80
  kube-router explain x/a 10.244.2.7 --port 53 --protocol udp --json
  kube-router explain 203.0.113.9 x/a --port 443 -- --service-cluster-ip-range=10.96.0.0/12
  kube-router explain x/a y/b --port 80 --lab demo --kernel`;

export interface ExplainRun {
  readonly explanation: Explanation;
  readonly plans: (node: string) => FirewallPlan | undefined;
}

/** Explains one query against a snapshot with the agents' config (what the CLI and the conformance check run). */
export function explainWith(snapshot: ClusterSnapshot, config: AgentConfig, q: { from: string; to: string; protocol: Protocol; port: number }, plans = new Map<string, FirewallPlan | undefined>()): ExplainRun {
  const ctx: ExplainContext = {
    snapshot,
    firewallOptions: (node) => (config.runFirewall ? firewallOptionsFrom(config, node) : undefined),
    plans,
  };
  return { explanation: explain(ctx, q), plans: (node) => planFor(ctx, node) };
}

function agentConfig(flags: readonly string[]): AgentConfig {
  const outcome = parseAgentArgs(flags);
  if (outcome.kind !== 'run') throw new FlagError('unexpected-argument', 'agent flags after -- must not be --help or --version');
  return outcome.config;
}

/** An Exec that runs on a lab node (host kernel or UML), failing like execHost on a non-zero exit. */
function labNodeExec(lab: { exec(target: string, argv: readonly string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> }, node: string): Exec {
  return async (cmd, args, opts = {}) => {
    const r = await lab.exec(node, [cmd, ...args], opts.input);
    if (r.code !== 0 && !(opts.okCodes ?? []).includes(r.code)) throw new ExecError(cmd, args, r.code, null, r.stderr, r.stdout, false);
    return r;
  };
}

interface Opts {
  port: string;
  protocol: Protocol;
  json?: boolean;
  kernel?: boolean;
  lab?: string;
  kubeconfig?: string;
  master?: string;
  timeout: string;
}

function usage(message: string): never {
  throw new KrtError('KRT_EXPLAIN_ENDPOINT', message);
}

async function run(from: string, to: string, agentFlags: string[], o: Opts): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) usage(`--port ${o.port}: expected 1..65535`);
  const timeoutS = Number(o.timeout);
  if (!(timeoutS > 0)) usage(`--timeout ${o.timeout}: expected seconds > 0`);
  const lab = o.lab !== undefined ? (await import('../lab/lab.js')).Lab.attach({ name: o.lab }) : undefined;
  const config = agentConfig(agentFlags.length > 0 || !lab ? agentFlags : lab.state.agentFlags);
  // The store's progress lines are the agent's business; explain shows its warnings (and more with -v).
  const log = createLogger({ verbosity: config.v });
  if (config.v === 0) log.level = 'warn';
  const snapshot = await loadSnapshot({
    kubeconfig: o.kubeconfig ?? (lab ? lab.kubeconfig : config.kubeconfig),
    master: o.master ?? config.master,
    timeoutMs: timeoutS * 1000,
    log,
  });
  const { explanation, plans } = explainWith(snapshot, config, { from, to, protocol: o.protocol, port });
  let kernel;
  if (o.kernel) {
    const here = resolveNodeName(config);
    const access: KernelAccess = (node) => (lab ? (lab.state.nodes.some((n) => n.name === node) ? labNodeExec(lab, node) : undefined) : node === here ? execHost : undefined);
    kernel = await compareWithKernel(explanation, plans, access);
  }
  process.stdout.write((o.json ? JSON.stringify(explanationJson(explanation, kernel), null, 2) : formatExplanation(explanation, kernel)) + '\n');
  lab?.client.close();
  return kernel && kernel.some((k) => k.error || k.items.some((i) => !i.same)) ? 3 : 0;
}

export function explainCommand(): Command {
  return new Command('explain')
    .description('why a connection from FROM to TO is allowed or denied by the NetworkPolicy firewall, from the plan the agents program')
    .argument('<from>', 'namespace/pod or IP')
    .argument('<to>', 'namespace/pod or IP')
    .argument('[agent-flags...]', "after --: the agents' flags (firewall options derive from them as in the agent)")
    .option('--port <n>', 'destination port', '80')
    .addOption(new Option('--protocol <p>', 'protocol').choices(['tcp', 'udp', 'sctp']).default('tcp'))
    .option('--json', 'machine-readable output')
    .option('--kernel', "also compare the traced chains and sets with the nodes' live iptables and ipsets")
    .option('--lab <name>', "a lab's kubeconfig, agent flags and node kernels (kube-router lab up --name NAME)")
    .option('--kubeconfig <path>', 'kubeconfig (default: as the agent finds it)')
    .option('--master <url>', 'API server URL, overriding the kubeconfig')
    .option('--timeout <s>', 'seconds to wait for the cluster list', '30')
    .addHelpText('after', EXPLAIN_HELP)
    .action(async (from: string, to: string, agentFlags: string[], o: Opts) => {
      try {
        process.exitCode = await run(from, to, agentFlags, o);
      } catch (err) {
        process.stderr.write(`kube-router explain: ${errorLine(err)}\n`);
        process.exitCode = err instanceof FlagError || errorCode(err) === 'KRT_EXPLAIN_ENDPOINT' ? 2 : 1;
      }
    });
}
