import { afterEach, describe, expect, it } from 'vitest';
import type { ControllerContext } from '../controllers/controller.js';
import { parseAgentArgs } from '../cli/parse.js';
import type { AgentConfig } from '../cli/flags.js';
import type { HealthStatus } from '../observe/health.js';
import { createLogger } from '../observe/logger.js';
import { freePort, MemoryLog, sleep } from '../testing/observe.js';
import { resolveNodeName, runAgent } from './agent.js';
import { runCleanup } from './cleanup.js';
import { emptySnapshot, type ClusterStore, type ClusterStoreFactory } from './cluster.js';
import type { AgentController, FactoryTable } from './controllers.js';

function config(...argv: string[]): AgentConfig {
  const out = parseAgentArgs(argv);
  if (out.kind !== 'run') throw new Error('no config');
  return out.config;
}

/** An in-memory store; `syncAfterMs` delays whenSynced like a slow API server. */
function memoryStore(syncAfterMs = 0, nodes: string[] = ['n1']): ClusterStoreFactory {
  return async () => {
    const snap = { ...emptySnapshot(), nodes: new Map(nodes.map((n) => [n, { name: n } as never])) };
    let running = false;
    const store: ClusterStore & { running(): boolean } = {
      snapshot: () => snap,
      subscribe: () => () => {},
      whenSynced: () => sleep(syncAfterMs),
      start: async () => void (running = true),
      stop: async () => void (running = false),
      running: () => running,
    };
    return store;
  };
}

/** A small real controller: syncs on a timer and beats after each sync, as the contract asks. */
function tickingController(ctx: ControllerContext, periodMs: number, cleaned?: string[]): AgentController {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'firewall',
    async start() {
      ctx.health.register('firewall', periodMs);
      ctx.health.beat('firewall');
      timer = setInterval(() => ctx.health.beat('firewall'), periodMs / 2);
    },
    async stop() {
      clearInterval(timer);
    },
    async cleanup() {
      cleaned?.push(`firewall on ${ctx.nodeName} sees ${ctx.cluster.snapshot().pods.size} pods`);
    },
  };
}

let abort: AbortController | undefined;
afterEach(() => abort?.abort());

async function healthJson(port: number): Promise<HealthStatus> {
  return (await (await fetch(`http://127.0.0.1:${port}/healthz/json`)).json()) as HealthStatus;
}

describe('runAgent', () => {
  it('serves /healthz, starts the enabled controllers, and stops on abort leaving nothing listening', async () => {
    abort = new AbortController();
    const sink = new MemoryLog();
    const port = await freePort();
    const factories: FactoryTable = { firewall: (ctx) => tickingController(ctx, 100) };
    const cfg = config('--hostname-override=n1', '--health-addr=127.0.0.1', `--health-port=${port}`, '--run-router=false', '--enable-pprof');
    const done = runAgent(cfg, {
      log: createLogger({ verbosity: 0, destination: sink }),
      factories,
      clusterStore: memoryStore(50),
      signal: abort.signal,
    });
    // The health server is up before the cache syncs and the controllers start.
    let st: HealthStatus | undefined;
    for (let i = 0; i < 50 && !st?.controllers.length; i++) {
      await sleep(20);
      st = await healthJson(port).catch(() => undefined);
    }
    expect(st!.healthy).toBe(true);
    expect(st!.controllers.map((c) => c.name)).toEqual(['firewall']);
    await sleep(300);
    const later = await healthJson(port);
    expect(later.controllers[0]!.beats).toBeGreaterThan(2);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    abort.abort();
    await done;
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    const msgs = sink.lines.map((l) => String(l.msg));
    const startLine = sink.lines.find((l) => l.msg === 'kube-router-ts starting')!;
    expect(startLine).toMatchObject({ nodeName: 'n1', controllers: ['proxy', 'firewall'] });
    expect(startLine.flags).toMatchObject({ 'run-router': 'false', 'health-port': String(port), 'enable-pprof': 'true' });
    expect(msgs).toContain('--enable-pprof is not implemented yet; the setting has no effect');
    expect(msgs.some((m) => m.startsWith('the proxy controller is not implemented yet'))).toBe(true);
    expect(msgs).toContain('kube-router-ts stopped');
  });

  it('gives up when the cache does not sync within --cache-sync-timeout', async () => {
    const sink = new MemoryLog();
    const cfg = { ...config('--health-port=0'), cacheSyncTimeoutMs: 100 };
    await expect(
      runAgent(cfg, { log: createLogger({ verbosity: 0, destination: sink }), factories: {}, clusterStore: memoryStore(5_000), signal: new AbortController().signal }),
    ).rejects.toThrow(/--cache-sync-timeout\): timed out after 100ms/);
  });

  it('fails fast when the health port is taken', async () => {
    abort = new AbortController();
    const port = await freePort();
    const first = runAgent(config('--health-addr=127.0.0.1', `--health-port=${port}`), {
      log: createLogger({ verbosity: 0, destination: new MemoryLog() }),
      factories: {},
      clusterStore: memoryStore(),
      signal: abort.signal,
    });
    await sleep(100);
    await expect(
      runAgent(config('--health-addr=127.0.0.1', `--health-port=${port}`), {
        log: createLogger({ verbosity: 0, destination: new MemoryLog() }),
        clusterStore: memoryStore(),
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow(`health server: listen tcp 127.0.0.1:${port}: EADDRINUSE`);
    abort.abort();
    await first;
  });
});

describe('node name and cleanup', () => {
  it('resolves --hostname-override, then NODE_NAME, then the host name', () => {
    expect(resolveNodeName({ hostnameOverride: 'a' }, { NODE_NAME: 'b' })).toBe('a');
    expect(resolveNodeName({ hostnameOverride: '' }, { NODE_NAME: 'b' })).toBe('b');
    expect(resolveNodeName({ hostnameOverride: '' }, {})).not.toBe('');
  });

  it('--cleanup-config runs every cleanup against an empty cluster, placeholders included', async () => {
    const cleaned: string[] = [];
    const result = await runCleanup(
      config('--hostname-override=n9', '--run-firewall=false'),
      createLogger({ verbosity: 0, destination: new MemoryLog() }),
      { firewall: (ctx) => tickingController(ctx, 100, cleaned) },
    );
    expect(cleaned).toEqual(['firewall on n9 sees 0 pods']);
    expect(result).toEqual({ cleaned: ['firewall', 'proxy', 'router'], failed: [] });
  });
});
