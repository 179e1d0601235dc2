import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { NodeModel, PodModel } from '../../model/types.js';
import { RecordingHealth } from '../../testing/router/harness.js';
import type { PeerStatus } from '../../bgp/api.js';
import { OwnNodeHold, peersThatDeconfiguredUs, podsOutside } from './own-node.js';

const node = (podCIDRs: string[]): NodeModel => ({
  name: 'n1', uid: 'u', labels: {}, annotations: {}, internalIPs: ['192.168.1.1'], externalIPs: [], primaryIP: '192.168.1.1',
  podCIDRs, unschedulable: false, ready: true,
});
const pod = (name: string, nodeName: string, podIPs: string[], hostNetwork = false): PodModel => ({
  namespace: 'default', name, uid: name, labels: {}, annotations: {}, nodeName, hostNetwork, phase: 'Running', podIPs, ports: [], deleting: false,
});

describe('OwnNodeHold', () => {
  it('holds the last seen Node while it is missing, reports degraded once it is, and says when it came back', () => {
    const health = new RecordingHealth();
    const hold = new OwnNodeHold('n1', pino({ level: 'silent' }), health, 'router');
    expect(hold.observe(undefined, [])).toEqual({ self: undefined, cameBack: false }); // never seen: not held
    expect(health.degraded_).toBeUndefined();
    const n = node(['10.244.1.0/24']);
    expect(hold.observe(n, [])).toEqual({ self: n, cameBack: false });
    expect(hold.observe(undefined, ['10.244.1.0/24'])).toEqual({ self: n, cameBack: false });
    expect(hold.missing).toBe(true);
    expect(health.degradedCode).toBe('KRT_ROUTER_OWN_NODE_MISSING');
    expect(health.degraded_).toContain('10.244.1.0/24');
    const back = node(['10.244.1.0/24']);
    expect(hold.observe(back, ['10.244.1.0/24'])).toEqual({ self: back, cameBack: true });
    expect(hold.missing).toBe(false);
    expect(health.degraded_).toBeUndefined();
    expect(hold.observe(back, ['10.244.1.0/24']).cameBack).toBe(false);
  });
});

describe('podsOutside', () => {
  it('counts this node\'s pod-network pods left on addresses of a CIDR no longer ours', () => {
    const pods = [
      pod('old', 'n1', ['10.244.0.5']),
      pod('new', 'n1', ['10.244.9.5']),
      pod('host', 'n1', ['10.244.0.6'], true),
      pod('elsewhere', 'n2', ['10.244.0.7']),
      pod('pending', 'n1', []),
    ];
    expect(podsOutside(['10.244.0.0/24'], ['10.244.9.0/24'], 'n1', pods)).toBe(1);
    expect(podsOutside(['10.244.0.0/24'], ['10.244.0.0/24', '10.244.9.0/24'], 'n1', pods)).toBe(0);
  });
});

describe('peersThatDeconfiguredUs', () => {
  const peer = (address: string, state: PeerStatus['state'], lastDown?: PeerStatus['lastDown']): PeerStatus => ({
    address, asn: 64512, state, internal: true, receivedPrefixes: 0, advertisedPrefixes: 0, ...(lastDown ? { lastDown } : {}),
  });
  it('picks only peers down after receiving Cease "peer de-configured" within the window', () => {
    const peers = [
      peer('10.0.0.1', 'Active', { kind: 'notification-received', code: 6, subcode: 3, agoMs: 200 }),
      peer('10.0.0.2', 'Active', { kind: 'notification-received', code: 6, subcode: 2, agoMs: 200 }), // admin shutdown: a stopping agent
      peer('10.0.0.3', 'Active', { kind: 'notification-sent', code: 6, subcode: 3, agoMs: 200 }), // we removed it
      peer('10.0.0.4', 'Active', { kind: 'notification-received', code: 6, subcode: 3, agoMs: 20_000 }), // too long ago
      peer('10.0.0.5', 'Established', { kind: 'notification-received', code: 6, subcode: 3, agoMs: 200 }), // back up
      peer('10.0.0.6', 'Connect'),
    ];
    expect(peersThatDeconfiguredUs(peers, 15_000).map((p) => p.address)).toEqual(['10.0.0.1']);
  });
});
