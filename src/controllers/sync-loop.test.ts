import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NodeModel } from '../model/types.js';
import { MemoryLog } from '../testing/observe.js';
import { waitFor } from '../testing/wait.js';
import { createMemoryClusterView } from '../watch/memory-view.js';
import type { SyncReason } from '../watch/sync-runner.js';
import type { ControllerContext } from './controller.js';
import { logSync, SyncLoop } from './sync-loop.js';
import { namespace } from '../testing/firewall/fixtures.js';

const node = (name: string): NodeModel => ({
  name, uid: name, labels: {}, annotations: {}, internalIPs: [], externalIPs: [], podCIDRs: [], unschedulable: false, ready: true,
});

function context(log = pino({ level: 'debug' }, new MemoryLog())) {
  const cluster = createMemoryClusterView();
  const registered: Array<[string, number]> = [];
  const ctx: ControllerContext = {
    nodeName: 'n1',
    cluster,
    log,
    metrics: new Registry(),
    health: { register: (n, p) => registered.push([n, p]), beat: () => undefined, problem: () => undefined },
  };
  return { ctx, cluster, registered };
}

describe('SyncLoop', () => {
  it('registers health, syncs first, then follows watched kinds and only its own Node', async () => {
    const { ctx, cluster, registered } = context();
    const reasons: SyncReason[] = [];
    const loop = new SyncLoop(ctx, { name: 'firewall', watched: ['Namespace', 'Node'], nodeName: 'n1', periodMs: 60_000, sync: async (r) => void reasons.push(r) });
    await loop.start();
    expect(registered).toEqual([['firewall', 60_000]]);
    expect(reasons.map((r) => r.cause)).toEqual(['first']);
    cluster.set('Node', node('other'));
    cluster.set('Pod', { namespace: 'x', name: 'p' } as never);
    cluster.flush();
    cluster.set('Namespace', namespace('x'));
    cluster.set('Node', node('n1'));
    cluster.flush();
    await waitFor('a sync for the namespace and our node', () => reasons.length >= 2, 5_000);
    await loop.stop();
    const hints = reasons.slice(1).flatMap((r) => r.hints);
    expect(hints.sort()).toEqual(['Namespace x', 'Node n1']);
  });

  it('stop waits for the sync in flight', async () => {
    const { ctx, cluster } = context();
    let release!: () => void;
    let running = 0;
    const loop = new SyncLoop(ctx, {
      name: 'proxy',
      watched: ['Namespace'],
      nodeName: 'n1',
      periodMs: 60_000,
      sync: async (r) => {
        if (r.cause === 'first') return;
        running++;
        await new Promise<void>((res) => (release = res));
        running--;
      },
    });
    await loop.start();
    cluster.set('Namespace', namespace('x'));
    cluster.flush();
    await waitFor('a sync in flight', () => running === 1, 5_000);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(running).toBe(0);
  });
});

describe('logSync', () => {
  it('info with the triggers when the kernel changed, debug without when it did not', () => {
    const out = new MemoryLog();
    const log = pino({ level: 'debug' }, out);
    const reason = (hints: string[]): SyncReason => ({ full: false, cause: 'request', hints, hintsTruncated: false, failures: 0 });
    logSync(log, 'firewall', reason(['Pod x/a', 'Pod x/b', 'Pod x/c', 'Pod x/d', 'Pod x/e', 'Pod x/f']), true, { ms: 3 });
    logSync(log, 'firewall', reason(['Pod x/a']), false, { ms: 1 });
    return waitFor('two lines', () => out.lines.length === 2, 2_000).then(() => {
      expect(out.lines[0]).toMatchObject({ level: 30, msg: 'firewall synced', cause: 'request', triggeredBy: ['Pod x/a', 'Pod x/b', 'Pod x/c', 'Pod x/d', 'Pod x/e'], moreTriggers: true, ms: 3 });
      expect(out.lines[1]).toMatchObject({ level: 20, msg: 'firewall in sync', ms: 1 });
      expect(out.lines[1]).not.toHaveProperty('triggeredBy');
    });
  });
});
