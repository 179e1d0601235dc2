import { describe, expect, it } from 'vitest';
import { testNode } from '../../../testing/router/memory-cluster.js';
import { routerDefaults } from '../options.js';
import { compilePeers } from './peers.js';
import { parsePeersAnnotation } from './annotations.js';

const opts = routerDefaults({}, {});
const n1 = testNode('n1', '10.0.0.1', ['10.244.1.0/24']);
const n2 = testNode('n2', '10.0.0.2', ['10.244.2.0/24']);
const n3 = testNode('n3', '10.0.0.3', ['10.244.3.0/24']);

const addrs = (p: { peers: readonly { address: string }[] }) => p.peers.map((x) => x.address).sort();

describe('compilePeers: internal mesh', () => {
  it('peers with every other node in the cluster ASN', () => {
    const p = compilePeers({ self: n1, nodes: [n1, n2, n3], opts, importRejects: [] });
    expect(p.asn).toBe(64512);
    expect(addrs(p)).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(p.peers[0]).toMatchObject({ asn: 64512, localAddress: '10.0.0.1', holdTimeSec: 90, routeReflectorClient: false });
    expect(p.internalAddresses).toEqual(['10.0.0.2', '10.0.0.3']);
  });
  it('no internal peers with --enable-ibgp=false', () => {
    expect(compilePeers({ self: n1, nodes: [n1, n2], opts: { ...opts, enableIbgp: false }, importRejects: [] }).peers).toEqual([]);
  });
  it('without full mesh uses per-node ASNs and peers only within the same ASN', () => {
    const o = { ...opts, nodesFullMesh: false };
    const a = testNode('a', '10.0.0.1', [], { 'kube-router.io/node.asn': '65001' });
    const b = testNode('b', '10.0.0.2', [], { 'kube-router.io/node.asn': '65001' });
    const c = testNode('c', '10.0.0.3', [], { 'kube-router.io/node.asn': '65002' });
    const p = compilePeers({ self: a, nodes: [a, b, c], opts: o, importRejects: [] });
    expect(p.asn).toBe(65001);
    expect(addrs(p)).toEqual(['10.0.0.2']);
  });
  it('a missing node.asn without full mesh is an error, not a crash', () => {
    const p = compilePeers({ self: n1, nodes: [n1, n2], opts: { ...opts, nodesFullMesh: false }, importRejects: [] });
    expect(p.asn).toBeUndefined();
    expect(p.errors[0]).toContain('kube-router.io/node.asn');
  });
});

describe('compilePeers: route reflectors', () => {
  const rr = testNode('rr', '10.0.0.10', [], { 'kube-router.io/rr.server': '42' });
  const c1 = testNode('c1', '10.0.0.11', [], { 'kube-router.io/rr.client': '42' });
  const c2 = testNode('c2', '10.0.0.12', [], { 'kube-router.io/rr.client': '42' });
  const plain = testNode('p', '10.0.0.13', []);
  const all = [rr, c1, c2, plain];
  it('the server peers with everyone and marks clients', () => {
    const p = compilePeers({ self: rr, nodes: all, opts, importRejects: [] });
    expect(p.clusterId).toBe('0.0.0.42');
    expect(p.peers.map((x) => [x.address, x.routeReflectorClient])).toEqual([['10.0.0.11', true], ['10.0.0.12', true], ['10.0.0.13', false]]);
  });
  it('a client peers only with servers', () => {
    expect(addrs(compilePeers({ self: c1, nodes: all, opts, importRejects: [] }))).toEqual(['10.0.0.10']);
  });
  it('a plain node skips clients', () => {
    expect(addrs(compilePeers({ self: plain, nodes: all, opts, importRejects: [] }))).toEqual(['10.0.0.10']);
  });
  it('a bad cluster id is reported', () => {
    const bad = testNode('rr', '10.0.0.10', [], { 'kube-router.io/rr.server': 'not-an-id' });
    const p = compilePeers({ self: bad, nodes: [bad, c1], opts, importRejects: [] });
    expect(p.clusterId).toBeUndefined();
    expect(p.errors.join()).toContain('rr.server');
  });
});

describe('compilePeers: external peers', () => {
  it('from flags with ports, base64 passwords and multihop', () => {
    const o = { ...opts, peerRouterIps: ['192.168.1.1', '192.168.1.2'], peerRouterAsns: [65000, 65000], peerRouterPorts: [1179], peerRouterPasswords: [Buffer.from('s3cret').toString('base64')], peerRouterMultihopTtl: 3 };
    const p = compilePeers({ self: n1, nodes: [n1], opts: o, importRejects: ['10.96.0.0/12'] });
    expect(p.peers).toHaveLength(2);
    expect(p.peers[0]).toMatchObject({ address: '192.168.1.1', asn: 65000, port: 1179, password: 's3cret', multihopTtl: 3 });
    expect(p.peers[1]).toMatchObject({ address: '192.168.1.2', port: 179 });
    expect(p.peers[1]!.password).toBeUndefined();
    expect(p.peers[0]!.importPolicy).toEqual({ rejectDefault: true, rejectPrefixes: ['10.96.0.0/12'] });
  });
  it('other nodes\' pod CIDRs are never exported to external peers (only to the mesh)', () => {
    const o = { ...opts, peerRouterIps: ['192.168.1.1'], peerRouterAsns: [65000] };
    const p = compilePeers({ self: n1, nodes: [n1, n2], opts: o, importRejects: [], otherPodCidrs: ['10.244.2.0/24'] });
    expect(p.peers.find((x) => x.address === '192.168.1.1')!.exportPolicy!.rejectPrefixes).toEqual(['10.244.2.0/24']);
    expect(p.peers.find((x) => x.address === '10.0.0.2')!.exportPolicy).toBeUndefined();
  });
  it('mismatched flag lists are reported and skipped', () => {
    const p = compilePeers({ self: n1, nodes: [n1], opts: { ...opts, peerRouterIps: ['192.168.1.1'], peerRouterAsns: [] }, importRejects: [] });
    expect(p.peers).toEqual([]);
    expect(p.errors[0]).toContain('--peer-router-asns');
  });
  it('from the kube-router.io/peers YAML with communities, prepend and custom import rejects', () => {
    const self = testNode('n1', '10.0.0.1', [], {
      'kube-router.io/peers': '- remoteip: 192.168.1.1\n  remoteasn: 65000\n  port: 2179\n  password: ' + Buffer.from('pw').toString('base64') + '\n- remoteip: 192.168.1.2\n  remoteasn: 65001\n  localip: 10.0.0.1\n',
      'kube-router.io/node.bgp.communities': '65000:100,no-export',
      'kube-router.io/path-prepend.as': '65535',
      'kube-router.io/path-prepend.repeat-n': '2',
      'kube-router.io/node.bgp.customimportreject': '10.200.0.0/16',
    });
    const p = compilePeers({ self, nodes: [self], opts, importRejects: [] });
    expect(p.errors).toEqual([]);
    expect(p.peers[0]).toMatchObject({ address: '192.168.1.1', asn: 65000, port: 2179, password: 'pw' });
    expect(p.peers[0]!.exportPolicy).toEqual({ addCommunities: ['65000:100', 'no-export'], asPathPrepend: { asn: 65535, count: 2 } });
    expect(p.peers[0]!.importPolicy!.rejectPrefixes).toEqual(['10.200.0.0/16']);
    expect(p.peers[1]).toMatchObject({ address: '192.168.1.2', localAddress: '10.0.0.1' });
  });
  it('bad YAML in kube-router.io/peers is reported per node, other peering goes on', () => {
    const self = testNode('n1', '10.0.0.1', [], { 'kube-router.io/peers': '- remoteip: [unclosed\n  remoteasn: 1' });
    const p = compilePeers({ self, nodes: [self, n2], opts, importRejects: [] });
    expect(addrs(p)).toEqual(['10.0.0.2']);
    expect(p.errors[0]).toMatch(/node n1: annotation kube-router.io\/peers is not valid YAML/);
  });
  it('one bad entry skips only that peer', () => {
    const r = parsePeersAnnotation('- remoteip: 1.2.3.4\n  remoteasn: 65000\n- remoteip: nope\n  remoteasn: 1\n- remoteip: 1.2.3.5\n  remoteasn: 99999999999\n- 7\n', 'node x');
    expect(r.value.map((p) => p.address)).toEqual(['1.2.3.4']);
    expect(r.errors).toHaveLength(3);
  });
  it('a non-list peers annotation is an error', () => {
    expect(parsePeersAnnotation('remoteip: 1.2.3.4', 'node x').errors[0]).toContain('must be a YAML list');
  });
  it('reads the deprecated parallel-list annotations', () => {
    const self = testNode('n1', '10.0.0.1', [], { 'kube-router.io/peer.ips': '192.168.1.1,192.168.1.2', 'kube-router.io/peer.asns': '65000,65001', 'kube-router.io/peer.ports': '179,1790' });
    const p = compilePeers({ self, nodes: [self], opts, importRejects: [] });
    expect(p.peers.map((x) => [x.address, x.asn, x.port])).toEqual([['192.168.1.1', 65000, 179], ['192.168.1.2', 65001, 1790]]);
  });
  it('bad communities and half-set prepend are reported and ignored', () => {
    const self = testNode('n1', '10.0.0.1', [], { 'kube-router.io/peer.ips': '192.168.1.1', 'kube-router.io/peer.asns': '65000', 'kube-router.io/node.bgp.communities': 'x:y', 'kube-router.io/path-prepend.as': '65000' });
    const p = compilePeers({ self, nodes: [self], opts, importRejects: [] });
    expect(p.errors).toHaveLength(2);
    expect(p.peers[0]!.exportPolicy).toEqual({});
  });
});
