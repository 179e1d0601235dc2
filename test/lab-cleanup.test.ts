// `kube-router --cleanup-config` undoes exactly what the agent did on a node: a lab node (network
// namespace) with foreign state in it (an iptables chain and jump, an ipset, a route, a policy rule, a
// link) is snapshotted, the real agent runs there as deploy/all.yaml's pod spec starts it (router +
// firewall, its args and env) until both synced, stops
// (SIGTERM leaves everything in place, as on an upgrade), then --cleanup-config runs; the node must be as
// before: iptables-save, ipset list, ip route/link/rule (IPv4 and IPv6) and the CNI directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from '../src/lab/index.js';
import { downLab } from '../src/lab/down.js';
import type { NodeState } from '../src/lab/state.js';
import { agentPodSpec, labAgentEnv, labAgentFlags } from '../src/lab/pod-spec.js';

const NAME = 'ltcl';
const STATE = `/run/kube-router-lab-${NAME}`;
const PREFIX = `krlab-${NAME}-`;
const AGENT = join(__dirname, '..', 'dist', 'cli', 'main.js');

type Snapshot = Record<'iptables' | 'ip6tables' | 'ipset' | 'routes' | 'links' | 'rules' | 'cni', string>;

describe.skipIf(!existsSync(AGENT))('--cleanup-config on a lab node', () => {
  let lab: Lab;
  let node: NodeState;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  const sh = async (cmd: string): Promise<string> => {
    const r = await lab.exec(node.name, ['sh', '-c', cmd]);
    if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
    return r.stdout;
  };

  /**
   * The node's state, normalized only where the kernel or the tools differ without anyone changing
   * anything: packet counters, save-time comments, and a table that holds nothing but empty built-in
   * chains at policy ACCEPT (nft creates the table on first use by anyone, even a `-S`; it filters nothing).
   */
  async function snapshot(): Promise<Snapshot> {
    const tables = (text: string) =>
      text
        .split(/^(?=\*)/m)
        .map((t) => t.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')))
        .filter((t) => t.some((l) => !/^(\*\w+|:[A-Z]+ ACCEPT|COMMIT)$/.test(l)))
        .map((t) => t.join('\n'))
        .join('\n');
    const cniDir = dirname(node.cniConf);
    return {
      iptables: tables(await sh('iptables-save')),
      ip6tables: tables(await sh('ip6tables-save')),
      ipset: await sh('ipset list'),
      // Kernel-made IPv6 link-local routes come and go with DAD on their own; every other route counts.
      routes: (await sh('ip -4 route show table all; ip -6 route show table all'))
        .split('\n')
        .filter((l) => !/fe80::/.test(l))
        .join('\n'),
      links: await sh("ip -o link | sed -E 's/^[0-9]+: //; s/ state [A-Z]+.*//'"),
      rules: await sh('ip -4 rule; ip -6 rule'),
      cni: existsSync(cniDir)
        ? readdirSync(cniDir)
            .sort()
            .map((f) => `${f}: ${readFileSync(join(cniDir, f), 'utf8')}`)
            .join('\n')
        : '',
    };
  }

  beforeAll(async () => {
    await downLab({ stateDir: STATE, prefix: PREFIX });
    lab = await Lab.up({ name: NAME, nodes: 1, agents: false });
    node = (await lab.status()).state.nodes[0]!;
    // A node before install: the lab wrote a conflist because no router runs; the init container would
    // install one, so start without it and let the router write its own.
    rmSync(node.cniConf, { force: true });
    await sh(
      [
        'iptables -N FOREIGN-FWD',
        'iptables -A FOREIGN-FWD -s 10.99.0.0/16 -j ACCEPT',
        'iptables -A FORWARD -j FOREIGN-FWD',
        'iptables -t nat -A POSTROUTING -s 10.99.0.0/16 -j MASQUERADE',
        'ipset create foreign-set hash:ip',
        'ipset add foreign-set 10.99.0.1',
        'ip route add blackhole 10.99.0.0/24',
        'ip rule add from 10.99.0.0/16 lookup 99 pref 500',
        'ip link add foreign-br type bridge',
      ].join(' && '),
    );
  }, 180_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) agent.kill('SIGKILL');
    if (lab) await lab.down();
    await downLab({ stateDir: STATE, prefix: PREFIX });
  });

  it('leaves the node as it was, foreign state included', async () => {
    const before = await snapshot();
    expect(before.iptables).toContain('-A FORWARD -j FOREIGN-FWD');

    const pod = agentPodSpec(readFileSync(join(__dirname, '..', 'deploy', 'all.yaml'), 'utf8'));
    const env = labAgentEnv(pod, node);
    agent = spawn('ip', ['netns', 'exec', node.netns, process.execPath, AGENT, `--kubeconfig=${node.kubeconfig}`, ...labAgentFlags(pod)], {
      env: { ...process.env, PATH: `${STATE}/bin:${process.env.PATH}`, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout!.on('data', (d: Buffer) => (agentLog += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (agentLog += d.toString()));
    // Until router and firewall have each completed a sync.
    const synced = async () => {
      const r = await lab.exec(node.name, [process.execPath, '-e', 'fetch("http://127.0.0.1:20244/healthz/json").then(r=>r.text()).then(t=>process.stdout.write(t)).catch(()=>{})']);
      try {
        const h = JSON.parse(r.stdout) as { controllers: { name: string; lastSync: string | null }[] };
        return ['router', 'firewall'].every((n) => h.controllers.some((c) => c.name === n && c.lastSync));
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 60_000;
    while (!(await synced())) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not sync:\n${agentLog.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const during = await snapshot();
    // The agent did change the node (otherwise this test would prove nothing).
    expect(during.iptables).toContain('KUBE-ROUTER-FORWARD');
    expect(during.links).toContain('kube-bridge');
    expect(during.cni).toContain('kube-bridge');
    expect(during.iptables).toContain('-A FORWARD -j FOREIGN-FWD');

    agent.kill('SIGTERM');
    await new Promise((r) => (agent!.exitCode !== null ? r(null) : agent!.once('exit', r)));
    expect(await snapshot()).toEqual(during); // stopping leaves the dataplane alone

    const cleanup = await lab.exec(node.name, ['env', `KUBE_ROUTER_CNI_CONF_FILE=${env.KUBE_ROUTER_CNI_CONF_FILE}`, process.execPath, AGENT, '--cleanup-config']);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    const after = await snapshot();
    for (const k of Object.keys(before) as (keyof Snapshot)[]) expect(after[k], k).toBe(before[k]);
  }, 120_000);
});
