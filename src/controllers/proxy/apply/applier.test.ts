import { describe, expect, it } from 'vitest';
import { failingExec } from '../../../testing/exec.js';
import { FakeProxyKernel } from '../../../testing/proxy/fake-kernel.js';
import type { ProxyPlan, RealServer, VirtualServer } from '../compile/plan.js';
import { virtualServerKey } from '../compile/plan.js';
import { EMPTY_DSR } from '../compile/dsr.js';
import { ProxyApplier } from './applier.js';

const vs = (address: string, eps: string[], over: Partial<VirtualServer> = {}): VirtualServer => ({
  protocol: 'tcp', address, port: 80, scheduler: 'rr', flags: [],
  realServers: eps.map((a): RealServer => ({ address: a, port: 8080, weight: 1 })),
  service: { namespace: 'default', name: address, port: 'http', via: 'clusterIP' }, ...over,
});

/** A plan as the ProxyCompiler makes them: unchanged virtual servers are the same objects as before. */
const plan = (servers: VirtualServer[]): ProxyPlan => ({
  virtualServers: new Map(servers.map((v) => [virtualServerKey(v), v])),
  vips: [...new Set(servers.map((v) => v.address))].sort(),
  nat: [{ kind: 'masquerade', exceptCIDRs: ['10.244.0.0/24'], toSource: '172.20.0.11' }],
  skipped: [],
  dsr: EMPTY_DSR,
});

/** What the kernel should hold for a plan, in FakeProxyKernel.table() form. */
const expected = (p: ProxyPlan, extra: Record<string, string[]> = {}) => {
  const out: Record<string, string[]> = { ...extra };
  for (const v of p.virtualServers.values()) out[`-t ${v.address}:${v.port} ${v.scheduler}`] = v.realServers.map((r) => `${r.address}:${r.port} w${r.weight}`).sort();
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
};

const opts = { nodePortAddresses: ['172.20.0.11'], nodeIP: '172.20.0.11' };

function setup(gracefulPeriodMs = 0, clock = { t: 1_000 }) {
  const k = new FakeProxyKernel();
  // Someone else's IPVS service: never ours to touch.
  k.ipvs.set('-t 192.168.7.7:443', { proto: '-t', hostPort: '192.168.7.7:443', scheduler: 'wlc', flags: '', dests: new Map([['10.0.0.1:443', { weight: 1, method: 'g' }]]) });
  const foreign = { '-t 192.168.7.7:443 wlc': ['10.0.0.1:443 w1'] };
  const make = (exec = k.exec) => new ProxyApplier({ exec, backend: 'legacy', nodePortRange: { min: 30000, max: 32767 }, excludedCIDRs: [], gracefulPeriodMs, now: () => clock.t });
  return { k, foreign, make, reads: () => k.runs.get('ipvsadm -S') ?? 0 };
}

describe('ProxyApplier: the cached IPVS table', () => {
  it('reads the kernel on the first and full syncs only; one endpoint change in between is one command, no read', async () => {
    const { k, foreign, make, reads } = setup();
    const a = make();
    const web = vs('10.96.0.10', ['10.244.1.2', '10.244.1.3']);
    const api = vs('10.96.0.11', ['10.244.2.2']);
    const p1 = plan([web, api]);
    const r1 = await a.apply(p1, { full: true, ...opts });
    expect(r1.readKernel).toBe(true);
    expect(k.table()).toEqual(expected(p1, foreign));
    expect(k.vips()).toEqual(['10.96.0.10', '10.96.0.11', 'fe80::44c9:39ff:fef9:ad4a']);

    const web2 = vs('10.96.0.10', ['10.244.1.2', '10.244.1.3', '10.244.1.4']);
    const p2 = plan([web2, api]);
    const r2 = await a.apply(p2, { full: false, ...opts });
    expect(r2).toMatchObject({ readKernel: false, ipvsCommands: 1, compared: 1, realServersAdded: 1 });
    expect(reads()).toBe(1);
    expect(k.table()).toEqual(expected(p2, foreign));

    // Nothing changed: nothing compared, nothing run.
    const r3 = await a.apply(p2, { full: false, ...opts });
    expect(r3).toMatchObject({ changed: false, readKernel: false, ipvsCommands: 0, compared: 0 });

    // A removed service goes, its VIP after it; the foreign service stays.
    const p4 = plan([web2]);
    await a.apply(p4, { full: false, ...opts });
    expect(k.table()).toEqual(expected(p4, foreign));
    expect(k.vips()).toEqual(['10.96.0.10', 'fe80::44c9:39ff:fef9:ad4a']);
    expect(reads()).toBe(1);
  });

  it('a change made behind its back is repaired by the next full sync (the kernel is re-read)', async () => {
    const { k, foreign, make, reads } = setup();
    const a = make();
    const p = plan([vs('10.96.0.10', ['10.244.1.2', '10.244.1.3'])]);
    await a.apply(p, { full: true, ...opts });
    k.ipvs.get('-t 10.96.0.10:80')!.dests.delete('10.244.1.3:8080');
    await a.apply(p, { full: false, ...opts });
    expect(k.table()['-t 10.96.0.10:80 rr']).toEqual(['10.244.1.2:8080 w1']); // unseen: the cache says all is well
    const r = await a.apply(p, { full: true, ...opts });
    expect(r).toMatchObject({ readKernel: true, ipvsCommands: 1 });
    expect(k.table()).toEqual(expected(p, foreign));
    expect(reads()).toBe(2);
  });

  it('a batch the kernel refuses half-way keeps nothing of the cache: the retry reads the kernel and converges', async () => {
    const { k, foreign, make, reads } = setup();
    const a = make();
    const web = vs('10.96.0.10', ['10.244.1.2']);
    const api = vs('10.96.0.11', ['10.244.2.2']);
    await a.apply(plan([web, api]), { full: true, ...opts });
    // Someone deletes our api service; our next batch adds to web (applied), then to api (refused).
    k.ipvs.delete('-t 10.96.0.11:80');
    const p = plan([vs('10.96.0.10', ['10.244.1.2', '10.244.1.9']), vs('10.96.0.11', ['10.244.2.2', '10.244.2.9'])]);
    await expect(a.apply(p, { full: false, ...opts })).rejects.toThrow(/Service not defined/);
    expect(a.cachedServices()).toBeUndefined();
    expect(k.table()['-t 10.96.0.10:80 rr']).toEqual(['10.244.1.2:8080 w1', '10.244.1.9:8080 w1']); // the half that happened
    const r = await a.apply(p, { full: false, ...opts });
    expect(r).toMatchObject({ readKernel: true, servicesAdded: 1, realServersAdded: 2 });
    expect(k.table()).toEqual(expected(p, foreign));
    expect(reads()).toBe(2);
  });

  it('a failed ipvsadm run keeps the kernel as it was and is retried from a fresh read', async () => {
    const { k, foreign, make, reads } = setup();
    const p1 = plan([vs('10.96.0.10', ['10.244.1.2'])]);
    await make().apply(p1, { full: true, ...opts });
    const flaky = failingExec(k.exec, (cmd, args) => cmd === 'ipvsadm' && args[0] === '-R', 1);
    const b = make(flaky);
    await b.apply(p1, { full: true, ...opts }); // in sync already: no ipvsadm -R
    const p2 = plan([vs('10.96.0.10', ['10.244.1.2', '10.244.1.3'])]);
    await expect(b.apply(p2, { full: false, ...opts })).rejects.toThrow();
    expect(flaky.injected).toBe(1);
    expect(k.table()).toEqual(expected(p1, foreign));
    const before = reads();
    await b.apply(p2, { full: false, ...opts });
    expect(reads()).toBe(before + 1);
    expect(k.table()).toEqual(expected(p2, foreign));
  });

  it('after a crash mid-apply a new applier converges from whatever it finds', async () => {
    const { k, foreign, make } = setup();
    const p = plan([vs('10.96.0.10', ['10.244.1.2', '10.244.1.3']), vs('10.96.0.11', ['10.244.2.2'])]);
    // The crashed agent left half a batch: one service without its real servers, a stale one of ours, a stale VIP.
    k.dummy = new Map([['10.96.0.10', 32], ['10.96.0.99', 32], ['fe80::44c9:39ff:fef9:ad4a', 64]]);
    k.ipvs.set('-t 10.96.0.10:80', { proto: '-t', hostPort: '10.96.0.10:80', scheduler: 'rr', flags: '', dests: new Map() });
    k.ipvs.set('-t 10.96.0.99:80', { proto: '-t', hostPort: '10.96.0.99:80', scheduler: 'rr', flags: '', dests: new Map([['10.244.9.9:8080', { weight: 1, method: 'm' }]]) });
    await make().apply(p, { full: true, ...opts });
    expect(k.table()).toEqual(expected(p, foreign));
    // The kernel's own link-local address is not a VIP: left alone (deleting it as a /128 would fail every full sync).
    expect(k.vips()).toEqual(['10.96.0.10', '10.96.0.11', 'fe80::44c9:39ff:fef9:ad4a']);
  });

  it('graceful termination: a drained real server goes at its deadline even when the plan object did not change', async () => {
    const clock = { t: 1_000 };
    const { k, foreign, make, reads } = setup(5_000, clock);
    const a = make();
    await a.apply(plan([vs('10.96.0.10', ['10.244.1.2', '10.244.1.3'])]), { full: true, ...opts });
    const p = plan([vs('10.96.0.10', ['10.244.1.2'])]);
    await a.apply(p, { full: false, ...opts });
    expect(k.table()['-t 10.96.0.10:80 rr']).toEqual(['10.244.1.2:8080 w1', '10.244.1.3:8080 w0']);
    clock.t += 1_000;
    expect(await a.apply(p, { full: false, ...opts })).toMatchObject({ ipvsCommands: 0, draining: 1 });
    clock.t += 5_000;
    expect(await a.apply(p, { full: false, ...opts })).toMatchObject({ ipvsCommands: 1, draining: 0 });
    expect(k.table()).toEqual(expected(p, foreign));
    expect(reads()).toBe(1);
  });
});
