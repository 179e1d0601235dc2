// The real agent binary in a node netns, fed by the project's API server (reached through a unix socket
// and socat inside the netns): SIGKILL it while traffic flows, then start it again. An allowed
// long-lived TCP connection keeps flowing throughout, a denied client never gets a SYN through, and the
// restarted agent reconciles in place without a single write to the kernel's rules.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigText, startApiServer, type ApiServerHandle } from '../../apiserver/index.js';
import { request } from '../../testing/apiserver.js';
import { execInNetns } from '../../dataplane/exec.js';
import { kernelSets, Netns } from '../../testing/firewall/netns.js';
import { buildTopology, connectLoop, tcpProbe, type Topology } from '../../testing/firewall/topology.js';
import { holds } from '../../testing/wait.js';

const root = resolve(fileURLToPath(import.meta.url), '../../../..');
const netns = new Netns('krt-np2-ag-');
const dir = mkdtempSync(join(tmpdir(), 'krt-np2-ag-'));
const sock = join(dir, 'api.sock');
const kubeconfig = join(dir, 'kubeconfig');
const children: ChildProcess[] = [];
const IP = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();

const PODS = [
  { name: 'client', ip: '10.244.1.2', labels: { app: 'client' } },
  { name: 'server', ip: '10.244.1.3', labels: { app: 'server' } },
  { name: 'intruder', ip: '10.244.1.4', labels: { app: 'other' } },
];

let api: ApiServerHandle;
let topo: Topology;
let nodeNs: string;

async function kube(method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await request('http://localhost', method, path, body, {}, sock);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function createPod(p: (typeof PODS)[number]): Promise<void> {
  const meta = { name: p.name, namespace: 'x', labels: p.labels };
  const created = (await kube('POST', '/api/v1/namespaces/x/pods', { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'none' }] } })) as Record<string, unknown>;
  const status = { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }], hostIP: '192.168.50.1' };
  await kube('PUT', `/api/v1/namespaces/x/pods/${p.name}/status`, { ...created, status });
}

interface Agent {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
}

function startAgent(extra: readonly string[] = [], env?: NodeJS.ProcessEnv): Agent {
  const args = ['netns', 'exec', nodeNs, process.execPath, '--import', 'tsx', 'src/cli/main.ts', '--kubeconfig', kubeconfig, '--hostname-override', 'node1', '--run-router=false', '--run-service-proxy=false', '--v=1', '--health-port=0', '--metrics-port=0', ...extra];
  // With an env of its own, `ip` by path: spawn looks commands up in the child's PATH.
  const child = spawn(env ? IP : 'ip', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  children.push(child);
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  const take = (b: Buffer): void => {
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ msg: l });
      }
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, lines, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

const firewallSynced = (a: Agent): boolean => a.lines.some((l) => /^firewall (synced|in sync)$/.test(String(l.msg)));

/** The kernel's rules with their nft handles: any rewrite, even to identical text, changes a handle. */
async function ruleHandles(): Promise<string> {
  const text = (await execInNetns(nodeNs)('nft', ['-a', 'list', 'table', 'ip', 'filter'])).stdout;
  return text.replace(/counter packets \d+ bytes \d+/g, 'counter');
}

describe('the agent process: SIGKILL and restart under traffic', () => {
  beforeAll(async () => {
    api = await startApiServer({ host: '127.0.0.1', port: 0, unixSocket: sock, log: () => undefined });
    topo = await buildTopology(netns, 'a', [{ name: 'node1', index: 1, pods: PODS.map((p) => ({ ns: 'x', name: p.name, ip: p.ip })) }]);
    nodeNs = topo.nodeNs.get('node1')!;
    const bridge = spawn('ip', ['netns', 'exec', nodeNs, 'socat', 'TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr', `UNIX-CONNECT:${sock}`], { stdio: 'ignore' });
    children.push(bridge);
    writeFileSync(kubeconfig, kubeconfigText('http://127.0.0.1:6443'));
    await kube('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node1' },
      spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] },
    });
    await kube('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } });
    for (const p of PODS) await createPod(p);
    await kube('POST', '/apis/networking.k8s.io/v1/namespaces/x/networkpolicies', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'server-from-client', namespace: 'x' },
      spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] },
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    topo?.stop();
    await netns.destroyAll();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an allowed connection flowing and a denied client out; the restart writes nothing', async () => {
    const first = startAgent();
    const server = topo.podNs.get('x/server')!;
    const client = topo.podNs.get('x/client')!;
    const intruder = topo.podNs.get('x/intruder')!;
    const programmed = async (): Promise<boolean> => {
      const set = (await kernelSets(execInNetns(nodeNs))).get('kube-router-local-pods') ?? [];
      return PODS.every((p) => set.includes(p.ip));
    };
    expect(await holds(programmed, 60_000), JSON.stringify(first.lines.slice(-5))).toBe(true);
    expect(await holds(() => tcpProbe(client, '10.244.1.3', 82))).toBe(true);
    expect(await tcpProbe(intruder, '10.244.1.3', 80)).toBe(false);
    expect(first.lines.some((l) => String(l.msg).includes('failing closed'))).toBe(true);

    // Witness in the server pod: SYNs from the intruder that ever arrive.
    await execInNetns(server)('iptables', ['-A', 'INPUT', '-s', '10.244.1.4', '-p', 'tcp', '--syn', '-m', 'comment', '--comment', 'syn-witness']);
    const echo = spawn('ip', ['netns', 'exec', client, 'socat', '-', 'TCP4:10.244.1.3:82'], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(echo);
    let echoed = '';
    echo.stdout!.on('data', (b: Buffer) => (echoed += b.toString()));
    let sent = 0;
    const ticker = setInterval(() => echo.stdin!.write(`tick${sent++}\n`), 50);
    const loops = [connectLoop(intruder, '10.244.1.3', 80), connectLoop(intruder, '10.244.1.3', 82)];
    try {
      expect(await holds(async () => echoed.includes('tick3'), 5000)).toBe(true);
      const handlesBefore = await ruleHandles();
      const setsBefore = await kernelSets(execInNetns(nodeNs));

      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = sent;
      await new Promise((r) => setTimeout(r, 1000));
      // Down: the kernel keeps enforcing; the connection keeps flowing.
      expect(await holds(async () => echoed.includes(`tick${atKill + 5}`), 5000)).toBe(true);

      const second = startAgent();
      expect(await holds(async () => firewallSynced(second), 60_000), JSON.stringify(second.lines.slice(-5))).toBe(true);
      const atSync = sent;
      expect(await holds(async () => echoed.includes(`tick${atSync + 5}`), 5000)).toBe(true);
      // In place: the restarted agent found the kernel as it wants it and wrote nothing.
      const syncLine = second.lines.find((l) => /^firewall (synced|in sync)$/.test(String(l.msg)))!;
      expect(syncLine.msg).toBe('firewall in sync');
      expect(await ruleHandles()).toBe(handlesBefore);
      expect(await kernelSets(execInNetns(nodeNs))).toEqual(setsBefore);
      second.child.kill('SIGTERM');
      await second.exited;
    } finally {
      clearInterval(ticker);
      const results = await Promise.all(loops.map((l) => l.stop()));
      for (const r of results) expect(r.connected).toBe(0);
      echo.kill('SIGKILL');
    }
    const witness = (await execInNetns(server)('iptables', ['-L', 'INPUT', '-v', '-x', '-n'])).stdout.split('\n').find((l) => l.includes('syn-witness'));
    expect(witness?.trim().split(/\s+/)[0]).toBe('0');
    // Every line sent came back, in order, across the kill and the restart.
    const got = echoed.split('\n').filter(Boolean);
    expect(got.length).toBeGreaterThan(20);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => `tick${i}`));
  }, 180_000);

  it('--use-nftables-for-netpol without libnftables or nft: exits 1 at start with KRT_FIREWALL_NFT_UNAVAILABLE, the rules left as they were', async () => {
    const ruleset = async () => (await execInNetns(nodeNs)('nft', ['-a', 'list', 'ruleset'])).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');
    const before = await ruleset();
    // Not an addon (dlopen refuses it), and a PATH with no nft in it (`ip` and node are named by path).
    const fake = join(dir, 'nf_ctx.node');
    writeFileSync(fake, 'not an ELF file');
    const empty = mkdtempSync(join(dir, 'path-'));
    const agent = startAgent(['--use-nftables-for-netpol'], { ...process.env, KRT_NF_ADDON: fake, PATH: empty });
    const code = await Promise.race([agent.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 60_000))]);
    if (code === 'running') agent.child.kill('SIGKILL');
    expect(code, JSON.stringify(agent.lines.slice(-5))).toBe(1);
    const fatal = agent.lines.find((l) => l.msg === 'kube-router-ts failed');
    expect(fatal?.code).toBe('KRT_FIREWALL_NFT_UNAVAILABLE');
    expect(String(fatal?.err)).toMatch(/libnftables: netfilter addon unavailable .*; nft: /);
    expect(await ruleset()).toBe(before);
  }, 90_000);
});
