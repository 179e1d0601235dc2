import { writeFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaries, type BackendName } from '../../../dataplane/iptables/backend.js';
import type { Exec } from '../../../dataplane/exec.js';
import type { ClusterSnapshot } from '../../../model/types.js';
import { FirewallCompiler } from '../compile/compiler.js';
import type { FirewallPlan } from '../compile/plan.js';
import { namespaceChainName, namespacePodsChainName, namespacePodsSetName } from '../compile/names.js';
import { namespace, pod, policy, snapshot } from '../../../testing/firewall/fixtures.js';
import { failingWrapper, kernelChains, kernelSets, Netns } from '../../../testing/firewall/netns.js';
import { nodeOptions } from '../../../testing/firewall/reach.js';
import { FirewallApplier } from './applier.js';
import { NftFirewallApplier } from './nft-applier.js';
import { openIpsetContext, openNftContext } from '../../../dataplane/netfilter/native/addon.js';
import { renderChain, renderRule } from './render.js';

const netns = new Netns('krt-np-ap-');
afterAll(() => netns.destroyAll());

const ports = [{ name: 'http', containerPort: 80, protocol: 'TCP' as const }];
const PODS = [
  pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { pod: 'a' }, ports }),
  pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { pod: 'b' }, ports }),
  pod({ ns: 'y', name: 'a', ip: '10.244.2.2', node: 'node2', labels: { pod: 'a' }, ports }),
];
const P1 = policy('x', 'p1', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'http' }] }] });
const P2 = policy('x', 'p2', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.9.0.0/16'] } }] }], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] });
const S1 = snapshot({ namespaces: [namespace('x'), namespace('y')], pods: PODS, policies: [P1, P2] });

async function expectKernelMatches(exec: Exec, backend: BackendName, plan: FirewallPlan): Promise<void> {
  const k = await kernelChains(exec, backend);
  // What iptables-save prints must be exactly the rendered plan: a restarted agent then rewrites nothing.
  for (const [name, rules] of plan.tables.get(4)!.chains) expect(k.get(name), name).toEqual(renderChain(rules));
  for (const name of k.keys()) if (name.startsWith('KUBE-')) expect(plan.tables.get(4)!.chains.has(name), `stale ${name}`).toBe(true);
  for (const j of plan.tables.get(4)!.jumps) expect(k.get(j.from)![0]).toBe(renderRule(j.rule));
  const sets = await kernelSets(exec);
  expect([...sets.keys()].sort()).toEqual([...plan.sets.keys()].sort());
  for (const [name, spec] of plan.sets) expect(sets.get(name), name).toEqual([...spec.entries].sort());
}

describe.each(['nft', 'legacy'] as const)('FirewallApplier on %s', (backend) => {
  let ns: string;
  let exec: Exec;
  const opts = nodeOptions('node1');
  beforeAll(async () => {
    ns = await netns.add(backend);
    exec = netns.exec(ns);
    // Another tool's chain and rules: they must survive every sync.
    await exec(binaries(backend, 4).restore, ['--noflush'], {
      input: '*filter\n:FOREIGN-CHAIN - [0:0]\n-A FOREIGN-CHAIN -s 198.51.100.1/32 -j DROP\n-A INPUT -j FOREIGN-CHAIN\n-A FORWARD -d 198.51.100.2/32 -j ACCEPT\nCOMMIT\n',
    });
  });

  it('applies a full plan exactly, reconciles a restart with no change, and keeps foreign rules', async () => {
    const comp = new FirewallCompiler(opts);
    const plan = comp.update(S1).plan;
    const a = new FirewallApplier({ exec, backend, families: [4] });
    const r = await a.apply(plan);
    expect(r.changed).toBe(true);
    await expectKernelMatches(exec, backend, plan);
    // A restarted agent: fresh compiler and applier, same cluster -> not one kernel write.
    const again = await new FirewallApplier({ exec, backend, families: [4] }).apply(new FirewallCompiler(opts).update(S1).plan);
    expect(again.changed).toBe(false);
    expect(again.texts).toEqual({ ipset: '', iptables: {}, post: '' });
    const k = await kernelChains(exec, backend);
    expect(k.get('FOREIGN-CHAIN')).toEqual(['-s 198.51.100.1/32 -j DROP']);
    expect(k.get('INPUT')).toContain('-j FOREIGN-CHAIN');
    expect(k.get('FORWARD')).toContain('-d 198.51.100.2/32 -j ACCEPT');
    expect(k.get('INPUT')!.filter((x) => x.includes('KUBE-ROUTER-INPUT'))).toHaveLength(1);
  });

  it('one policy change restores only its chain; a label change is an ipset change alone', async () => {
    const comp = new FirewallCompiler(opts);
    const a = new FirewallApplier({ exec, backend, families: [4] });
    await a.apply(comp.update(S1).plan);
    const pol = new Map(S1.policies);
    pol.set('x/p1', policy('x', 'p1', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 81 }] }] }));
    const s2: ClusterSnapshot = { ...S1, policies: pol };
    const plan2 = comp.update(s2).plan;
    const r = await a.apply(plan2);
    const text = r.texts.iptables[4]!;
    const declared = text.split('\n').filter((l) => l.startsWith(':'));
    expect(declared).toHaveLength(1);
    expect(r.chainsReplaced).toEqual([declared[0]!.slice(1).split(' ')[0]]);
    expect(r.chainsReplaced[0]).toMatch(/^KUBE-NWPLCY-/);
    await expectKernelMatches(exec, backend, plan2);

    const pods = new Map(s2.pods);
    pods.set('x/b', { ...pods.get('x/b')!, labels: { pod: 'b', role: 'client' } });
    const s3 = { ...s2, pods };
    const pol3 = new Map(pol);
    pol3.set('x/p1', P1);
    const plan3 = comp.update({ ...s3, policies: pol3 }).plan;
    await a.apply(plan3);
    const pods4 = new Map(pods);
    pods4.set('x/b', { ...pods.get('x/b')!, labels: { pod: 'b' } });
    const plan4 = comp.update({ ...s3, pods: pods4, policies: pol3 }).plan;
    const r4 = await a.apply(plan4);
    expect(r4.texts.iptables).toEqual({});
    expect(r4.texts.ipset).toMatch(/^del KUBE-SRC-\w+ 10\.244\.1\.3\n$/);
    await expectKernelMatches(exec, backend, plan4);
  });

  it('a new pod in a namespace with local pods is one ipset batch, no rule: its namespace set before kube-router-local-pods', async () => {
    const comp = new FirewallCompiler(opts);
    const a = new FirewallApplier({ exec, backend, families: [4] });
    await a.apply(comp.update(S1).plan);
    const pods = new Map(S1.pods);
    pods.set('x/new', pod({ ns: 'x', name: 'new', ip: '10.244.1.50', labels: { pod: 'n' } }));
    const s1 = { ...S1, pods };
    const plan = comp.update(s1).plan;
    const r = await a.apply(plan);
    expect(r.texts.iptables).toEqual({});
    expect([...r.chainsEdited, ...r.chainsReplaced]).toEqual([]);
    // Narrowing first (its namespace set: its traffic is filtered from then on; isolation), widening last.
    const lines = r.texts.ipset.trim().split('\n');
    const at = (line: string): number => lines.indexOf(line);
    const local = at('add kube-router-local-pods 10.244.1.50');
    expect(at(`add ${namespacePodsSetName(4, 'x')} 10.244.1.50`)).toBeGreaterThanOrEqual(0);
    expect(at(`add ${namespacePodsSetName(4, 'x')} 10.244.1.50`)).toBeLessThan(local);
    expect(at('add kube-router-in-isolated 10.244.1.50')).toBeLessThan(local);
    expect(local).toBe(lines.length - 1);
    await expectKernelMatches(exec, backend, plan);

    // A namespace's first local pod: its set is created before the rules, its chains and jumps go in
    // with them, and kube-router-local-pods gets it after.
    const pods2 = new Map(pods);
    pods2.set('w/first', pod({ ns: 'w', name: 'first', ip: '10.244.1.51' }));
    const plan2 = comp.update({ ...s1, pods: pods2 }).plan;
    const r2 = await a.apply(plan2);
    expect(r2.chainsReplaced).toEqual(expect.arrayContaining([namespacePodsChainName('w', 'ingress'), namespacePodsChainName('w', 'egress')]));
    expect([...r2.chainsEdited, ...r2.chainsReplaced]).toEqual(expect.arrayContaining(['KUBE-ROUTER-FORWARD', 'KUBE-ROUTER-INPUT', 'KUBE-ROUTER-OUTPUT']));
    expect(r2.texts.ipset).toMatch(new RegExp(`^add ${namespacePodsSetName(4, 'w')} 10\\.244\\.1\\.51$`, 'm'));
    expect(r2.texts.ipset).not.toMatch(/local-pods/);
    expect(r2.texts.post).toMatch(/^add kube-router-local-pods 10\.244\.1\.51$/m);
    await expectKernelMatches(exec, backend, plan2);

    // Deleting both: out of kube-router-local-pods before the rules go, the namespace sets after.
    const r3 = await a.apply(comp.update(S1).plan);
    expect(r3.chainsDeleted.sort()).toEqual(
      [namespacePodsChainName('w', 'ingress'), namespacePodsChainName('w', 'egress'), namespaceChainName('w', 'ingress'), namespaceChainName('w', 'egress')].sort(),
    );
    expect(r3.texts.ipset).toMatch(/^del kube-router-local-pods 10\.244\.1\.50$/m);
    expect(r3.texts.ipset).toMatch(/^del kube-router-local-pods 10\.244\.1\.51$/m);
    expect(r3.texts.post).toMatch(new RegExp(`^del ${namespacePodsSetName(4, 'x')} 10\\.244\\.1\\.50$`, 'm'));
    expect(r3.texts.post).toMatch(new RegExp(`^destroy ${namespacePodsSetName(4, 'w')}$`, 'm'));
    await expectKernelMatches(exec, backend, comp.update(S1).plan);
  });

  it('a failed iptables-restore leaves the old rules in force and the retry succeeds', async () => {
    const comp = new FirewallCompiler(opts);
    const wrap = failingWrapper(binaries(backend, 4).restore);
    try {
      const a = new FirewallApplier({ exec, backend, families: [4], binaries: (f) => ({ ...binaries(backend, f), restore: wrap.path }) });
      const plan1 = comp.update(S1).plan;
      await a.apply(plan1);
      const pol = new Map(S1.policies);
      pol.delete('x/p2');
      const plan2 = comp.update({ ...S1, policies: pol }).plan;
      writeFileSync(wrap.flag, '');
      await expect(a.apply(plan2)).rejects.toThrow(/injected failure/);
      const k = await kernelChains(exec, backend);
      for (const [name, rules] of plan1.tables.get(4)!.chains) expect(k.get(name), name).toEqual(renderChain(rules));
      rmSync(wrap.flag);
      await a.apply(plan2);
      await expectKernelMatches(exec, backend, plan2);
    } finally {
      wrap.dispose();
    }
  });

  it('a jump pushed down by another tool is moved back to the top, never duplicated', async () => {
    const comp = new FirewallCompiler(opts);
    const plan = comp.update(S1).plan;
    await new FirewallApplier({ exec, backend, families: [4] }).apply(plan);
    await exec(binaries(backend, 4).cli, ['-I', 'INPUT', '1', '-s', '198.51.100.9/32', '-j', 'ACCEPT']);
    const r = await new FirewallApplier({ exec, backend, families: [4] }).apply(plan);
    expect(r.jumpsFixed).toBe(1);
    const input = (await kernelChains(exec, backend)).get('INPUT')!;
    expect(input[0]).toMatch(/-j KUBE-ROUTER-INPUT$/);
    expect(input.filter((x) => x.includes('KUBE-ROUTER-INPUT'))).toHaveLength(1);
    expect(input).toContain('-s 198.51.100.9/32 -j ACCEPT');
  });

  it('cleanup removes everything ours and nothing else', async () => {
    const a = new FirewallApplier({ exec, backend, families: [4] });
    await a.apply(new FirewallCompiler(opts).update(S1).plan);
    await a.cleanup();
    const k = await kernelChains(exec, backend);
    expect([...k.keys()].filter((n) => n.startsWith('KUBE-'))).toEqual([]);
    expect([...k.get('INPUT')!].sort()).toEqual(['-j FOREIGN-CHAIN', '-s 198.51.100.9/32 -j ACCEPT']);
    expect(k.get('FOREIGN-CHAIN')).toEqual(['-s 198.51.100.1/32 -j DROP']);
    expect((await kernelSets(exec)).size).toBe(0);
  });
});

describe('FirewallApplier: the one-fetch restore form for big iptables-nft restores', () => {
  const opts = nodeOptions('node1');
  it('gives the same kernel state, keeps foreign rules, and works on a host with no filter table yet', async () => {
    const fresh = netns.exec(await netns.add('fc-fresh'));
    const a = new FirewallApplier({ exec: fresh, backend: 'nft', families: [4], fullCache: 'always' });
    const plan = new FirewallCompiler(opts).update(S1).plan;
    const r = await a.apply(plan);
    // The built-in chains' jumps go in a second restore: with `-S` iptables-nft would take the listed
    // (absent) built-in chains for granted and fail with ENOENT.
    expect(r.texts.iptables[4]).toMatch(/^\*filter\n-S\n/);
    expect(r.texts.iptables[4]!.split('COMMIT')).toHaveLength(3);
    await expectKernelMatches(fresh, 'nft', plan);

    const loaded = netns.exec(await netns.add('fc-loaded'));
    await loaded(binaries('nft', 4).restore, ['--noflush'], {
      input: '*filter\n:FOREIGN-CHAIN - [0:0]\n-A FOREIGN-CHAIN -s 198.51.100.1/32 -j DROP\n-A INPUT -j FOREIGN-CHAIN\n-A FORWARD -d 198.51.100.2/32 -j ACCEPT\nCOMMIT\n',
    });
    await new FirewallApplier({ exec: loaded, backend: 'nft', families: [4], fullCache: 'always' }).apply(plan);
    await expectKernelMatches(loaded, 'nft', plan);
    const k = await kernelChains(loaded, 'nft');
    expect(k.get('FOREIGN-CHAIN')).toEqual(['-s 198.51.100.1/32 -j DROP']);
    expect(k.get('INPUT')).toContain('-j FOREIGN-CHAIN');
    expect(k.get('FORWARD')).toContain('-d 198.51.100.2/32 -j ACCEPT');
    // A rewrite of every chain of ours in the same form over the loaded table converges too.
    const pol = new Map(S1.policies);
    pol.delete('x/p1');
    const plan2 = new FirewallCompiler(opts).update({ ...S1, policies: pol }).plan;
    await new FirewallApplier({ exec: loaded, backend: 'nft', families: [4], fullCache: 'always' }).apply(plan2);
    await expectKernelMatches(loaded, 'nft', plan2);
    expect((await kernelChains(loaded, 'nft')).get('FOREIGN-CHAIN')).toEqual(['-s 198.51.100.1/32 -j DROP']);
  });
});

describe('the cold fill through the resident session (netlink, no ipset restore)', () => {
  // Dual-stack, every entry form the compiler writes: addresses, nets with nomatch exceptions, named ports of each protocol.
  const opts = nodeOptions('node1', { families: [4, 6], podCIDRs: ['10.244.1.0/24', 'fd00:244:1::/64'] });
  const named = [
    { name: 'http', containerPort: 80, protocol: 'TCP' as const },
    { name: 'dns', containerPort: 53, protocol: 'UDP' as const },
    { name: 'sig', containerPort: 3868, protocol: 'SCTP' as const },
  ];
  const pods = [
    pod({ ns: 'x', name: 'a', ip: ['10.244.1.2', 'fd00:244:1::2'], labels: { pod: 'a' }, ports: named }),
    pod({ ns: 'x', name: 'b', ip: ['10.244.1.3', 'fd00:244:1::3'], labels: { pod: 'b' }, ports: named }),
    pod({ ns: 'y', name: 'c', ip: ['10.244.2.2', 'fd00:244:2::2'], node: 'node2', labels: { pod: 'c' }, ports: named }),
  ];
  const np = policy('x', 'p', {
    podSelector: {},
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      { from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'http' }, { port: 'dns', protocol: 'UDP' }, { port: 'sig', protocol: 'SCTP' }] },
      { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.9.0.0/16', '10.10.1.0/24'] } }, { ipBlock: { cidr: 'fd00::/8', except: ['fd00:9::/32'] } }] },
    ],
    egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }, { ipBlock: { cidr: '::/0', except: ['fd00:ec2::254/128'] } }] }],
  });
  const snap = snapshot({ namespaces: [namespace('x'), namespace('y')], pods, policies: [np] });

  it.each(['nft', 'legacy'] as const)('%s: the kernel holds exactly the plan; a refused fill falls back to ipset restore', async (backend) => {
    const name = await netns.add(`fill-${backend}`);
    const exec = netns.exec(name);
    const ctx = openIpsetContext(name);
    if (ctx instanceof Error) throw ctx;
    const plan = new FirewallCompiler(opts).update(snap).plan;
    const entries = [...plan.sets.values()].flatMap((s) => s.entries);
    expect(entries.some((e) => e.includes(' nomatch') && e.includes(':'))).toBe(true);
    for (const proto of ['tcp', 'udp', 'sctp']) expect(entries.some((e) => e.includes(`,${proto}:`))).toBe(true);
    const r = await new FirewallApplier({ exec, backend, families: [4, 6], ipsetContext: ctx }).apply(plan);
    expect(r.timings.fillVia).toBe('netlink');
    await expectKernelMatches(exec, backend, plan);
    const sets = await kernelSets(exec);
    for (const [n, spec] of plan.sets) expect(sets.get(n), n).toEqual([...spec.entries].sort());

    // The same cold load where the writer fails: ipset restore runs the lines, the state is the same.
    await new FirewallApplier({ exec, backend, families: [4, 6] }).cleanup();
    const refusing = { run: (lines: readonly string[]) => ctx.run(lines), save: () => ctx.save(), fill: () => Promise.reject(new Error('refused')) };
    const r2 = await new FirewallApplier({ exec, backend, families: [4, 6], ipsetContext: refusing }).apply(plan);
    expect(r2.timings).toMatchObject({ fillVia: 'ipset restore', fillFallback: 'refused' });
    await expectKernelMatches(exec, backend, plan);
  });

  it('a refused message is an error that names the set (a set that does not exist)', async () => {
    const name = await netns.add('fill-err');
    const ctx = openIpsetContext(name);
    if (ctx instanceof Error) throw ctx;
    await expect(ctx.fill(['add KUBE-DST-NOSUCHSET 10.0.0.1'])).rejects.toThrow(/KUBE-DST-NOSUCHSET: the set does not exist/);
    await expect(ctx.fill(['add S 10.0.0.1,icmp:8'])).rejects.toThrow(/cannot parse entry/);
  });
});

describe('set deltas: a big set changes by its elements alone', () => {
  const opts = nodeOptions('node1');
  // 300 local pods: kube-router-local-pods and the isolated set carry deltas (compiler DELTA_MIN).
  const many = new Map(S1.pods);
  for (let i = 0; i < 300; i++) many.set(`x/m${i}`, pod({ ns: 'x', name: `m${i}`, ip: i < 240 ? `10.244.1.${i + 10}` : `10.244.3.${i - 240}` }));
  const big = { ...S1, pods: many };
  const change = (): ClusterSnapshot => {
    const pods = new Map(many);
    pods.set('x/new', pod({ ns: 'x', name: 'new', ip: '10.244.3.200' }));
    pods.delete('x/m0');
    return { ...big, pods };
  };

  it('iptables: one ipset batch with only the changed elements, in the narrowing/widening order', async () => {
    const exec = netns.exec(await netns.add('delta-ipt'));
    const comp = new FirewallCompiler(opts);
    const a = new FirewallApplier({ exec, backend: 'legacy', families: [4] });
    await a.apply(comp.update(big).plan);
    const plan = comp.update(change()).plan;
    expect(plan.setDeltas.has('kube-router-local-pods')).toBe(true);
    const r = await a.apply(plan);
    const lines = r.texts.ipset.trim().split('\n');
    expect(lines.filter((l) => l.includes('kube-router-local-pods'))).toEqual(['del kube-router-local-pods 10.244.1.10', 'add kube-router-local-pods 10.244.3.200']);
    // Fail-closed order: the gone pod leaves kube-router-local-pods before its namespace set (a deny
    // set: removals widen), the new one enters its namespace set before kube-router-local-pods.
    const nsSet = namespacePodsSetName(4, 'x');
    expect(lines.indexOf('del kube-router-local-pods 10.244.1.10')).toBeLessThan(lines.indexOf(`del ${nsSet} 10.244.1.10`));
    expect(lines.indexOf(`add ${nsSet} 10.244.3.200`)).toBeLessThan(lines.indexOf('add kube-router-local-pods 10.244.3.200'));
    expect(lines.indexOf(`add ${nsSet} 10.244.3.200`)).toBeGreaterThanOrEqual(0);
    await expectKernelMatches(exec, 'legacy', plan);
  });

  /** Our table as JSON, set elements sorted (a hash set lists in hash order), rule handles dropped. */
  const table = async (exec: Exec): Promise<unknown[]> => {
    const j = JSON.parse((await exec('nft', ['-j', 'list', 'table', 'inet', 'kube-router-ts-netpol'])).stdout) as { nftables: Array<Record<string, Record<string, unknown>>> };
    return j.nftables
      .filter((o) => !('metainfo' in o))
      .map((o) => {
        const [kind, v] = Object.entries(o)[0]!;
        const { handle: _h, elem, ...rest } = v as { handle?: number; elem?: unknown[] };
        return { [kind]: { ...rest, ...(elem ? { elem: elem.map((e) => JSON.stringify(e)).sort() } : {}) } };
      });
  };

  it('native cold load: sets and rules as two transactions side by side, the same table as one transaction', async () => {
    const plan = new FirewallCompiler(opts).update(big).plan;
    const name = await netns.add('cold-nft-split');
    const ctx = openNftContext(name);
    if (ctx instanceof Error) throw ctx;
    const r = await new NftFirewallApplier({ exec: netns.exec(name), families: [4], context: ctx }).apply(plan);
    expect(r.split).toBe(true);
    const one = netns.exec(await netns.add('cold-nft-one'));
    const r1 = await new NftFirewallApplier({ exec: one, families: [4] }).apply(plan);
    expect(r1.split).toBe(false);
    expect(await table(netns.exec(name))).toEqual(await table(one));
    // Our table present (a restart): one atomic replacing transaction again.
    const again = await new NftFirewallApplier({ exec: netns.exec(name), families: [4], context: ctx }).apply(plan);
    expect(again).toMatchObject({ full: true, split: false });
    expect(await table(netns.exec(name))).toEqual(await table(one));
  });

  it('native: the elements alone, through the resident libnftables context when it loads', async () => {
    const name = await netns.add('delta-nft');
    const exec = netns.exec(name);
    const ctx = openNftContext(name);
    const comp = new FirewallCompiler(opts);
    const a = new NftFirewallApplier({ exec, families: [4], ...(ctx instanceof Error ? {} : { context: ctx }) });
    await a.apply(comp.update(big).plan);
    const plan = comp.update(change()).plan;
    const r = await a.apply(plan);
    expect(r.text).toMatch(/^delete element inet kube-router-ts-netpol kube-router-local-pods \{ 10\.244\.1\.10 \}$/m);
    expect(r.text).toMatch(/^add element inet kube-router-ts-netpol kube-router-local-pods \{ 10\.244\.3\.200 \}$/m);
    expect(r.text).not.toMatch(/add rule|flush/);
    const local = (await exec('nft', ['list', 'set', 'inet', 'kube-router-ts-netpol', 'kube-router-local-pods'])).stdout;
    expect(local).toContain('10.244.3.200');
    expect(local).not.toMatch(/10\.244\.1\.10[,\s]/);
    // The addon is built by setup (and on first use); where it cannot load, the nft binary ran the same text.
    if (!(ctx instanceof Error)) expect((await exec('nft', ['list', 'tables'])).stdout).toContain('kube-router-ts-netpol');
  });

  it('native: address changes alone go as our own netlink batch, to the same table libnftables gives', async () => {
    const name = await netns.add('direct-nft');
    const ctx = openNftContext(name);
    if (ctx instanceof Error) throw ctx;
    const comp = new FirewallCompiler(opts);
    const a = new NftFirewallApplier({ exec: netns.exec(name), families: [4], context: ctx });
    const viaText = netns.exec(await netns.add('direct-nft-text'));
    const b = new NftFirewallApplier({ exec: viaText, families: [4] });
    const first = comp.update(big).plan;
    await a.apply(first);
    await b.apply(first);
    const plan = comp.update(change()).plan;
    const r = await a.apply(plan);
    expect(r).toMatchObject({ full: false, direct: true, elementsAdded: expect.any(Number) });
    expect(r.elementsAdded + r.elementsDeleted).toBeGreaterThanOrEqual(2);
    expect((await b.apply(plan)).direct).toBe(false);
    expect(await table(netns.exec(name))).toEqual(await table(viaText));
    // A policy change (rules) is never direct.
    const withRule = comp.update({ ...change(), policies: new Map() }).plan;
    expect((await a.apply(withRule)).direct).toBe(false);
  });

  it('native: a refused address batch commits none of it, and the next sync converges', async () => {
    const name = await netns.add('direct-nft-refused');
    const exec = netns.exec(name);
    const ctx = openNftContext(name);
    if (ctx instanceof Error) throw ctx;
    const comp = new FirewallCompiler(opts);
    const a = new NftFirewallApplier({ exec, families: [4], context: ctx });
    await a.apply(comp.update(big).plan);
    // Someone removed the address our change will delete: the kernel refuses that delete.
    await exec('nft', ['delete', 'element', 'inet', 'kube-router-ts-netpol', 'kube-router-local-pods', '{ 10.244.1.10 }']);
    const plan = comp.update(change()).plan;
    await expect(a.apply(plan)).rejects.toThrow(/delete element of set kube-router-local-pods/);
    const local = async () => (await exec('nft', ['list', 'set', 'inet', 'kube-router-ts-netpol', 'kube-router-local-pods'])).stdout;
    expect(await local()).not.toContain('10.244.3.200');
    const again = await a.apply(plan);
    expect(again).toMatchObject({ full: true, direct: false });
    expect(await local()).toContain('10.244.3.200');
  });
});
