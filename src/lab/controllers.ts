// The controller-manager part of the lab: a scheduler that spreads unbound pods evenly over lab nodes,
// node pod-CIDR allocation (kube-controller-manager --allocate-node-cidrs) and EndpointSlices for
// Services with selectors (ready/serving/terminating from pod state).
import { createHash } from 'node:crypto';
import { canonicalCIDR, firstFreeSubnet } from '../model/normalize/cidr.js';
import { matchesMap } from '../model/normalize/selector.js';
import { Informer, KubeClient, KubeError, keyOf, R, type KObj } from './kube.js';

export const MANAGED_BY = 'lab-controller.kube-router.io';

export interface ControllersOptions {
  readonly client: KubeClient;
  readonly clusterCIDR: string;
  readonly nodeCIDRMaskSize: number;
  /** Nodes the scheduler may use. */
  readonly labNodes: readonly string[];
  readonly log: (msg: string) => void;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  matchesMap(selector, labels ?? {});

function fingerprint(slice: KObj): string {
  const eps = ((slice['endpoints'] ?? []) as KObj[]).map((e) => [
    ((e['addresses'] ?? []) as string[]).join(','),
    Boolean(e['conditions']?.['ready']),
    Boolean(e['conditions']?.['serving']),
    Boolean(e['conditions']?.['terminating']),
    e['nodeName'] ?? '',
    e['targetRef']?.['name'] ?? '',
  ]);
  const ports = ((slice['ports'] ?? []) as KObj[]).map((p) => [p['name'] ?? '', Number(p['port']), p['protocol'] ?? 'TCP']);
  return JSON.stringify([eps.sort(), ports]);
}

export class LabControllers {
  private readonly pods: Informer;
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly nodes: Informer;
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly binding = new Map<string, string>();
  private stopped = false;

  constructor(private readonly o: ControllersOptions) {
    const log = (m: string) => o.log(`controllers: ${m}`);
    this.pods = new Informer(o.client, R.pods, (p, deleted) => this.onPod(p, deleted), log);
    this.services = new Informer(o.client, R.services, (s) => this.mark(keyOf(s)), log);
    this.slices = new Informer(o.client, R.endpointslices, (s) => {
      const svc = s['metadata']?.['labels']?.['kubernetes.io/service-name'];
      if (svc && s['metadata']?.['labels']?.['endpointslice.kubernetes.io/managed-by'] === MANAGED_BY) this.mark(`${s['metadata']['namespace']}/${svc}`);
    }, log);
    this.nodes = new Informer(o.client, R.nodes, (n, deleted) => !deleted && void this.allocateCIDR(n), log);
  }

  start(): void {
    for (const i of [this.nodes, this.services, this.slices, this.pods]) i.start();
  }
  async whenSynced(): Promise<void> {
    await Promise.all([this.nodes, this.services, this.slices, this.pods].map((i) => i.whenSynced()));
  }
  async stop(): Promise<void> {
    this.stopped = true;
    for (const i of [this.nodes, this.services, this.slices, this.pods]) i.stop();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flushing.catch(() => undefined);
  }

  // ---- node CIDR allocation ----
  private async allocateCIDR(n: KObj): Promise<void> {
    if (n['spec']?.['podCIDR'] || this.stopped) return;
    const used = new Set<string>();
    for (const other of this.nodes.cache.values()) {
      for (const c of [other['spec']?.['podCIDR'], ...((other['spec']?.['podCIDRs'] ?? []) as string[])]) {
        // Someone else's odd value is just not "used" by our range.
        const canonical = canonicalCIDR(c);
        if (canonical) used.add(canonical);
      }
    }
    const cidr = firstFreeSubnet(this.o.clusterCIDR, this.o.nodeCIDRMaskSize, used);
    if (!cidr) return this.o.log(`controllers: no free pod CIDR left in ${this.o.clusterCIDR} for node ${n['metadata']['name']}`);
    await this.o.client
      .modify(R.nodes, undefined, n['metadata']['name'], (cur) => {
        if (cur['spec']?.['podCIDR']) return false;
        cur['spec'] = { ...(cur['spec'] ?? {}), podCIDR: cidr, podCIDRs: [cidr] };
        return true;
      })
      .then(() => this.o.log(`controllers: node ${n['metadata']['name']}: allocated pod CIDR ${cidr}`))
      .catch((e) => this.o.log(`controllers: node CIDR allocation failed: ${String(e)}`));
  }

  // ---- scheduler ----
  private onPod(p: KObj, deleted: boolean): void {
    const ns = p['metadata']?.['namespace'];
    // Any pod change can change any selecting service of its namespace.
    for (const s of this.services.cache.values()) if (s['metadata']?.['namespace'] === ns) this.mark(keyOf(s));
    if (!deleted && !p['spec']?.['nodeName'] && !p['metadata']?.['deletionTimestamp']) void this.schedule(p);
  }

  private pickNode(p: KObj): string | undefined {
    const sel = (p['spec']?.['nodeSelector'] ?? {}) as Record<string, string>;
    const count = new Map<string, number>(this.o.labNodes.map((n) => [n, 0]));
    for (const q of this.pods.cache.values()) {
      const n = q['spec']?.['nodeName'] ?? this.binding.get(keyOf(q));
      if (n && count.has(n) && !['Succeeded', 'Failed'].includes(q['status']?.['phase'])) count.set(n, (count.get(n) ?? 0) + 1);
    }
    let best: string | undefined;
    for (const n of this.o.labNodes) {
      const labels = (this.nodes.cache.get(n)?.['metadata']?.['labels'] ?? { 'kubernetes.io/hostname': n }) as Record<string, string>;
      if (!matches(sel, labels)) continue;
      if (best === undefined || (count.get(n) ?? 0) < (count.get(best) ?? 0)) best = n;
    }
    return best;
  }

  private async schedule(p: KObj): Promise<void> {
    const key = keyOf(p);
    const sn = p['spec']?.['schedulerName'];
    if (this.binding.has(key) || (sn && sn !== 'default-scheduler')) return;
    const node = this.pickNode(p);
    if (!node) return this.o.log(`controllers: pod ${key}: no lab node matches its nodeSelector`);
    this.binding.set(key, node);
    const { namespace, name, uid } = p['metadata'];
    try {
      const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } };
      const r = await this.o.client.request('POST', `/api/v1/namespaces/${namespace}/pods/${name}/binding`, binding);
      if (r.status >= 300) {
        // A server without pods/binding: set spec.nodeName directly.
        await this.o.client.modify(R.pods, namespace, name, (cur) => {
          if (cur['spec']?.['nodeName'] || cur['metadata']?.['uid'] !== uid) return false;
          cur['spec']['nodeName'] = node;
          return true;
        });
      }
    } catch (e) {
      this.o.log(`controllers: binding ${key} to ${node} failed: ${String(e)}`);
    } finally {
      setTimeout(() => this.binding.delete(key), 5000);
    }
  }

  // ---- EndpointSlices ----
  private mark(svcKey: string): void {
    if (this.stopped) return;
    this.dirty.add(svcKey);
    // Coalesce bursts (creating 50 pods should not write a slice 50 times).
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const keys = [...this.dirty];
      this.dirty.clear();
      this.flushing = this.flushing.then(() => this.syncAll(keys)).catch((e) => this.o.log(`controllers: ${String(e)}`));
    }, 30);
  }

  private async syncAll(keys: string[]): Promise<void> {
    for (const k of keys) {
      try {
        await this.syncService(k);
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) this.o.log(`controllers: endpointslices for ${k}: ${String(e)}`);
        this.mark(k); // conflicts and transient errors: try again
      }
    }
  }

  private desiredSlices(svc: KObj): KObj[] {
    const ns = svc['metadata']['namespace'];
    const name = svc['metadata']['name'];
    const selector = svc['spec']['selector'] as Record<string, string>;
    const groups = new Map<string, { ports: KObj[]; endpoints: KObj[] }>();
    for (const pod of this.pods.cache.values()) {
      if (pod['metadata']?.['namespace'] !== ns || !matches(selector, pod['metadata']?.['labels'])) continue;
      const ip = pod['status']?.['podIP'];
      const phase = pod['status']?.['phase'];
      if (!ip || phase === 'Succeeded' || phase === 'Failed') continue;
      const ports: KObj[] = [];
      for (const sp of (svc['spec']['ports'] ?? []) as KObj[]) {
        const proto = sp['protocol'] ?? 'TCP';
        let target = sp['targetPort'] ?? sp['port'];
        if (typeof target === 'string' && !/^\d+$/.test(target)) {
          const cp = ((pod['spec']?.['containers'] ?? []) as KObj[])
            .flatMap((c) => (c['ports'] ?? []) as KObj[])
            .find((p) => p['name'] === target && (p['protocol'] ?? 'TCP') === proto);
          if (!cp) continue; // this pod does not serve that named port
          target = cp['containerPort'];
        }
        ports.push({ name: sp['name'] ?? '', port: Number(target), protocol: proto });
      }
      const sig = JSON.stringify(ports);
      const g = groups.get(sig) ?? { ports, endpoints: [] };
      groups.set(sig, g);
      const terminating = Boolean(pod['metadata']?.['deletionTimestamp']);
      const podReady = ((pod['status']?.['conditions'] ?? []) as KObj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True');
      g.endpoints.push({
        addresses: [ip],
        conditions: { ready: podReady && !terminating, serving: podReady, terminating },
        ...(pod['spec']?.['nodeName'] ? { nodeName: pod['spec']['nodeName'] } : {}),
        targetRef: { kind: 'Pod', namespace: ns, name: pod['metadata']['name'], uid: pod['metadata']['uid'] },
      });
    }
    if (groups.size === 0) groups.set('[]', { ports: [], endpoints: [] });
    return [...groups.entries()].map(([sig, g]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-${createHash('sha256').update(sig).digest('hex').slice(0, 5)}`,
        namespace: ns,
        labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc['metadata']['uid'], controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      ports: g.ports,
      endpoints: g.endpoints.sort((a, b) => String(a['targetRef'].name).localeCompare(String(b['targetRef'].name))),
    }));
  }

  private async syncService(key: string): Promise<void> {
    const [ns, name] = key.split('/') as [string, string];
    const svc = this.services.cache.get(key);
    const existing = [...this.slices.cache.values()].filter(
      (s) =>
        s['metadata']?.['namespace'] === ns &&
        s['metadata']?.['labels']?.['kubernetes.io/service-name'] === name &&
        s['metadata']?.['labels']?.['endpointslice.kubernetes.io/managed-by'] === MANAGED_BY,
    );
    const sel = svc?.['spec']?.['selector'];
    const want = svc && sel && Object.keys(sel).length > 0 && svc['spec']?.['type'] !== 'ExternalName' ? this.desiredSlices(svc) : [];
    const wantNames = new Set(want.map((w) => w['metadata']['name']));
    for (const s of existing) if (!wantNames.has(s['metadata']['name'])) await this.o.client.delete(R.endpointslices, ns, s['metadata']['name']);
    for (const w of want) {
      const cur = existing.find((s) => s['metadata']['name'] === w['metadata']['name']);
      // Compare only what we set: server defaulting must not make every sync a write (and an event loop).
      if (cur && fingerprint(cur) === fingerprint(w)) continue;
      await this.o.client.createOrReplace(R.endpointslices, ns, w);
    }
  }
}
