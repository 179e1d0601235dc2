// --kernel's comparison, against a fake node whose iptables-save and ipset save print the plan (then
// a plan with one chain and one set changed): identical, or the chain, rule and entries that differ.
import { describe, expect, it } from 'vitest';
import { renderChain, renderRule } from '../controllers/firewall/apply/render.js';
import type { FirewallPlan } from '../controllers/firewall/compile/plan.js';
import type { Exec } from '../dataplane/exec.js';
import { ExecError } from '../dataplane/exec.js';
import type { ClusterSnapshot } from '../model/types.js';
import { namespace, pod, policy, snapshot } from '../testing/firewall/fixtures.js';
import { parseAgentArgs } from '../cli/parse.js';
import type { AgentConfig } from '../cli/flags.js';
import { explainWith } from './command.js';
import { compareWithKernel } from './kernel.js';
import { formatExplanation } from './format.js';

const snap: ClusterSnapshot = {
  ...snapshot({
    namespaces: [namespace('x')],
    pods: [pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { app: 'a' }, node: 'node1' }), pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { app: 'b' }, node: 'node1' })],
    policies: [policy('x', 'p', { podSelector: { matchLabels: { app: 'b' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }] }] })],
  }),
  nodes: new Map([['node1', { name: 'node1', uid: 'u', labels: {}, annotations: {}, internalIPs: ['192.168.0.1'], externalIPs: [], podCIDRs: ['10.244.1.0/24'], unschedulable: false, ready: true }]]),
};
const o = parseAgentArgs([]);
const run = explainWith(snap, (o.kind === 'run' ? o.config : undefined) as AgentConfig, { from: 'x/a', to: 'x/b', protocol: 'tcp', port: 80 });
const plan = run.plans('node1')!;

/** A node whose kernel holds `p` (nft backend). */
function fakeNode(p: FirewallPlan): Exec {
  const t = p.tables.get(4)!;
  const save = ['*filter', ...['INPUT', 'FORWARD', 'OUTPUT'].map((c) => `:${c} ACCEPT [0:0]`), ...[...t.chains.keys()].map((c) => `:${c} - [0:0]`)];
  for (const j of t.jumps) save.push(`-A ${j.from} ${renderRule(j.rule)}`);
  for (const [c, rules] of t.chains) for (const r of renderChain(rules)) save.push(`-A ${c} ${r}`);
  save.push('COMMIT');
  const sets = [...p.sets.values()].flatMap((s) => [`create ${s.name} ${s.type} family ${s.family} hashsize 1024 maxelem 65536`, ...s.entries.map((e) => `add ${s.name} ${e}`)]);
  return async (cmd, args) => {
    if (cmd === 'iptables' && args[0] === '-V') return { stdout: 'iptables v1.8.9 (nf_tables)', stderr: '', code: 0 };
    if (cmd === 'iptables-nft-save') return { stdout: save.join('\n') + '\n', stderr: '', code: 0 };
    if (cmd === 'ipset' && args[0] === 'save') return { stdout: sets.join('\n') + '\n', stderr: '', code: 0 };
    if (cmd.endsWith('-save')) return { stdout: '', stderr: '', code: 0 };
    throw new ExecError(cmd, args, 127, null, 'not found', '', false, true);
  };
}

describe('--kernel comparison', () => {
  it('identical when the kernel holds the plan', async () => {
    const k = await compareWithKernel(run.explanation, run.plans, () => fakeNode(plan));
    expect(k).toHaveLength(1);
    expect(k[0]!.backend).toBe('nft');
    expect(k[0]!.items.filter((i) => !i.same)).toEqual([]);
    expect(k[0]!.items.map((i) => i.kind)).toEqual(expect.arrayContaining(['jump', 'chain', 'set']));
    expect(formatExplanation(run.explanation, k)).toContain('node1: identical');
  });

  it('names the chain, the rule and the set entries that differ, and an unreachable node', async () => {
    const t = plan.tables.get(4)!;
    const dispatch = run.explanation.directions.find((d) => d.direction === 'ingress')!.dispatchChain!;
    const chains = new Map(t.chains);
    chains.set(dispatch, []);
    const set = run.explanation.directions.find((d) => d.direction === 'ingress')!.policies[0]!.targetSet;
    const sets = new Map(plan.sets);
    sets.set(set, { ...plan.sets.get(set)!, entries: [] });
    const stale: FirewallPlan = { ...plan, tables: new Map([[4, { ...t, chains }]]), sets };
    const [k] = await compareWithKernel(run.explanation, run.plans, () => fakeNode(stale));
    const bad = k!.items.filter((i) => !i.same);
    expect(bad.map((i) => [i.kind, i.name])).toEqual(expect.arrayContaining([['chain', dispatch], ['set', set]]));
    expect(bad.find((i) => i.name === set)!.detail).toContain('missing 10.244.1.3');
    const [none] = await compareWithKernel(run.explanation, run.plans, () => undefined);
    expect(none!.error).toContain('KRT_EXPLAIN_KERNEL');
  });
});
