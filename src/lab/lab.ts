// The programmatic lab: what the CLI and the end-to-end tests use. `Lab.up` builds a lab (in this
// process, or in a detached supervisor process as `kube-router lab up` does); `Lab.attach` finds a
// running one from its state dir.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locate, paths, type LabLocation, type LabSpec } from './config.js';
import { control, type LabStatus } from './control.js';
import { downLab, type DownReport } from './down.js';
import { labFailureReport } from './diagnose.js';
import type { AgentHealth } from './health.js';
import { KubeClient, R, type KObj } from './kube.js';
import type { ProbeTarget } from './pod-process.js';
import { alive, run, StopWaiting, waitFor, type RunResult } from './sh.js';
import { readState, resolveTarget, type LabState } from './state.js';
import { defaultAgentCommand, prepareStateDir, REPO_ROOT, Supervisor } from './supervisor.js';
import { agentFeatures, neededKernelFeatures } from './agent-flags.js';
import { agentPodSpec, labAgentFlags } from './pod-spec.js';
import { chooseKernel } from './kernel.js';
import { bootUml, umlAvailable } from './uml.js';
import { chooseIptables, labPath, makeIptablesBin } from './iptables.js';

export interface UpOptions {
  readonly name?: string;
  readonly stateDir?: string;
  readonly prefix?: string;
  readonly nodes?: number;
  readonly segments?: number;
  readonly tor?: boolean;
  readonly agentFlags?: readonly string[];
  readonly agents?: boolean;
  readonly agentCommand?: readonly string[];
  /** Start the agents from this manifest's DaemonSet pod spec (e.g. deploy/all.yaml); agentFlags follow its args. */
  readonly agentManifest?: string;
  readonly kernel?: 'host' | 'uml' | 'auto';
  /** iptables backend of the nodes (default: the host's, as `iptables -V` reports it). */
  readonly iptables?: 'nft' | 'legacy' | 'host';
  readonly clusterCIDR?: string;
  readonly serviceCIDR?: string;
  readonly apiPort?: number;
  /** Run the supervisor as a detached process (the CLI's way) instead of inside this process. */
  readonly detach?: boolean;
  readonly log?: (msg: string) => void;
}

export function specFrom(o: UpOptions): LabSpec {
  const loc = locate(o);
  return {
    ...loc,
    nodes: o.nodes ?? 3,
    segments: o.segments ?? 1,
    tor: o.tor ?? false,
    agentFlags: [...(o.agentManifest ? labAgentFlags(agentPodSpec(readFileSync(o.agentManifest, 'utf8'))) : []), ...(o.agentFlags ?? [])],
    ...(o.agentManifest ? { agentManifest: resolve(o.agentManifest) } : {}),
    agents: o.agents ?? true,
    agentCommand: [...(o.agentCommand ?? defaultAgentCommand())],
    clusterCIDR: o.clusterCIDR ?? '10.244.0.0/16',
    nodeCIDRMaskSize: 24,
    serviceCIDR: o.serviceCIDR ?? '10.96.0.0/12',
    nodeApiPort: 6443,
    apiPort: o.apiPort ?? 0,
    kernel: o.kernel ?? 'auto',
    iptables: o.iptables ?? 'host',
  };
}

/** Newest modification time of the TypeScript sources under `dir` (ms); build outputs there (the BGP addon) do not count. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(join((e as { parentPath?: string }).parentPath ?? e.path, e.name)).mtimeMs);
  }
  return newest;
}

/**
 * argv that runs the lab's standalone entry (the supervisor): the one-file bundle of the build
 * (dist/lab/kube-router-lab.mjs, scripts/bundle.mjs) when there is one, else dist/lab/main.js; from
 * sources (tests) the bundle too when it is newer than every source file, else `node --import tsx main.ts`.
 * Inside user-mode Linux the bundle starts in ~2 s, dist/lab/main.js in ~5 s, tsx in ~16 s.
 */
export function selfCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js') || here.endsWith('.mjs')) {
    const lab = join(dirname(here), '..', 'lab');
    const bundle = join(lab, 'kube-router-lab.mjs');
    return [process.execPath, existsSync(bundle) ? bundle : join(lab, 'main.js')];
  }
  const bundle = join(REPO_ROOT, 'dist', 'lab', 'kube-router-lab.mjs');
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestMtime(join(REPO_ROOT, 'src'))) return [process.execPath, bundle];
  return [process.execPath, '--import', 'tsx', join(dirname(here), 'main.ts')];
}

export class Lab {
  readonly client: KubeClient;
  private constructor(
    readonly loc: LabLocation,
    public state: LabState,
    private readonly sup?: Supervisor,
  ) {
    const token = /token: (\S+)/.exec(readFileSync(state.kubeconfig, 'utf8'))?.[1];
    this.client = new KubeClient({ url: state.apiserver.url, ...(token ? { token } : {}) });
  }

  static async up(o: UpOptions = {}): Promise<Lab> {
    let spec = specFrom(o);
    if (spec.agents && !existsSync(spec.agentCommand[spec.agentCommand.length - 1] ?? '') && !o.agentCommand) {
      throw new Error(`the agent is not built (${spec.agentCommand.join(' ')}): run 'npm run build', or start the lab without agents`);
    }
    prepareStateDir(spec.stateDir);
    const log = o.log ?? (() => undefined);
    let kernel: 'host' | 'uml';
    try {
      const choice = await chooseKernel(spec.kernel, spec.agents ? neededKernelFeatures(agentFeatures(spec.agentFlags), spec.segments) : [], spec.prefix);
      if (choice.note) log(choice.note);
      kernel = choice.kernel;
      if (kernel === 'uml' && !umlAvailable()) throw new Error(`${choice.note ?? 'UML requested'}, but linux.uml is not installed (apt-get install user-mode-linux)`);
      const ipt = await chooseIptables(spec.iptables, kernel);
      if (ipt.note) log(ipt.note);
      spec = { ...spec, iptables: ipt.backend };
      makeIptablesBin(paths(spec.stateDir).binDir, ipt.backend);
    } catch (e) {
      await downLab(spec).catch(() => undefined);
      throw e;
    }
    if (kernel === 'host' && !o.detach) {
      try {
        const sup = await Supervisor.start({ ...spec, kernel: 'host' }, log);
        return new Lab(spec, sup.state, sup);
      } catch (e) {
        const detail = labFailureReport(spec.stateDir);
        await downLab(spec).catch(() => undefined);
        throw new Error(`lab ${spec.stateDir} did not come up: ${e instanceof Error ? e.message : String(e)}${detail ? `\n${detail}` : ''}`, { cause: e });
      }
    }
    const P = paths(spec.stateDir);
    // The process whose exit ends the wait at once: the supervisor, or the UML kernel it runs in.
    let watched: { pid: number; start?: number; what: string } | undefined;
    try {
      if (kernel === 'uml') {
        const boot = await bootUml({ ...spec, kernel: 'host' }, [...selfCommand(), 'supervise', '--state-dir', spec.stateDir], REPO_ROOT);
        watched = { ...boot.kernel, what: 'the user-mode Linux kernel' };
      } else {
        writeFileSync(join(spec.stateDir, 'spec.json'), JSON.stringify({ ...spec, kernel: 'host' }, null, 2));
        const fd = openSync(P.supervisorLog, 'a');
        const [cmd, ...args] = selfCommand();
        const child = spawn(cmd as string, [...args, 'supervise', '--state-dir', spec.stateDir], { detached: true, stdio: ['ignore', fd, fd], cwd: REPO_ROOT });
        closeSync(fd);
        child.unref();
        if (child.pid) watched = { pid: child.pid, what: 'the supervisor' };
      }
      await waitFor(
        'the lab supervisor to come up',
        () => {
          if (existsSync(join(spec.stateDir, 'failed'))) throw new StopWaiting(readFileSync(join(spec.stateDir, 'failed'), 'utf8').trim());
          if (existsSync(P.state)) return true;
          if (watched && !alive(watched.pid, watched.start)) throw new StopWaiting(`${watched.what} exited before the lab was up`);
          return false;
        },
        kernel === 'uml' ? 300_000 : 180_000,
        200,
      );
    } catch (e) {
      const detail = labFailureReport(spec.stateDir);
      await downLab(spec).catch(() => undefined);
      throw new Error(`lab ${spec.stateDir} did not come up: ${e instanceof Error ? e.message : String(e)}${detail ? `\n${detail}` : ''}`);
    }
    return new Lab(spec, readState(spec.stateDir) as LabState);
  }

  static attach(o: { name?: string; stateDir?: string; prefix?: string } = {}): Lab {
    const loc = locate(o);
    const state = readState(loc.stateDir);
    if (!state) throw new Error(`no lab in ${loc.stateDir} (start one with 'kube-router lab up')`);
    return new Lab({ stateDir: state.stateDir, prefix: state.prefix }, state);
  }

  get kubeconfig(): string {
    return this.state.kubeconfig;
  }

  async status(): Promise<LabStatus> {
    const st = await control<LabStatus>(paths(this.loc.stateDir).control, 'GET', '/status');
    this.state = st.state;
    return st;
  }

  /** Each node agent's /healthz/json (via the supervisor, which can reach the node namespaces). */
  health(): Promise<Record<string, AgentHealth>> {
    return control<Record<string, AgentHealth>>(paths(this.loc.stateDir).control, 'GET', '/health');
  }

  async probeMany(from: string, targets: readonly ProbeTarget[], timeoutMs = 1000): Promise<boolean[]> {
    if (this.sup) return this.sup.probe(from, targets, timeoutMs);
    const r = await control<{ results: boolean[] }>(paths(this.loc.stateDir).control, 'POST', '/probe', { from, targets, timeoutMs });
    return r.results;
  }

  async probe(from: string, ip: string, port: number, proto: 'TCP' | 'UDP' = 'TCP', timeoutMs = 1000): Promise<boolean> {
    return (await this.probeMany(from, [{ ip, port, proto }], timeoutMs))[0] === true;
  }

  /** Every pod of `pods` to every pod's IP on one port/protocol: result[from][to]. */
  async matrix(pods: readonly string[], ips: Readonly<Record<string, string>>, port: number, proto: 'TCP' | 'UDP', timeoutMs = 1000): Promise<Record<string, Record<string, boolean>>> {
    const out: Record<string, Record<string, boolean>> = {};
    await Promise.all(
      pods.map(async (from) => {
        const res = await this.probeMany(from, pods.map((to) => ({ ip: ips[to] as string, port, proto })), timeoutMs);
        out[from] = Object.fromEntries(pods.map((to, i) => [to, res[i] === true]));
      }),
    );
    return out;
  }

  /** Waits until each pod runs in the lab with an IP; returns ns/name -> IP. */
  async waitForPods(keys: readonly string[], timeoutMs = 60_000): Promise<Record<string, string>> {
    return waitFor(
      `pods ${keys.join(', ')} to run`,
      async () => {
        const pods = this.sup ? this.sup.pods : (await this.status()).state.pods;
        const ips: Record<string, string> = {};
        for (const k of keys) {
          const ip = pods[k]?.ip;
          if (!ip) return false;
          ips[k] = ip;
        }
        // Running in the lab is not enough: the API server must show it too (tests read it there).
        for (const k of keys) {
          const [ns, name] = k.split('/') as [string, string];
          const p = (await this.client.getOr(R.pods, ns, name)) as KObj | undefined;
          if (p?.['status']?.['podIP'] !== ips[k]) return false;
        }
        return ips;
      },
      timeoutMs,
      150,
    );
  }

  /** The network namespace of a node (name, "n1" or "1"), a pod ("ns/pod"), "tor" or "hub". */
  async resolve(target: string): Promise<string> {
    const st = this.sup ? { ...this.state, pods: this.sup.pods } : existsSync(paths(this.loc.stateDir).control) ? (await this.status()).state : this.state;
    return resolveTarget(st, target);
  }

  async exec(target: string, argv: readonly string[], input?: string): Promise<RunResult> {
    if (this.state.kernel === 'uml') {
      // The namespaces live in the UML kernel: the supervisor there runs the command.
      return control<RunResult>(paths(this.loc.stateDir).control, 'POST', '/exec', { target, argv, input }, 130_000);
    }
    const ns = await this.resolve(target);
    // As on a node: `iptables` there is the lab's backend.
    const env = { ...process.env, PATH: labPath(this.state.iptables?.binDir), XTABLES_LOCKFILE: paths(this.loc.stateDir).xtablesLock(ns) };
    return run('ip', ['netns', 'exec', ns, ...argv], { ...(input !== undefined ? { input } : {}), env, timeoutMs: 120_000 });
  }

  async down(): Promise<DownReport> {
    this.client.close();
    if (this.sup) await this.sup.stop();
    return downLab(this.loc);
  }
}

