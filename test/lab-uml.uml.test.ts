// The lab inside a user-mode Linux kernel (for hosts without IPVS, dummy or ipip): the same pods,
// probes, exec and kubectl as on the host kernel, a kernel that has IPVS and dummy links, and a `down`
// that leaves nothing on the host.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { R } from '../src/lab/kube.js';
import { netnsList } from '../src/lab/sh.js';

const pexec = promisify(execFile);
const NAME = 'lt4';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const haveUml = existsSync('/usr/bin/linux.uml');

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { nodeName: 'lab-node-1', containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'UDP' }] }] },
});

describe.skipIf(!haveUml)('lab in user-mode Linux', () => {
  let lab: Lab;

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({ name: NAME, nodes: 2, agents: false, kernel: 'uml' });
  }, 300_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it('runs pods, probes and exec inside the UML kernel', async () => {
    expect(lab.state.kernel).toBe('uml');
    // The node namespaces live in the UML kernel, not on the host.
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([`${PREFIX}uml`]);
    await lab.client.create(R.pods, 'default', pod('u1'));
    await lab.client.create(R.pods, 'default', pod('u2'));
    const ips = await lab.waitForPods(['default/u1', 'default/u2'], 180_000);
    expect(await lab.probe('default/u1', ips['default/u2']!, 80, 'TCP', 3000)).toBe(true);
    expect(await lab.probe('default/u2', ips['default/u1']!, 80, 'UDP', 3000)).toBe(true);
    const route = await lab.exec('default/u1', ['ip', '-4', 'route', 'show', 'default']);
    expect(route.stdout).toContain('via 10.244.0.1');
  }, 240_000);

  it('gives the nodes IPVS and dummy links', async () => {
    const ipvs = await lab.exec('lab-node-1', ['ipvsadm', '-A', '-t', '10.96.0.10:80', '-s', 'rr']);
    expect(ipvs.code).toBe(0);
    const list = await lab.exec('lab-node-1', ['ipvsadm', '-Ln']);
    expect(list.stdout).toContain('10.96.0.10:80 rr');
    expect((await lab.exec('lab-node-1', ['ip', 'link', 'add', 'kube-dummy-if', 'type', 'dummy'])).code).toBe(0);
  }, 60_000);

  it('points the nodes at iptables-legacy (no nf_tables in UML)', async () => {
    expect(lab.state.iptables?.backend).toBe('legacy');
    const v = await lab.exec('lab-node-1', ['iptables', '-V']);
    expect(v.stdout).toContain('legacy');
    expect((await lab.exec('lab-node-1', ['iptables', '-A', 'FORWARD', '-s', '192.0.2.1', '-j', 'DROP'])).code).toBe(0);
    expect((await lab.exec('lab-node-1', ['iptables-save'])).stdout).toContain('-A FORWARD -s 192.0.2.1/32 -j DROP');
  }, 60_000);

  it('answers kubectl on the host', async () => {
    const r = await pexec('kubectl', ['--kubeconfig', lab.kubeconfig, 'get', 'nodes', '-o', 'name']);
    expect(r.stdout.trim().split('\n')).toEqual(['node/lab-node-1', 'node/lab-node-2']);
  }, 60_000);

  it('down stops the kernel and leaves nothing on the host', async () => {
    await lab.down();
    lab = undefined as unknown as Lab;
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
    expect(existsSync(STATE)).toBe(false);
    const ps = await pexec('ps', ['-eo', 'stat,args']);
    const ours = ps.stdout.split('\n').filter((l) => !l.startsWith('Z') && (l.includes(STATE) || l.includes(PREFIX)));
    expect(ours).toEqual([]);
  }, 60_000);
});
