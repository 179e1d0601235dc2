// Per-namespace agent processes (testing/node-agent.ts) for kernel tests that use the real BGP speaker.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouterStatus } from '../../controllers/router/controller.js';
import type { RouterOptions } from '../../controllers/router/options.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '../../..');

/** True once src/bgp/index.ts exports createSpeaker (the speaker library is developed alongside). */
export async function realSpeakerAvailable(): Promise<boolean> {
  if (!existsSync(join(repo, 'src/bgp/index.ts'))) return false;
  try {
    const spec = '../../bgp/index.js';
    const mod = (await import(spec)) as { createSpeaker?: unknown };
    return typeof mod.createSpeaker === 'function';
  } catch {
    return false;
  }
}

export interface AgentProcess {
  readonly proc: ChildProcess;
  readonly statusFile: string;
  status(): (RouterStatus & { beats: number; healthProblem: string | null }) | undefined;
  stop(signal?: NodeJS.Signals): Promise<void>;
  stderr(): string;
}

export function spawnAgent(netns: string, clusterFile: string, nodeName: string, dir: string, opts: Partial<RouterOptions>): AgentProcess {
  const statusFile = join(dir, `${nodeName}.status.json`);
  const tsx = join(repo, 'node_modules/.bin/tsx');
  const proc = spawn('ip', ['netns', 'exec', netns, tsx, join(here, 'node-agent.ts'), clusterFile, nodeName, statusFile, JSON.stringify(opts)], {
    stdio: ['ignore', 'ignore', 'pipe'], cwd: repo, env: { ...process.env, KRT_LOG: process.env.KRT_LOG ?? 'warn' },
    // Own process group: tsx runs node as a child, and a SIGKILL must take both (a crash, not a stop).
    detached: true,
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-20000); });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    proc,
    statusFile,
    status() {
      try {
        return JSON.parse(readFileSync(statusFile, 'utf8'));
      } catch {
        return undefined;
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return;
      const group = (s: NodeJS.Signals) => { try { process.kill(-proc.pid!, s); } catch { /* gone */ } };
      group(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      group('SIGKILL');
    },
    stderr: () => err,
  };
}
