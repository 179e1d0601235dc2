// `kube-router lab ...`: the command tree. Kept apart from index.ts (the library surface tests import) so
// that the detached supervisor, which runs `lab supervise` from this module's bundle, evaluates only what
// it runs: conformance (and through it explain, the agent and every controller) is loaded by its own
// subcommand. Inside user-mode Linux evaluating those modules cost the supervisor's start ~1 s of its CPU.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { locate, paths, type LabSpec } from './config.js';
import { downLab } from './down.js';
import { Lab } from './lab.js';
import { labPath } from './iptables.js';
import { readState } from './state.js';
import { Supervisor } from './supervisor.js';
import type { LabStatus } from './control.js';
import { formatStatus, formatUp } from './summary.js';

interface Where {
  name?: string;
  stateDir?: string;
  prefix?: string;
}

const where = (cmd: Command): Where => cmd.optsWithGlobals() as Where;
const fail = (e: unknown): never => {
  process.stderr.write(`kube-router lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
};

export function labCommand(): Command {
  const lab = new Command('lab')
    .description('a multi-node kube-router-ts cluster on this machine: nodes and pods as network namespaces')
    .option('--name <name>', 'lab name: derives the state dir (/run/kube-router-lab-NAME) and namespace prefix (krlab-NAME-)')
    .option('--state-dir <dir>', 'state directory (default /run/kube-router-lab, or $KUBE_ROUTER_LAB_DIR)')
    .option('--prefix <prefix>', 'network namespace name prefix (default krlab-)');

  lab
    .command('up')
    .description('start the API server, node namespaces, the lab kubelet/controllers and one agent per node')
    .option('--nodes <n>', 'number of nodes', (v) => Number(v), 3)
    .option('--segments <n>', 'underlay L2 segments (2+ adds a router between subnets)', (v) => Number(v), 1)
    .option('--tor', 'add a top-of-rack router namespace on the underlay (run BIRD/FRR there)', false)
    .addOption(new Option('--kernel <kernel>', 'kernel to run on').choices(['auto', 'host', 'uml']).default('auto'))
    .addOption(new Option('--iptables <backend>', "iptables backend of the nodes (default: the host's, as `iptables -V` reports)").choices(['nft', 'legacy']))
    .option('--no-agents', 'do not start agents (the lab machinery alone)')
    .option('--agent-manifest <file>', "start the agents from this manifest's DaemonSet pod spec (args, env), e.g. deploy/all.yaml")
    .option('--cluster-cidr <cidr>', 'pod CIDR range, one /24 per node', '10.244.0.0/16')
    .option('--api-port <port>', 'host port of the API server (0 = any free)', (v) => Number(v), 0)
    .option('--foreground', 'run the supervisor in this process until interrupted', false)
    .argument('[agent-flags...]', 'flags after -- go to every node agent')
    .action(async (agentFlags: string[], o: Record<string, unknown>, cmd: Command) => {
      const t0 = Date.now();
      const opts = {
        ...where(cmd),
        nodes: o['nodes'] as number,
        segments: o['segments'] as number,
        tor: Boolean(o['tor']),
        kernel: o['kernel'] as 'auto' | 'host' | 'uml',
        iptables: ((o['iptables'] as 'nft' | 'legacy' | undefined) ?? 'host') as 'nft' | 'legacy' | 'host',
        agents: o['agents'] !== false,
        clusterCIDR: o['clusterCidr'] as string,
        apiPort: o['apiPort'] as number,
        agentFlags,
        ...(o['agentManifest'] ? { agentManifest: o['agentManifest'] as string } : {}),
        detach: !o['foreground'],
        log: (m: string) => process.stderr.write(`lab: ${m}\n`),
      };
      if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 200) fail('--nodes must be 1..200');
      const l = await Lab.up(opts).catch(fail);
      const st: LabStatus = await l.status().catch(() => ({ state: l.state, processes: [], health: {} }));
      process.stdout.write(formatUp(st, Date.now() - t0, { program: cmd.parent?.name() ?? 'kube-router lab', where: where(cmd) }) + '\n');
      if (o['foreground']) {
        process.stdout.write('running in the foreground; Ctrl-C stops and removes the lab\n');
        const stop = () => void l.down().then(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }
    });

  lab
    .command('down')
    .description('stop the lab and remove every namespace, process and file it made')
    .action(async (_o: unknown, cmd: Command) => {
      const loc = locate(where(cmd));
      const st = readState(loc.stateDir);
      const r = await downLab(st ? { stateDir: st.stateDir, prefix: st.prefix } : loc, (m) => process.stderr.write(`lab: ${m}\n`)).catch(fail);
      process.stdout.write(`lab down in ${(r.ms / 1000).toFixed(1)} s: removed ${r.namespaces} namespaces, stopped ${r.processes} processes${r.removedStateDir ? `, removed ${loc.stateDir}` : ''}\n`);
    });

  lab
    .command('kubeconfig')
    .description("print the path of the lab's kubeconfig")
    .action((_o: unknown, cmd: Command) => {
      const loc = locate(where(cmd));
      const p = paths(loc.stateDir).kubeconfig;
      if (!existsSync(p)) fail(`no lab in ${loc.stateDir}`);
      process.stdout.write(p + '\n');
    });

  lab
    .command('status')
    .description('nodes (name, IP, pod CIDR, agent health) and the underlay')
    .option('--json', 'machine-readable')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const st = await Promise.resolve()
        .then(() => Lab.attach(where(cmd)).status())
        .catch(fail);
      if (o.json) process.stdout.write(JSON.stringify(st, null, 2) + '\n');
      else process.stdout.write(formatStatus(st) + '\n');
    });

  lab
    .command('exec')
    .description("run a command in a node's namespace, a pod's (ns/pod), or the tor router's")
    .argument('<target>', 'lab-node-N (or nN, N), ns/pod, tor, hub')
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (target: string, argv: string[], _o: unknown, cmd: Command) => {
      const l = await Promise.resolve()
        .then(() => Lab.attach(where(cmd)))
        .catch(fail);
      if (l.state.kernel === 'uml') {
        // Inside the UML kernel: the supervisor there runs it (output arrives when it ends).
        const r = await l.exec(target, argv, '').catch(fail);
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        process.exit(r.code);
      }
      const ns = await l.resolve(target).catch(fail);
      // As on a node: `iptables` there resolves to the lab's backend.
      const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit', env: { ...process.env, PATH: labPath(l.state.iptables?.binDir) } });
      // Wait for the command: the CLI exits when this action resolves, and must not cut its output short.
      const code = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      process.exit(code);
    });

  lab
    .command('probe')
    .description('connect from a pod (ns/pod) to IP:PORT; prints ok or blocked')
    .argument('<from>', 'ns/pod')
    .argument('<dest>', 'IP:PORT')
    .option('--udp', 'UDP instead of TCP')
    .option('--timeout <ms>', 'per-probe timeout', (v) => Number(v), 1000)
    .action(async (from: string, dest: string, o: { udp?: boolean; timeout: number }, cmd: Command) => {
      const [ip, port] = dest.split(':');
      const ok = await Lab.attach(where(cmd))
        .probe(from, ip as string, Number(port), o.udp ? 'UDP' : 'TCP', o.timeout)
        .catch(fail);
      process.stdout.write(`${ok ? 'ok' : 'blocked'}\n`);
      process.exit(ok ? 0 : 1);
    });

  lab
    .command('conformance')
    .description('run NetworkPolicy conformance cases (YAML, see shared/conformance/netpol/README.md) against the lab')
    .argument('<dir>', 'folder of case files (*.yaml)')
    .option('--json', 'machine-readable report')
    .option('--case <name...>', 'only these cases')
    .option('--timeout <s>', 'per-step time to wait for the expected matrix', (v) => Number(v), 60)
    .option('--probe-timeout <ms>', 'per-probe timeout', (v) => Number(v), 1000)
    .option('--nodes <names>', 'comma-separated nodes to place the 9 pods on (default: all, spread)')
    .option('--explain', 'also check every probed cell against `kube-router explain` (same cluster, agent flags and compiler); counts explain mismatches')
    .action(async (dir: string, o: Record<string, unknown>, cmd: Command) => {
      const l = await Promise.resolve()
        .then(() => Lab.attach(where(cmd)))
        .catch(fail);
      const { formatReport, runConformance } = await import('./conformance.js');
      const report = await runConformance(l, dir, {
        stepTimeoutMs: (o['timeout'] as number) * 1000,
        probeTimeoutMs: o['probeTimeout'] as number,
        ...(o['case'] ? { only: o['case'] as string[] } : {}),
        ...(o['nodes'] ? { nodes: String(o['nodes']).split(',') } : {}),
        ...(o['explain'] ? { explain: true } : {}),
        onCase: o['json'] ? undefined : (line) => process.stdout.write(line + '\n'),
      }).catch(fail);
      if (o['json']) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatReport(report, false) + '\n');
      process.exitCode = report.failed > 0 || (report.explainMismatches ?? 0) > 0 ? 1 : 0;
    });

  // The detached supervisor `lab up` starts: owns the API server, kubelet, controllers and agents.
  lab
    .command('supervise', { hidden: true })
    .action(async (_o: unknown, cmd: Command) => {
      const o = { stateDir: where(cmd).stateDir as string };
      if (!o.stateDir) fail('supervise needs --state-dir');
      const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);
      const spec = JSON.parse(readFileSync(`${o.stateDir}/spec.json`, 'utf8')) as LabSpec;
      let sup: Supervisor;
      try {
        sup = await Supervisor.start({ ...spec, stateDir: o.stateDir }, log);
      } catch (e) {
        writeFileSync(`${o.stateDir}/failed`, `${e instanceof Error ? e.message : String(e)}\n`);
        log(`failed: ${String(e)}`);
        process.exit(1);
      }
      log('lab is up');
      const bye = async () => {
        await sup.stop();
        process.exit(0);
      };
      sup.onStopped(() => process.exit(0));
      process.once('SIGTERM', () => void bye());
      process.once('SIGINT', () => void bye());
    });
  return lab;
}
