// Lab naming and layout. Everything a lab creates is named from its prefix and lives under its state dir,
// so several labs (one per test file) can run side by side and `down` can find exactly what it made.
import { join } from 'node:path';

export interface LabLocation {
  /** Directory holding state.json, the kubeconfig, logs, CNI dirs and sockets. */
  readonly stateDir: string;
  /** Prefix of every network namespace name (e.g. "krlab-"). */
  readonly prefix: string;
}

export interface LabSpec extends LabLocation {
  readonly nodes: number;
  /** Underlay L2 segments; with 2+ a router namespace forwards between them. */
  readonly segments: number;
  readonly tor: boolean;
  /** Flags given to every node's agent (after `--`). */
  readonly agentFlags: readonly string[];
  /** Run agents at all (tests of the lab machinery can run without them). */
  readonly agents: boolean;
  /**
   * A manifest whose DaemonSet pod spec starts the agents (pod-spec.ts): its args (then agentFlags, which
   * already hold them, see specFrom) and its env with the downward API resolved per node.
   */
  readonly agentManifest?: string;
  /** Command that starts an agent: argv prefix, e.g. [node, dist/cli/main.js]. */
  readonly agentCommand: readonly string[];
  readonly clusterCIDR: string;
  readonly nodeCIDRMaskSize: number;
  readonly serviceCIDR: string;
  /** Port the agents reach the API server on inside each node namespace. */
  readonly nodeApiPort: number;
  /** Host port for kubectl (0 = any free port). */
  readonly apiPort: number;
  readonly kernel: 'host' | 'uml' | 'auto';
  /**
   * The iptables backend the nodes' `iptables*` resolve to (iptables.ts), resolved by `Lab.up`:
   * 'host' until then (the host's own choice). Absent in specs from before the option.
   */
  readonly iptables?: 'nft' | 'legacy' | 'host';
  /** Set by the host for a supervisor that runs inside user-mode Linux (see uml.ts). */
  readonly inside?: {
    /** Kernel-local dir for sockets and host-local IPAM state (hostfs has no unix sockets or flock). */
    readonly runDir: string;
    /** Where the API server and the control API listen inside the UML kernel. */
    readonly apiListen: { readonly host: string; readonly port: number };
    readonly controlListen: { readonly host: string; readonly port: number };
    /** The API server's URL as the host sees it (kubeconfig, state). */
    readonly publicApiUrl: string;
  };
}

export const DEFAULT_PREFIX = 'krlab-';
export const DEFAULT_STATE_DIR = '/run/kube-router-lab';

/** `--name N` derives both prefix and state dir, so a second lab never collides with the default one. */
export function locate(opts: { name?: string; stateDir?: string; prefix?: string }): LabLocation {
  const env = process.env['KUBE_ROUTER_LAB_DIR'];
  const name = opts.name && opts.name.length > 0 ? opts.name : undefined;
  const stateDir = opts.stateDir ?? (name ? `${DEFAULT_STATE_DIR}-${name}` : (env ?? DEFAULT_STATE_DIR));
  const prefix = opts.prefix ?? (name ? `${DEFAULT_PREFIX}${name}-` : DEFAULT_PREFIX);
  if (!/^[a-z0-9][a-z0-9-]{0,20}$/.test(prefix)) {
    throw new Error(`lab prefix ${JSON.stringify(prefix)} must be 1-21 characters of a-z, 0-9 and '-'`);
  }
  return { stateDir, prefix };
}

export const paths = (stateDir: string) => ({
  state: join(stateDir, 'state.json'),
  journal: join(stateDir, 'journal'),
  kubeconfig: join(stateDir, 'kubeconfig'),
  control: join(stateDir, 'control.sock'),
  apiSock: join(stateDir, 'api.sock'),
  apiData: join(stateDir, 'apiserver.json'),
  supervisorLog: join(stateDir, 'supervisor.log'),
  nodeDir: (node: string) => join(stateDir, 'nodes', node),
  nodeKubeconfig: (node: string) => join(stateDir, 'nodes', node, 'kubeconfig'),
  nodeLog: (node: string) => join(stateDir, 'nodes', node, 'agent.log'),
  nodeCniConf: (node: string) => join(stateDir, 'nodes', node, 'cni', '10-kuberouter.conflist'),
  nodeIpam: (node: string) => join(stateDir, 'nodes', node, 'ipam'),
  /**
   * The xtables lock of one namespace. A real node has its own /run/xtables.lock; lab nodes share one
   * machine, and with one lock every node's iptables waits for every other's (in UML, where one call
   * takes ~0.6 s, agents then miss their --wait and fail syncs). Tables are per namespace in both
   * backends, so one lock per namespace is what separate machines would have.
   */
  xtablesLock: (netns: string) => join(stateDir, 'xtables', `${netns}.lock`),
  nodeHealthSock: (node: string) => join(stateDir, 'nodes', node, 'health.sock'),
  podLog: (netns: string) => join(stateDir, 'pods', `${netns}.log`),
  /** `iptables*` symlinks to the chosen backend, first in the PATH of what runs in node namespaces. */
  binDir: join(stateDir, 'bin'),
});

export const nodeName = (i: number): string => `lab-node-${i + 1}`;
export const nodeNetns = (prefix: string, i: number): string => `${prefix}n${i + 1}`;
export const hubNetns = (prefix: string): string => `${prefix}hub`;
export const torNetns = (prefix: string): string => `${prefix}tor`;
/** Pod netns names come from the pod UID: stable, unique, and short enough for any prefix. */
export const podNetns = (prefix: string, uid: string): string => `${prefix}p-${uid.replace(/[^a-z0-9]/gi, '').slice(0, 12)}`;

/** Underlay addressing: segment s is 172.20.s.0/24, its router .1, node i .(11+i). */
export function underlayIP(segment: number, host: number): string {
  return `172.20.${segment}.${host}`;
}
export const UNDERLAY_PREFIXLEN = 24;
