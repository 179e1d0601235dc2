// --kernel on a native-backend node: `nft list table` output (captured from the kernel after the native
// applier loaded this very plan) compared with the plan, then the same text with a rule and an element
// gone. nft prints its own normal form (merged ranges, no input spacing), so this pins the parser to it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFirewall } from '../controllers/firewall/compile/compiler.js';
import { namespace, pod, policy, snapshot } from '../testing/firewall/fixtures.js';
import { nodeOptions } from '../testing/firewall/reach.js';
import { compareNftNode, parseNftTable } from './kernel-nft.js';

const listing = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'nft-list-table.txt'), 'utf8');
const plan = compileFirewall(
  snapshot({
    namespaces: [namespace('x')],
    pods: [
      pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { app: 'a' }, ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }),
      pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { app: 'b' } }),
    ],
    policies: [
      policy('x', 'p', {
        podSelector: { matchLabels: { app: 'b' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a' } } }, { ipBlock: { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] } }], ports: [{ port: 'http' }] }],
      }),
    ],
  }),
  nodeOptions('node1'),
);
const all = new Set(plan.tables.get(4)!.chains.keys());
const hooks = new Set(['INPUT', 'FORWARD', 'OUTPUT']);

describe('--kernel comparison, native nftables', () => {
  it('finds every chain, base-chain jump and set of the plan in the listing, identical', () => {
    const r = compareNftNode(parseNftTable(listing), 'node1', plan, 4, all, hooks);
    expect(r.backend).toBe('nftables');
    expect(r.items.length).toBe(all.size + 3 + new Set([...plan.tables.get(4)!.chains.values()].flat().flatMap((x) => x.matches.flatMap((m) => (m.kind === 'set' ? [m.set] : [])))).size);
    expect(r.items.filter((i) => !i.same)).toEqual([]);
  });

  it('names the chain whose rule is missing and the set whose element is', () => {
    const lines = listing.split('\n');
    const dropped = lines.findIndex((l) => l.includes('jump KUBE-NWPLCY-') && l.includes('rule to jump to ingress chain'));
    const broken = lines
      .filter((_, i) => i !== dropped)
      .join('\n')
      .replace('elements = { 10.244.1.2, 10.244.1.3 }', 'elements = { 10.244.1.3 }');
    const diff = compareNftNode(parseNftTable(broken), 'node1', plan, 4, all, hooks).items.filter((i) => !i.same);
    expect(diff.map((i) => i.kind).sort()).toEqual(['chain', 'set']);
    expect(diff.find((i) => i.kind === 'chain')!.name).toMatch(/^KUBE-NS-IN-/);
    expect(diff.find((i) => i.kind === 'set')!.detail).toBe('1 missing, 0 extra in the kernel');
  });
});
