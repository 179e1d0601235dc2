// The service proxy on real IPVS, and the lab machinery in user-mode Linux: 2 nodes with all three
// controllers (the default) inside a UML kernel, because this host kernel has no IPVS. The cases are in
// test/uml-cases/proxy.ts; the core ones always run, the rest with KRT_UML_FULL=1 (`./scripts/test.sh --full`).
// The lab's own UML checks close the file: legacy iptables inside, kubectl from the host, a clean down.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import { netnsList } from '../src/lab/sh.js';
import { PROXY_AGENT_FLAGS, proxyCases } from './uml-cases/proxy.js';

const pexec = promisify(execFile);
const NAME = 'lp1';
const PREFIX = `krt-px-${NAME}-`;
const STATE = `/run/kube-router-lab-${NAME}`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');
const haveUml = existsSync('/usr/bin/linux.uml');

describe.skipIf(!haveUml || !existsSync(AGENT))('service proxy in a user-mode Linux lab (2 nodes, all controllers)', () => {
  let lab: Lab | undefined;
  const getLab = (): Lab => {
    if (!lab) throw new Error('the UML lab is not up (see the beforeAll error)');
    return lab;
  };

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    // Measured here: up ~60-100 s on 2 cores (UML syscalls ~100x); the budget leaves room for a busy machine.
    lab = await Lab.up({ name: NAME, prefix: PREFIX, nodes: 2, kernel: 'uml', agentFlags: PROXY_AGENT_FLAGS });
  }, 300_000);

  afterAll(async () => {
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  }, 120_000);

  proxyCases(getLab, { n1: '172.20.0.11', n2: '172.20.0.12', full: process.env['KRT_UML_FULL'] === '1' });

  describe('the lab in user-mode Linux', () => {
    it('points the nodes at iptables-legacy (no nf_tables in UML) and answers kubectl on the host', async () => {
      const l = getLab();
      expect(l.state.kernel).toBe('uml');
      expect(l.state.iptables?.backend).toBe('legacy');
      expect((await l.exec('lab-node-1', ['iptables', '-V'])).stdout).toContain('legacy');
      // The node namespaces live in the UML kernel, not on the host.
      expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([`${PREFIX}uml`]);
      const r = await pexec('kubectl', ['--kubeconfig', l.kubeconfig, 'get', 'nodes', '-o', 'name']);
      expect(r.stdout.trim().split('\n')).toEqual(['node/lab-node-1', 'node/lab-node-2']);
    }, 60_000);

    it('down stops the kernel and leaves nothing on the host', async () => {
      await getLab().down();
      lab = undefined;
      expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
      expect(existsSync(STATE)).toBe(false);
      const ps = await pexec('ps', ['-eo', 'stat,args']);
      const ours = ps.stdout.split('\n').filter((l) => !l.startsWith('Z') && (l.includes(STATE) || l.includes(PREFIX)));
      expect(ours).toEqual([]);
    }, 60_000);
  });
});
