// The lab's command line as a user runs it: `up` leaves a detached supervisor behind, the other
// subcommands find the lab from its state dir, and `down` removes every namespace, process and file.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { downLab } from '../src/lab/down.js';
import { netnsList } from '../src/lab/sh.js';

const pexec = promisify(execFile);
const NAME = 'lt3';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'src', 'lab', 'main.ts');

async function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await pexec(process.execPath, ['--import', 'tsx', MAIN, '--name', NAME, ...args], { cwd: ROOT, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('kube-router lab CLI', () => {
  afterAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it('up, status, kubeconfig, exec, conformance, down', async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    const up = await lab('up', '--nodes', '2', '--tor', '--no-agents');
    expect(up.stderr + up.stdout).toMatch(/lab up in/);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('lab-node-2  172.20.0.12  pod CIDR 10.244.1.0/24');

    const st = await lab('status', '--json');
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.state.nodes.map((n: { name: string; ip: string; podCIDR: string }) => [n.name, n.ip, n.podCIDR])).toEqual([
      ['lab-node-1', '172.20.0.11', '10.244.0.0/24'],
      ['lab-node-2', '172.20.0.12', '10.244.1.0/24'],
    ]);
    expect(status.state.tor.netns).toBe(`${PREFIX}tor`);
    expect(status.state.segments[0].cidr).toBe('172.20.0.0/24');

    const kc = await lab('kubeconfig');
    expect(kc.stdout.trim()).toBe(`${STATE}/kubeconfig`);
    const nodes = await pexec('kubectl', ['--kubeconfig', kc.stdout.trim(), 'get', 'nodes', '-o', 'name']);
    expect(nodes.stdout.trim().split('\n')).toEqual(['node/lab-node-1', 'node/lab-node-2']);

    // The tor router sits on the underlay: it reaches both nodes.
    const ping = await lab('exec', 'tor', '--', 'ping', '-c1', '-W2', '172.20.0.12');
    expect(ping.code).toBe(0);
    const addr = await lab('exec', 'lab-node-1', '--', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
    expect(addr.stdout).toContain('172.20.0.11/24');
    const failing = await lab('exec', 'lab-node-1', '--', 'false');
    expect(failing.code).toBe(1);
    // A slow command's output and status arrive whole: the CLI waits for the command before exiting.
    const slow = await lab('exec', 'lab-node-1', '--', 'sh', '-c', 'sleep 0.5; echo late --kubeconfig; exit 3');
    expect(slow.stdout).toBe('late --kubeconfig\n');
    expect(slow.code).toBe(3);

    const conf = await lab('conformance', join(ROOT, 'test', 'conformance', 'lab'), '--nodes', 'lab-node-1', '--timeout', '20');
    expect(conf.stdout).toMatch(/^PASS derived-no-policies-everything-reachable/m);
    expect(conf.stdout.trim().split('\n').pop()).toBe('2 passed, 0 failed');
    expect(conf.code).toBe(0);

    const down = await lab('down');
    expect(down.code).toBe(0);
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
    expect(existsSync(STATE)).toBe(false);
    const ps = await pexec('ps', ['-eo', 'args']);
    expect(ps.stdout.split('\n').filter((l) => l.includes(STATE))).toEqual([]);
    // down again is a no-op
    expect((await lab('down')).code).toBe(0);
  }, 180_000);

  it('down cleans up after a supervisor that was killed', async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    expect((await lab('up', '--nodes', '2', '--no-agents')).code).toBe(0);
    const kc = `${STATE}/kubeconfig`;
    await pexec('kubectl', ['--kubeconfig', kc, 'run', 'p1', '--image=x', '--port=80']);
    for (let i = 0; i < 100 && !(await netnsList()).some((n) => n.startsWith(`${PREFIX}p-`)); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await netnsList()).some((n) => n.startsWith(`${PREFIX}p-`))).toBe(true);
    const state = JSON.parse(readFileSync(`${STATE}/state.json`, 'utf8'));
    process.kill(state.supervisor.pid, 'SIGKILL');
    const down = await lab('down');
    expect(down.code).toBe(0);
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
    expect(existsSync(STATE)).toBe(false);
    const ps = await pexec('ps', ['-eo', 'stat,args']);
    expect(ps.stdout.split('\n').filter((l) => !l.startsWith('Z') && l.includes(STATE))).toEqual([]);
  }, 120_000);

  it('a lab that cannot come up says which step failed and shows the logs, and leaves nothing', async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    // The API server's port is taken: the detached supervisor fails after building part of the lab.
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const up = await lab('up', '--nodes', '2', '--no-agents', '--api-port', String(port));
      expect(up.code).not.toBe(0);
      expect(up.stderr).toContain(`lab ${STATE} did not come up`);
      expect(up.stderr).toMatch(/EADDRINUSE/);
      expect(up.stderr).toMatch(/^last step: .*nodes use iptables/m);
      expect(up.stderr).toMatch(/^--- supervisor log \(last \d+ lines\) ---$/m);
    } finally {
      blocker.close();
    }
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
    expect(existsSync(STATE)).toBe(false);
  }, 120_000);

  it('routes between two underlay segments through the router namespace', async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    const up = await lab('up', '--nodes', '3', '--segments', '2', '--no-agents', '--iptables', 'legacy');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/\(host kernel, iptables-legacy\)/);
    expect((await lab('status')).stdout).toMatch(/^iptables: legacy on every node/m);
    expect((await lab('exec', 'n2', '--', 'iptables', '-V')).stdout).toContain('legacy');
    expect((await lab('up', '--iptables', 'bogus')).stderr).toMatch(/Allowed choices are nft, legacy/);
    const status = JSON.parse((await lab('status', '--json')).stdout);
    expect(status.state.nodes.map((n: { ip: string }) => n.ip)).toEqual(['172.20.0.11', '172.20.1.12', '172.20.0.13']);
    const route = await lab('exec', 'n1', '--', 'ip', 'route', 'get', '172.20.1.12');
    expect(route.stdout).toContain('via 172.20.0.1');
    expect((await lab('exec', 'n1', '--', 'ping', '-c1', '-W2', '172.20.1.12')).code).toBe(0);
    expect((await lab('down')).code).toBe(0);
    expect((await netnsList()).filter((n) => n.startsWith(PREFIX))).toEqual([]);
  }, 120_000);
});
