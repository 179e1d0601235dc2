// End-to-end test of the lab machinery on the host kernel: node namespaces on an underlay, pods through
// the real CNI plugins, same-node traffic, kubectl against the lab, and a clean `down`.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { cidrContainsIP } from '../src/model/normalize/cidr.js';
import { downLab } from '../src/lab/down.js';
import { netnsList } from '../src/lab/sh.js';

const exec = promisify(execFile);
const NAME = 'lt1';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;

const pod = (name: string, node?: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: 'srv' } },
  spec: {
    ...(node ? { nodeName: node } : {}),
    containers: [{ name: 'c', image: 'lab/serve', ports: [{ containerPort: 8080, protocol: 'TCP' }, { containerPort: 5353, protocol: 'UDP' }] }],
  },
});

describe('lab (host kernel, no agents)', () => {
  let lab: Lab;
  let ips: Record<string, string>;

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX }); // a leftover from a killed run
    lab = await Lab.up({ name: NAME, nodes: 2, agents: false });
    for (const p of [pod('a1', 'lab-node-1'), pod('a2', 'lab-node-1'), pod('b1', 'lab-node-2'), pod('u1'), pod('u2')]) {
      await lab.client.create({ group: '', version: 'v1', plural: 'pods', namespaced: true }, 'default', p);
    }
    ips = await lab.waitForPods(['default/a1', 'default/a2', 'default/b1', 'default/u1', 'default/u2'], 60_000);
  });

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it('creates one namespace per node on the underlay, with the node IPs', async () => {
    const names = await netnsList();
    expect(names).toContain(`${PREFIX}hub`);
    expect(names).toContain(`${PREFIX}n1`);
    expect(names).toContain(`${PREFIX}n2`);
    const r = await lab.exec('lab-node-1', ['ping', '-c1', '-W2', '172.20.0.12']);
    expect(r.code).toBe(0);
  });

  it("resolves iptables on the nodes to the lab's backend (the host's by default), with ICMP limits lifted", async () => {
    const st = (await lab.status()).state;
    const host = (await exec('iptables', ['-V'])).stdout.includes('nf_tables') ? 'nft' : 'legacy';
    expect(st.iptables?.backend).toBe(host);
    const r = await lab.exec('lab-node-2', ['sh', '-c', 'command -v iptables; iptables -V; sysctl -n net.ipv4.icmp_ratelimit']);
    expect(r.stdout.split('\n')).toEqual([`${STATE}/bin/iptables`, expect.stringContaining(host === 'nft' ? 'nf_tables' : 'legacy'), '0', '']);
  });

  it("gives pods addresses from their node's pod CIDR, with kube-bridge as gateway", async () => {
    const st = (await lab.status()).state;
    for (const [key, p] of Object.entries(st.pods)) {
      const node = st.nodes.find((n) => n.name === p.node)!;
      expect(cidrContainsIP(node.podCIDR, ips[key]!)).toBe(true);
      const route = await lab.exec(key, ['ip', '-4', 'route', 'show', 'default']);
      const bridge = await lab.exec(p.node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'kube-bridge']);
      const gw = /default via (\S+)/.exec(route.stdout)?.[1];
      expect(gw).toBeDefined();
      expect(bridge.stdout).toContain(`inet ${gw}/`);
      expect(cidrContainsIP(node.podCIDR, gw!)).toBe(true);
    }
  });

  it('spreads unbound pods over the nodes', async () => {
    const st = (await lab.status()).state;
    const nodes = new Set([st.pods['default/u1']!.node, st.pods['default/u2']!.node]);
    // a1, a2 are pinned to node 1 and b1 to node 2, so the scheduler puts the free pods on node 2 first.
    expect(st.pods['default/u1']!.node === 'lab-node-2' || st.pods['default/u2']!.node === 'lab-node-2').toBe(true);
    expect(nodes.size).toBeGreaterThan(0);
  });

  it('carries same-node pod-to-pod TCP and UDP, and refuses a port nobody serves', async () => {
    expect(await lab.probe('default/a1', ips['default/a2']!, 8080, 'TCP')).toBe(true);
    expect(await lab.probe('default/a2', ips['default/a1']!, 5353, 'UDP')).toBe(true);
    expect(await lab.probe('default/a1', ips['default/a2']!, 8081, 'TCP')).toBe(false);
    expect(await lab.probe('default/a1', ips['default/a2']!, 5354, 'UDP', 500)).toBe(false);
    // The served answer is the pod's name, like agnhost serve-hostname.
    const r = await lab.exec('default/a1', ['nc', '-w2', ips['default/a2']!, '8080'], '');
    expect(r.stdout.trim()).toBe('a2');
  });

  it('reports pod status to the API server (phase, podIP, hostIP)', async () => {
    const st = (await lab.status()).state;
    const p = await lab.client.get({ group: '', version: 'v1', plural: 'pods', namespaced: true }, 'default', 'a1');
    expect(p['status']['phase']).toBe('Running');
    expect(p['status']['podIP']).toBe(ips['default/a1']);
    expect(p['status']['hostIP']).toBe(st.nodes[0]!.ip);
  });

  it('works with kubectl from the host: get nodes, apply a pod, endpoint slices', async () => {
    const env = { ...process.env, KUBECONFIG: lab.kubeconfig };
    const nodes = await exec('kubectl', ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{"\\n"}{end}'], { env });
    expect(nodes.stdout).toContain('lab-node-1 10.244.0.0/24');
    expect(nodes.stdout).toContain('lab-node-2 10.244.1.0/24');
    const file = `${STATE}/k-pod.yaml`;
    writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: k1, labels: {app: srv}}\nspec:\n  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]\n');
    await exec('kubectl', ['apply', '-f', file], { env });
    const got = await lab.waitForPods(['default/k1']);
    expect(got['default/k1']).toMatch(/^10\.244\./);
    await exec('kubectl', ['create', 'service', 'clusterip', 'srv', '--tcp=80:8080'], { env });
    const slices = await exec('kubectl', ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=srv', '-o', 'jsonpath={.items[*].endpoints[*].addresses[0]}'], { env }).catch(() => ({ stdout: '' }));
    // `kubectl create service` selects app=srv: every pod above is an endpoint (retry: the controller is async).
    let addrs = slices.stdout;
    for (let i = 0; i < 30 && addrs.split(' ').filter(Boolean).length < 6; i++) {
      await new Promise((r) => setTimeout(r, 200));
      addrs = (await exec('kubectl', ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=srv', '-o', 'jsonpath={.items[*].endpoints[*].addresses[0]}'], { env })).stdout;
    }
    expect(addrs.split(' ').sort()).toEqual([...Object.values(ips), got['default/k1']!].sort());
  });

  it('runs hostNetwork pods in the node namespace, with the node IP', async () => {
    const hp = pod('h1', 'lab-node-2');
    (hp.spec as Record<string, unknown>)['hostNetwork'] = true;
    hp.spec.containers[0]!.ports = [{ containerPort: 9090, protocol: 'TCP' }];
    await lab.client.create({ group: '', version: 'v1', plural: 'pods', namespaced: true }, 'default', hp);
    const got = await lab.waitForPods(['default/h1']);
    expect(got['default/h1']).toBe('172.20.0.12');
    expect(await lab.probe('default/a1', '172.20.0.12', 9090, 'TCP')).toBe(false); // without a router, node 2 has no route back to node 1's pods
    const r = await lab.exec('lab-node-1', ['nc', '-w2', '172.20.0.12', '9090'], '');
    expect(r.stdout.trim()).toBe('h1');
  });

  it('allocates a pod CIDR to a node registered without one', async () => {
    await lab.client.create({ group: '', version: 'v1', plural: 'nodes', namespaced: false }, undefined, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'extra' },
      spec: {},
    });
    let cidr: string | undefined;
    for (let i = 0; i < 50 && !cidr; i++) {
      cidr = (await lab.client.get({ group: '', version: 'v1', plural: 'nodes', namespaced: false }, undefined, 'extra'))['spec']?.['podCIDR'];
      if (!cidr) await new Promise((r) => setTimeout(r, 100));
    }
    expect(cidr).toBe('10.244.2.0/24');
    await lab.client.delete({ group: '', version: 'v1', plural: 'nodes', namespaced: false }, undefined, 'extra');
  });

  it('removes a deleted pod: its namespace and CNI state', async () => {
    const st = (await lab.status()).state;
    const netns = st.pods['default/u2']!.netns;
    await lab.client.delete({ group: '', version: 'v1', plural: 'pods', namespaced: true }, 'default', 'u2');
    for (let i = 0; i < 50 && (await netnsList()).includes(netns); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await netnsList()).not.toContain(netns);
    expect(existsSync(`${STATE}/pods/${netns}.cni.json`)).toBe(false);
  });

  it('down leaves nothing behind', async () => {
    await lab.down();
    lab = undefined as unknown as Lab;
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
    expect(existsSync(STATE)).toBe(false);
    const ps = await exec('ps', ['-eo', 'args']);
    expect(ps.stdout.split('\n').filter((l) => l.includes(STATE) || l.includes(PREFIX))).toEqual([]);
  });
});
