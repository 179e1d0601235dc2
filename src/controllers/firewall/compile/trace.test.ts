// The tracer's verdict comes with the rules that produced it, each with its origin: what `explain` will
// print (policy, rule index, peer, port; chain and set names).
import { describe, expect, it } from 'vitest';
import { namespace, pod, policy, snapshot } from '../../../testing/firewall/fixtures.js';
import { nodeOptions } from '../../../testing/firewall/reach.js';
import { compileFirewall } from './compiler.js';
import { namespacePodsChainName, policyChainName } from './names.js';
import { tracePacket } from './trace.js';

const a = pod({ ns: 'x', name: 'a', ip: '10.244.1.2', labels: { app: 'a' } });
const b = pod({ ns: 'x', name: 'b', ip: '10.244.1.3', labels: { app: 'b' } });
const c = pod({ ns: 'y', name: 'c', ip: '10.244.1.4', labels: { app: 'c' } });
const plan = compileFirewall(
  snapshot({
    namespaces: [namespace('x'), namespace('y', { team: 'blue' })],
    pods: [a, b, c],
    policies: [
      policy('x', 'web', {
        podSelector: { matchLabels: { app: 'a' } },
        ingress: [
          { from: [{ ipBlock: { cidr: '203.0.113.0/24' } }] },
          { from: [{ ipBlock: { cidr: '198.51.100.0/24' } }, { podSelector: { matchLabels: { app: 'b' } } }, { namespaceSelector: { matchLabels: { team: 'blue' } } }], ports: [{ port: 443 }, { protocol: 'TCP', port: 80 }] },
        ],
      }),
    ],
  }),
  nodeOptions('node1'),
);
const probe = (src: string, dport: number) => tracePacket(plan, { hook: 'FORWARD', src, dst: a.podIPs[0]!, proto: 'tcp', dport });

describe('tracePacket provenance', () => {
  it('names the policy, rule, peer and port that admitted a packet, and the chains on the way', () => {
    const r = probe(c.podIPs[0]!, 80);
    expect(r.verdict).toBe('ACCEPT');
    const admitted = r.steps.filter((s) => s.rule.origin.kind === 'policy');
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted[0]!.chain).toBe(policyChainName('x', 'web', 'ingress'));
    expect(admitted[0]!.rule.origin).toMatchObject({
      kind: 'policy',
      namespace: 'x',
      policy: 'web',
      direction: 'ingress',
      rule: 1,
      peer: { kind: 'pods', peers: [1, 2] },
      port: { kind: 'port', index: 1, protocol: 'TCP', port: 80 },
    });
    const peer = admitted[0]!.rule.origin.kind === 'policy' ? admitted[0]!.rule.origin.peer : undefined;
    // The peer set the rule matched on is the set the plan holds, with the source in it.
    expect(peer?.kind === 'pods' && plan.sets.get(peer.set)?.entries).toContain(c.podIPs[0]);
    expect(r.steps.some((s) => s.rule.origin.kind === 'dispatch' && s.rule.origin.policy === 'web')).toBe(true);
    expect(r.chains).toContain(namespacePodsChainName('x', 'ingress'));
  });

  it('an ipBlock peer is named by its index and CIDR', () => {
    const r = probe('203.0.113.7', 22);
    expect(r.verdict).toBe('ACCEPT');
    const o = r.steps.find((s) => s.rule.origin.kind === 'policy')!.rule.origin;
    expect(o).toMatchObject({ rule: 0, peer: { kind: 'ipBlock', peer: 0, cidr: '203.0.113.0/24' }, port: { kind: 'any' } });
  });

  it('a rejected packet ends on the namespace pod chain reject, with no policy rule matched', () => {
    const r = probe(b.podIPs[0]!, 22);
    expect(r).toMatchObject({ verdict: 'REJECT', logged: true });
    expect(r.steps.some((s) => s.rule.origin.kind === 'policy')).toBe(false);
    expect(r.steps.at(-1)!.rule.origin).toEqual({ kind: 'namespace-pods', namespace: 'x', direction: 'ingress', step: 'reject' });
  });
});
