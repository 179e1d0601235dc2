// The lab supervisor owns everything that runs: the API server, the unix-socket link to it, the node
// namespaces' forwarders, the lab kubelet and controllers, and one agent per node. It restarts nothing
// silently: an agent that exits is logged and shown by `status`. `down` (down.ts) removes what it made.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentFeatures, neededKernelFeatures } from './agent-flags.js';
import { kubeconfigYaml, startProjectApiServer, unixToTcp, type ApiServerHandle } from './apiserver-link.js';
import { nthSubnet as subnet } from '../model/normalize/cidr.js';
import { conflistReady, readConflist, templateConflist } from './cni.js';
import { paths, type LabSpec } from './config.js';
import { LabControllers } from './controllers.js';
import { ControlServer } from './control.js';
import { chooseKernel } from './kernel.js';
import { KubeClient, R } from './kube.js';
import { LabKubelet } from './kubelet.js';
import { podAgentScript } from './pod-process.js';
import { agentPodSpec, labAgentEnv } from './pod-spec.js';
import { alive, killTree, procStartTime, sleep } from './sh.js';
import { agentHealth, type AgentHealth } from './health.js';
import { journal, writeState, type LabState, type NodeState } from './state.js';
import { createUnderlay, planUnderlay, underlayNamespaces } from './underlay.js';
import { chooseIptables, labPath, makeIptablesBin, type IptablesBackend } from './iptables.js';

interface Proc {
  readonly what: string;
  readonly pid: number;
  readonly start?: number;
  exit?: string;
}

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The agent the lab runs on its nodes: the one-file bundle of the build (scripts/bundle.mjs: the same
 * CLI, but one file to load, which inside user-mode Linux saves ~5 s per agent start), else dist/cli/main.js.
 */
export function defaultAgentCommand(): string[] {
  const bundle = join(REPO_ROOT, 'dist', 'cli', 'kube-router.mjs');
  return [process.execPath, existsSync(bundle) ? bundle : join(REPO_ROOT, 'dist', 'cli', 'main.js')];
}

/** Prepares an empty state dir; refuses one that holds another lab. */
export function prepareStateDir(stateDir: string): void {
  if (existsSync(paths(stateDir).state) || existsSync(paths(stateDir).journal)) {
    throw new Error(`a lab already exists in ${stateDir} (run 'kube-router lab down' first)`);
  }
  const fresh = !existsSync(stateDir) || readdirSync(stateDir).length === 0;
  mkdirSync(stateDir, { recursive: true });
  journal(stateDir, { t: 'created', stateDir: fresh });
}

export class Supervisor {
  private api?: ApiServerHandle;
  private apiLink?: Server;
  private kubelet?: LabKubelet;
  private controllers?: LabControllers;
  private control?: ControlServer;
  private readonly procs: Proc[] = [];
  private stateTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private routerRuns = false;
  /** PATH of everything run in node namespaces: the lab's iptables bin dir first. */
  private nodePath = process.env['PATH'] ?? '';
  client!: KubeClient;
  state!: LabState;

  private constructor(
    readonly spec: LabSpec,
    private readonly log: (msg: string) => void,
  ) {}

  /** Builds the whole lab; on failure stops what it started (down removes the rest). */
  static async start(spec: LabSpec, log: (msg: string) => void): Promise<Supervisor> {
    const s = new Supervisor(spec, log);
    try {
      await s.build();
    } catch (e) {
      await s.stop().catch(() => undefined);
      throw e;
    }
    return s;
  }

  private spawnIn(netns: string, argv: readonly string[], logFile: string, what: string, env: NodeJS.ProcessEnv = {}): Proc {
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    // Own process group: killTree reaches the whole agent (and anything it forks).
    const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', fd, fd], detached: true, env: { ...process.env, ...this.envIn(netns), ...env } });
    closeSync(fd);
    const pid = child.pid ?? -1;
    const p: Proc = { what, pid, ...(pid > 0 ? { start: procStartTime(pid) } : {}) } as Proc;
    journal(this.spec.stateDir, { t: 'pid', pid, ...(p.start !== undefined ? { start: p.start } : {}), what, ...(this.spec.inside ? { inUml: true } : {}) });
    child.on('exit', (code, sig) => {
      p.exit = sig ? `signal ${sig}` : `code ${code}`;
      if (!this.stopping) this.log(`${what} exited (${p.exit}); not restarted (see ${logFile})`);
    });
    this.procs.push(p);
    return p;
  }

  private async build(): Promise<void> {
    const { spec, log } = this;
    const P = paths(spec.stateDir);
    // Sockets and IPAM state live in a kernel-local dir inside UML (hostfs has neither sockets nor flock).
    const Q = paths(spec.inside?.runDir ?? spec.stateDir);
    const features = agentFeatures(spec.agentFlags);
    if (!spec.inside && spec.kernel !== 'host') {
      const kernel = await chooseKernel(spec.kernel, spec.agents ? neededKernelFeatures(features, spec.segments) : [], spec.prefix);
      if (kernel.note) log(kernel.note);
      if (kernel.kernel === 'uml') throw new Error('internal: a user-mode Linux lab is booted by Lab.up, not by a host supervisor');
    }
    // The nodes' iptables backend: Lab.up resolved it and made the bin dir; a bare Supervisor.start
    // (or an older spec) gets the host's.
    let backend: IptablesBackend;
    if (spec.iptables === 'nft' || spec.iptables === 'legacy') backend = spec.iptables;
    else {
      const ipt = await chooseIptables(spec.iptables, spec.inside ? 'uml' : 'host');
      if (ipt.note) log(ipt.note);
      backend = ipt.backend;
    }
    if (!existsSync(join(P.binDir, 'iptables'))) makeIptablesBin(P.binDir, backend);
    this.nodePath = labPath(P.binDir);
    log(`nodes use iptables-${backend} (${P.binDir} first in their PATH)`);
    // No token: kubectl sends no bearer token over plain http, and the server listens on 127.0.0.1 only.
    const token: string | undefined = undefined;
    const listen = spec.inside?.apiListen ?? { host: '127.0.0.1', port: spec.apiPort };
    this.api = await startProjectApiServer({ host: listen.host, port: listen.port, serviceCIDR: spec.serviceCIDR, log: (m) => log(`apiserver: ${m}`) });
    const localUrl = `http://127.0.0.1:${this.api.port}`;
    const apiUrl = spec.inside?.publicApiUrl ?? localUrl;
    mkdirSync(dirname(Q.apiSock), { recursive: true });
    this.apiLink = await unixToTcp(Q.apiSock, '127.0.0.1', this.api.port);
    writeFileSync(P.kubeconfig, kubeconfigYaml(apiUrl, token), { mode: 0o600 });
    this.client = new KubeClient({ url: localUrl });
    log(`API server at ${apiUrl}; kubeconfig ${P.kubeconfig}`);

    const u = planUnderlay({ prefix: spec.prefix, nodes: spec.nodes, segments: spec.segments, tor: spec.tor });
    for (const n of underlayNamespaces(u)) journal(spec.stateDir, { t: 'netns', name: n, ...(spec.inside ? { inUml: true } : {}) });
    await createUnderlay(u);
    log(`underlay up: ${u.nodes.length} node namespaces`);

    const nodes: NodeState[] = u.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      ip: n.ip,
      segment: n.segment,
      podCIDR: subnet(spec.clusterCIDR, spec.nodeCIDRMaskSize, n.index) as string,
      kubeconfig: P.nodeKubeconfig(n.name),
      log: P.nodeLog(n.name),
      cniConf: P.nodeCniConf(n.name),
      healthPort: features.healthPort,
      healthSock: Q.nodeHealthSock(n.name),
      ipamDir: Q.nodeIpam(n.name),
    }));
    for (const n of nodes) {
      mkdirSync(dirname(n.cniConf), { recursive: true });
      mkdirSync(n.ipamDir, { recursive: true });
      mkdirSync(dirname(n.healthSock), { recursive: true });
      writeFileSync(n.kubeconfig, kubeconfigYaml(`http://127.0.0.1:${spec.nodeApiPort}`, token), { mode: 0o600 });
      // As kube-router's install-cni init container: ship the conflist; the router fills in the pod CIDR.
      // Without a router (or without agents) nobody would, so the lab does, and says so.
      const fallback = !spec.agents || !features.router;
      if (fallback) log(`${n.name}: no router controller runs, so the lab writes the pod CIDR into ${n.cniConf} itself`);
      writeFileSync(n.cniConf, JSON.stringify(templateConflist(fallback ? n.podCIDR : undefined), null, 2) + '\n');
      this.spawnIn(n.netns, ['socat', `TCP-LISTEN:${spec.nodeApiPort},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${Q.apiSock}`], join(P.nodeDir(n.name), 'forward.log'), `${n.name} api forwarder`);
      if (n.healthPort > 0 && spec.agents) {
        this.spawnIn(n.netns, ['socat', `UNIX-LISTEN:${n.healthSock},fork,unlink-early`, `TCP:127.0.0.1:${n.healthPort}`], join(P.nodeDir(n.name), 'forward.log'), `${n.name} health forwarder`);
      }
    }
    await this.registerNodes(nodes);

    this.controllers = new LabControllers({ client: this.client, clusterCIDR: spec.clusterCIDR, nodeCIDRMaskSize: spec.nodeCIDRMaskSize, labNodes: nodes.map((n) => n.name), log });
    this.controllers.start();
    this.kubelet = new LabKubelet({
      client: this.client,
      prefix: spec.prefix,
      stateDir: spec.stateDir,
      nodes,
      podScript: podAgentScript(spec.stateDir),
      log,
      onChange: () => this.saveStateSoon(),
      inUml: Boolean(spec.inside),
      path: this.nodePath,
      xtablesLock: (netns) => this.envIn(netns).XTABLES_LOCKFILE,
    });
    this.kubelet.start();
    await Promise.all([this.controllers.whenSynced(), this.kubelet.whenSynced()]);
    log('lab kubelet and controllers synced');

    if (spec.agents) {
      // From a manifest: its args (already at the head of agentFlags) and its env; the node name comes from
      // the downward API there, as on a real node, not from --hostname-override.
      const podSpec = spec.agentManifest ? agentPodSpec(readFileSync(spec.agentManifest, 'utf8')) : undefined;
      for (const n of nodes) {
        this.spawnIn(
          n.netns,
          podSpec
            ? [...spec.agentCommand, `--kubeconfig=${n.kubeconfig}`, ...spec.agentFlags]
            : [...spec.agentCommand, `--kubeconfig=${n.kubeconfig}`, `--hostname-override=${n.name}`, ...spec.agentFlags],
          n.log,
          `agent ${n.name}`,
          podSpec ? labAgentEnv(podSpec, n) : { KUBE_ROUTER_CNI_CONF_FILE: n.cniConf, NODE_NAME: n.name },
        );
      }
    }
    this.routerRuns = spec.agents && features.router;
    if (spec.agents) {
      const t0 = Date.now();
      log(`started ${nodes.length} agents`);
      if (await this.waitForAgents(nodes)) log(`all agents healthy, ${((Date.now() - t0) / 1000).toFixed(1)} s after their start`);
    }
    this.state = {
      version: 1,
      prefix: spec.prefix,
      stateDir: spec.stateDir,
      createdAt: new Date().toISOString(),
      kernel: spec.inside ? 'uml' : 'host',
      iptables: { backend, binDir: P.binDir },
      supervisor: { pid: process.pid, ...(procStartTime(process.pid) !== undefined ? { start: procStartTime(process.pid) as number } : {}) },
      apiserver: { url: apiUrl, port: Number(new URL(apiUrl).port), unixSocket: Q.apiSock },
      kubeconfig: P.kubeconfig,
      hub: u.hub,
      segments: u.segments,
      ...(u.tor ? { tor: u.tor } : {}),
      nodes,
      pods: {},
      agentFlags: spec.agentFlags,
      agents: spec.agents,
      clusterCIDR: spec.clusterCIDR,
      serviceCIDR: spec.serviceCIDR,
    };
    this.control = new ControlServer(this);
    await this.control.listen(Q.control);
    if (spec.inside) await this.control.listenTcp(spec.inside.controlListen.host, spec.inside.controlListen.port);
    writeState(this.state);
  }

  /** `up` means usable: wait (bounded) until every agent answers healthy; say so, and why, when one does not. */
  private async waitForAgents(nodes: readonly NodeState[], timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Map(nodes.filter((n) => n.healthPort > 0 || this.routerRuns).map((n) => [n.name, 'not checked yet']));
    while (pending.size > 0 && Date.now() < deadline) {
      for (const n of nodes) {
        if (!pending.has(n.name)) continue;
        const proc = this.procs.find((p) => p.what === `agent ${n.name}`);
        if (proc?.exit) {
          pending.delete(n.name);
          this.log(`agent ${n.name} exited during start-up (${proc.exit}); see ${n.log}`);
          continue;
        }
        // Every controller has completed a sync (not merely inside its start-up grace), and (with a router)
        // the node's CNI config carries its pod CIDR: pods can start and the node's rules are in place.
        const why = this.routerRuns && !conflistReady(readConflist(n.cniConf)) ? `no pod CIDR in ${n.cniConf} yet` : n.healthPort > 0 ? notSyncedYet(await agentHealth(n.healthSock, 5000)) : undefined;
        if (why) pending.set(n.name, why);
        else pending.delete(n.name);
      }
      if (pending.size > 0) await sleep(200);
    }
    if (pending.size > 0) {
      this.log(`agents not healthy after ${timeoutMs / 1000} s: ${[...pending].map(([n, why]) => `${n} (${why})`).join(', ')}; see their logs`);
    }
    return pending.size === 0;
  }

  private async registerNodes(nodes: readonly NodeState[]): Promise<void> {
    for (const ns of ['default', 'kube-system']) {
      await this.client.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    }
    const now = new Date().toISOString();
    for (const n of nodes) {
      await this.client.createOrReplace(R.nodes, undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
        spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
        status: {
          addresses: [
            { type: 'InternalIP', address: n.ip },
            { type: 'Hostname', address: n.name },
          ],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'lab node is ready', lastHeartbeatTime: now, lastTransitionTime: now }],
          nodeInfo: { kubeletVersion: 'v1.32.0-lab', osImage: 'kube-router lab', kernelVersion: '', containerRuntimeVersion: 'lab://1', operatingSystem: 'linux', architecture: 'amd64' },
        },
      });
    }
  }

  private saveStateSoon(): void {
    if (this.stateTimer || !this.state) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      if (this.stopping || !this.kubelet) return;
      this.state = { ...this.state, pods: this.kubelet.pods() };
      writeState(this.state);
    }, 100);
  }

  /** Called once a control-API /stop has stopped everything (the detached supervisor exits then). */
  onStopped(fn: () => void): void {
    if (this.control) this.control.onStopped = fn;
  }

  /** The environment of anything run in a lab namespace: the lab's iptables first, the namespace's own xtables lock. */
  envIn(netns: string): { PATH: string; XTABLES_LOCKFILE: string } {
    const lock = paths(this.spec.inside?.runDir ?? this.spec.stateDir).xtablesLock(netns);
    mkdirSync(dirname(lock), { recursive: true });
    return { PATH: this.nodePath, XTABLES_LOCKFILE: lock };
  }
  get pods() {
    return this.kubelet?.pods() ?? {};
  }
  probe(from: string, targets: Parameters<LabKubelet['probe']>[1], timeoutMs: number): Promise<boolean[]> {
    if (!this.kubelet) throw new Error('lab is not up');
    return this.kubelet.probe(from, targets, timeoutMs);
  }
  processes(): { what: string; pid: number; running: boolean; exit?: string }[] {
    return this.procs.map((p) => ({ what: p.what, pid: p.pid, running: alive(p.pid, p.start), ...(p.exit ? { exit: p.exit } : {}) }));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.stateTimer) clearTimeout(this.stateTimer);
    await this.control?.close();
    await this.kubelet?.stop();
    await this.controllers?.stop();
    await Promise.all(this.procs.map((p) => killTree(p.pid, p.start, 3000)));
    this.client?.close();
    await new Promise<void>((r) => (this.apiLink ? this.apiLink.close(() => r()) : r()));
    await this.api?.close();
  }
}

/** Why an agent is not ready yet: unhealthy, or a controller that has not synced once (placeholders do not register). */
function notSyncedYet(h: AgentHealth): string | undefined {
  if (!h.ok) return h.error ?? `/healthz answers ${h.status ?? '?'}`;
  const waiting = (h.controllers ?? []).filter((c) => c.beats === 0).map((c) => c.name);
  return waiting.length ? `no first sync yet: ${waiting.join(', ')}` : undefined;
}
