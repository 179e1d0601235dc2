// The lab's kubelet: for each Pod bound to a lab node it does what kubelet + a container runtime do for
// networking (pod netns, CNI ADD with the node's conflist, the "containers" serving the declared ports,
// status back to the API server) and undoes it on delete. One reconcile per pod key at a time; a
// bounded number of sandboxes are built at once so 150 pods do not swamp two cores.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths, podNetns } from './config.js';
import { cniAdd, cniDel, conflistReady, readConflist, type Conflist } from './cni.js';
import { Informer, KubeClient, keyOf, R, type KObj } from './kube.js';
import { PodProcess, type ProbeTarget } from './pod-process.js';
import { must, run } from './sh.js';
import { journal, type NodeState, type PodState } from './state.js';

interface Sandbox {
  readonly uid: string;
  readonly key: string;
  readonly node: NodeState;
  readonly netns?: string;
  readonly ip: string;
  readonly hostNetwork: boolean;
  readonly proc: PodProcess;
  readonly conf?: Conflist;
  readonly cniResult?: KObj;
}

export interface KubeletOptions {
  readonly client: KubeClient;
  readonly prefix: string;
  readonly stateDir: string;
  readonly nodes: readonly NodeState[];
  readonly podScript: string;
  readonly log: (msg: string) => void;
  /** Called whenever the set of running pods changes (state.json keeps it for `lab exec`). */
  readonly onChange?: () => void;
  readonly concurrency?: number;
  readonly inUml?: boolean;
  /** PATH for the CNI plugins (the lab's iptables backend first: portmap calls `iptables`). */
  readonly path?: string;
  /** The xtables lock file of a node namespace (config.ts xtablesLock). */
  readonly xtablesLock?: (netns: string) => string;
}

export class LabKubelet {
  private readonly informer: Informer;
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly retry = new Map<string, NodeJS.Timeout>();
  private readonly nodesByName: Map<string, NodeState>;
  private active = 0;
  private readonly queue: (() => void)[] = [];
  private stopped = false;
  private readonly warned = new Set<string>();

  constructor(private readonly o: KubeletOptions) {
    this.nodesByName = new Map(o.nodes.map((n) => [n.name, n]));
    this.informer = new Informer(o.client, R.pods, (obj) => this.kick(keyOf(obj)), (m) => o.log(`kubelet: ${m}`));
  }

  start(): void {
    this.informer.start();
  }
  whenSynced(): Promise<void> {
    return this.informer.whenSynced();
  }

  /** Pods currently running, for exec and probes. */
  pods(): Record<string, PodState> {
    const out: Record<string, PodState> = {};
    for (const [k, s] of this.sandboxes) {
      out[k] = { netns: s.netns ?? s.node.netns, node: s.node.name, ip: s.ip, hostNetwork: s.hostNetwork };
    }
    return out;
  }

  async probe(from: string, targets: readonly ProbeTarget[], timeoutMs: number): Promise<boolean[]> {
    const s = this.sandboxes.get(from);
    if (!s) throw new Error(`pod ${from} is not running in the lab`);
    return s.proc.probe(targets, timeoutMs);
  }

  private kick(key: string): void {
    if (this.stopped) return;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev
      .then(() => this.reconcile(key))
      .catch((e) => {
        // As a kubelet does: report, then try again (a CNI failure may be a config not written yet).
        this.o.log(`kubelet: pod ${key}: ${String(e)}; retrying in 2 s`);
        this.later(key, 2000);
      })
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
    this.chains.set(key, next);
  }

  private later(key: string, ms: number): void {
    if (this.retry.has(key) || this.stopped) return;
    this.retry.set(key, setTimeout(() => {
      this.retry.delete(key);
      this.kick(key);
    }, ms));
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    const limit = this.o.concurrency ?? 4;
    if (this.active >= limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  private async reconcile(key: string): Promise<void> {
    if (this.stopped) return;
    const pod = this.informer.cache.get(key);
    const running = this.sandboxes.get(key);
    const uid = String(pod?.['metadata']?.['uid'] ?? '');
    if (running && (!pod || running.uid !== uid)) await this.teardown(running);
    if (!pod) return;
    const meta = pod['metadata'] ?? {};
    const spec = pod['spec'] ?? {};
    if (meta['deletionTimestamp']) {
      const s = this.sandboxes.get(key);
      if (s) await this.teardown(s);
      // As kubelet does once the containers are gone: finish the graceful delete.
      await this.o.client.delete(R.pods, meta['namespace'], meta['name'], 0).catch(() => undefined);
      return;
    }
    const nodeName = spec['nodeName'];
    if (!nodeName) return; // the lab scheduler binds it; the update brings us back
    const node = this.nodesByName.get(String(nodeName));
    if (!node) return; // not a lab node: someone else's pod
    const phase = pod['status']?.['phase'];
    if (!running || running.uid !== uid) {
      if (phase === 'Succeeded' || phase === 'Failed') return;
      const s = await this.slot(() => this.createSandbox(key, pod, node));
      if (!s) return this.later(key, 300);
      this.sandboxes.set(key, s);
      this.o.onChange?.();
    }
    const s = this.sandboxes.get(key);
    if (s && (phase !== 'Running' || pod['status']?.['podIP'] !== s.ip || pod['status']?.['hostIP'] !== node.ip)) {
      await this.reportRunning(pod, s);
    }
  }

  private podPorts(pod: KObj): { port: number; proto: string; hostPort?: number }[] {
    const out: { port: number; proto: string; hostPort?: number }[] = [];
    const seen = new Set<string>();
    for (const c of (pod['spec']?.['containers'] ?? []) as KObj[]) {
      for (const p of (c['ports'] ?? []) as KObj[]) {
        const port = Number(p['containerPort']);
        const proto = String(p['protocol'] ?? 'TCP').toUpperCase();
        if (!Number.isInteger(port) || port <= 0 || port > 65535 || proto === 'SCTP') continue;
        if (seen.has(`${port}/${proto}`)) continue;
        seen.add(`${port}/${proto}`);
        out.push({ port, proto, ...(p['hostPort'] ? { hostPort: Number(p['hostPort']) } : {}) });
      }
    }
    return out;
  }

  private async createSandbox(key: string, pod: KObj, node: NodeState): Promise<Sandbox | undefined> {
    const meta = pod['metadata'];
    const uid = String(meta['uid'] ?? meta['name']);
    const hostNetwork = pod['spec']?.['hostNetwork'] === true;
    const ports = this.podPorts(pod);
    const name = String(meta['name']);
    if (hostNetwork) {
      const proc = new PodProcess({ script: this.o.podScript, netns: node.netns, name, ports, log: paths(this.o.stateDir).podLog(`${node.netns}-${name}`) });
      const errs = await proc.ready;
      if (errs.length) this.o.log(`kubelet: pod ${key} (hostNetwork): ${errs.join('; ')}`);
      return { uid, key, node, ip: node.ip, hostNetwork, proc };
    }
    const conf = readConflist(node.cniConf);
    if (!conflistReady(conf)) {
      // A real kubelet reports NetworkNotReady until the CNI config exists; the router writes it.
      if (!this.warned.has(node.name)) {
        this.warned.add(node.name);
        this.o.log(`kubelet: ${node.name}: waiting for the agent to write ${node.cniConf}`);
      }
      return undefined;
    }
    const netns = podNetns(this.o.prefix, uid);
    const call = {
      nodeNetns: node.netns,
      podNetns: netns,
      containerId: uid,
      podNamespace: String(meta['namespace']),
      podName: name,
      ifName: 'eth0',
      ipamDir: node.ipamDir,
      ...(this.o.path ? { path: this.o.path } : {}),
      ...(this.o.xtablesLock ? { xtablesLock: this.o.xtablesLock(node.netns) } : {}),
      portMappings: ports.filter((p) => p.hostPort).map((p) => ({ hostPort: p.hostPort as number, containerPort: p.port, protocol: p.proto })),
    };
    journal(this.o.stateDir, { t: 'netns', name: netns, ...(this.o.inUml ? { inUml: true } : {}) });
    await run('ip', ['netns', 'delete', netns]); // a leftover from an earlier run with the same uid
    await must('ip', ['netns', 'add', netns]);
    let added: Awaited<ReturnType<typeof cniAdd>> | undefined;
    const t0 = Date.now();
    try {
      added = await cniAdd(conf as Conflist, call);
      const tCni = Date.now() - t0;
      const cniFile = join(this.o.stateDir, 'pods', `${netns}.cni.json`);
      mkdirSync(join(this.o.stateDir, 'pods'), { recursive: true });
      writeFileSync(cniFile, JSON.stringify({ conf, result: added.result, call }));
      const proc = new PodProcess({ script: this.o.podScript, netns, name, ports, log: paths(this.o.stateDir).podLog(netns) });
      const errs = await proc.ready;
      if (errs.length) this.o.log(`kubelet: pod ${key}: ${errs.join('; ')}`);
      this.o.log(`kubelet: pod ${key} on ${node.name}: ${added.ip} in ${Date.now() - t0} ms (CNI ${tCni} ms)`);
      return { uid, key, node, netns, ip: added.ip, hostNetwork, proc, conf: conf as Conflist, cniResult: added.result };
    } catch (e) {
      this.o.log(`kubelet: pod ${key}: sandbox failed: ${String(e)}`);
      if (added) await cniDel(conf as Conflist, call, added.result);
      await run('ip', ['netns', 'delete', netns]);
      throw e;
    }
  }

  private async reportRunning(pod: KObj, s: Sandbox): Promise<void> {
    const meta = pod['metadata'];
    const now = new Date().toISOString();
    const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now, lastProbeTime: null });
    const containers = ((pod['spec']?.['containers'] ?? []) as KObj[]).map((c) => ({
      name: c['name'],
      image: c['image'] ?? '',
      imageID: '',
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    }));
    await this.o.client.modify(R.pods, meta['namespace'], meta['name'], (cur) => {
      if (cur['metadata']?.['uid'] !== meta['uid'] || cur['metadata']?.['deletionTimestamp']) return false;
      cur['status'] = {
        ...(cur['status'] ?? {}),
        phase: 'Running',
        podIP: s.ip,
        podIPs: [{ ip: s.ip }],
        hostIP: s.node.ip,
        hostIPs: [{ ip: s.node.ip }],
        startTime: cur['status']?.['startTime'] ?? now,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(cond),
        containerStatuses: containers,
      };
      return true;
    }, 'status');
  }

  private async teardown(s: Sandbox): Promise<void> {
    if (this.sandboxes.get(s.key) === s) this.sandboxes.delete(s.key);
    await s.proc.stop();
    if (s.netns) {
      if (s.conf) {
        const errs = await cniDel(s.conf, {
          nodeNetns: s.node.netns,
          podNetns: s.netns,
          containerId: s.uid,
          podNamespace: s.key.split('/')[0] ?? '',
          podName: s.key.split('/')[1] ?? '',
          ifName: 'eth0',
          ipamDir: s.node.ipamDir,
          ...(this.o.path ? { path: this.o.path } : {}),
          ...(this.o.xtablesLock ? { xtablesLock: this.o.xtablesLock(s.node.netns) } : {}),
          portMappings: [],
        }, s.cniResult);
        if (errs.length) this.o.log(`kubelet: pod ${s.key}: CNI DEL: ${errs.join('; ')}`);
      }
      await run('ip', ['netns', 'delete', s.netns]);
      const cniFile = join(this.o.stateDir, 'pods', `${s.netns}.cni.json`);
      if (existsSync(cniFile)) rmSync(cniFile, { force: true });
        journal(this.o.stateDir, { t: 'netns-gone', name: s.netns });
    }
    this.o.onChange?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.informer.stop();
    for (const t of this.retry.values()) clearTimeout(t);
    await Promise.allSettled([...this.chains.values()]);
    // Pods are not torn down one by one here: `down` deletes their namespaces wholesale, which is faster.
    await Promise.all([...this.sandboxes.values()].map((s) => s.proc.stop()));
  }
}
