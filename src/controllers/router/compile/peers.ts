// Desired BGP sessions for this node: the internal mesh (or route-reflector roles) over every other Node,
// plus external peers from flags and this node's annotations, with kube-router's import/export rules.
import type { PeerConfig, ExportPolicy, ImportPolicy } from '../../../bgp/api.js';
import type { NodeModel } from '../../../model/types.js';
import { effectiveClusterAsn, type RouterOptions } from '../options.js';
import {
  ANN, decodePassword, parseAsn, parseClusterId, parseCidrList, parseCommunities, parseLegacyPeerAnnotations,
  parsePeersAnnotation, parsePrepend, type AnnotatedPeer,
} from './annotations.js';
import { GO_ADDRESSES, ipFamily } from '../../../model/normalize/ip.js';

export interface PeerPlan {
  /** Our AS number, or undefined when it cannot be determined (then no BGP at all). */
  readonly asn?: number;
  /** Set when this node is a route reflector (kube-router.io/rr.server). */
  readonly clusterId?: string;
  readonly peers: readonly PeerConfig[];
  /** Addresses of the internal (other node) peers: routes from them are candidates for tunnels. */
  readonly internalAddresses: readonly string[];
  readonly errors: readonly string[];
}

export interface PeerInputs {
  readonly self: NodeModel;
  readonly nodes: Iterable<NodeModel>;
  readonly opts: RouterOptions;
  /** Decoded lines of --peer-router-passwords-file (base64 per line), read by the controller. */
  readonly passwordsFileLines?: readonly string[];
  /** Service VIP ranges and VIPs that must never be learned back from a peer. */
  readonly importRejects: readonly string[];
  /**
   * Other nodes' pod CIDRs: never sent to external peers (kube-router's export policy sends only this
   * node's own pod CIDR and VIPs outside the cluster, so a ToR routes each CIDR to its owning node).
   */
  readonly otherPodCidrs?: readonly string[];
}

function nodeAsn(node: NodeModel, opts: RouterOptions, errors: string[]): number | undefined {
  if (opts.nodesFullMesh) return effectiveClusterAsn(opts);
  const text = node.annotations[ANN.nodeAsn];
  if (text === undefined) {
    if (opts.clusterAsn > 0) return opts.clusterAsn;
    errors.push(`node ${node.name}: --nodes-full-mesh=false needs annotation ${ANN.nodeAsn} (or --cluster-asn)`);
    return undefined;
  }
  const asn = parseAsn(text);
  if (asn === undefined) errors.push(`node ${node.name}: ${ANN.nodeAsn}=${JSON.stringify(text)} is not a valid AS number`);
  return asn;
}

function familyEnabled(ip: string, opts: RouterOptions): boolean {
  const f = ipFamily(ip, GO_ADDRESSES);
  return (f === 4 && opts.enableIpv4) || (f === 6 && opts.enableIpv6);
}

export function compilePeers(inp: PeerInputs): PeerPlan {
  const { self, opts } = inp;
  const errors: string[] = [];
  const asn = nodeAsn(self, opts, errors);
  if (asn === undefined) return { peers: [], internalAddresses: [], errors };
  const holdTimeSec = Math.round(opts.bgpHoldtimeMs / 1000);
  const gr = opts.bgpGracefulRestart;
  const where = `node ${self.name}`;

  const customRejects = parseCidrList(self.annotations[ANN.customImportReject], ANN.customImportReject, where);
  errors.push(...customRejects.errors);
  const importPolicy: ImportPolicy = { rejectDefault: true, rejectPrefixes: [...inp.importRejects, ...customRejects.value] };
  const communities = parseCommunities(self.annotations[ANN.communities], where);
  const prepend = parsePrepend(self.annotations, where);
  errors.push(...communities.errors, ...prepend.errors);
  const exportPolicy: ExportPolicy = {
    ...(inp.otherPodCidrs && inp.otherPodCidrs.length > 0 ? { rejectPrefixes: [...inp.otherPodCidrs] } : {}),
    ...(communities.value.length > 0 ? { addCommunities: communities.value } : {}),
    ...(prepend.value ? { asPathPrepend: prepend.value } : {}),
  };

  const rrServerText = self.annotations[ANN.rrServer];
  const rrClientText = self.annotations[ANN.rrClient];
  let clusterId: string | undefined;
  if (rrServerText !== undefined) {
    clusterId = parseClusterId(rrServerText);
    if (!clusterId) errors.push(`${where}: ${ANN.rrServer}=${JSON.stringify(rrServerText)} is not a cluster id (uint32 or IPv4); not acting as reflector`);
  }
  const isRrServer = clusterId !== undefined;
  const isRrClient = !isRrServer && rrClientText !== undefined;

  const peers = new Map<string, PeerConfig>();
  const internalAddresses: string[] = [];
  if (opts.enableIbgp) {
    for (const node of inp.nodes) {
      if (node.name === self.name) continue;
      const ip = node.primaryIP;
      if (!ip || ip === self.primaryIP || !familyEnabled(ip, opts)) continue;
      const theirErrors: string[] = [];
      const theirAsn = nodeAsn(node, opts, theirErrors);
      // Another node's broken annotation is that node's problem: skip it quietly here (it reports it).
      if (theirAsn === undefined || theirAsn !== asn) continue;
      const theyAreServer = node.annotations[ANN.rrServer] !== undefined;
      const theyAreClient = !theyAreServer && node.annotations[ANN.rrClient] !== undefined;
      // Clients talk only to reflectors; reflectors talk to everyone; plain nodes form the usual mesh
      // (and do not mesh with clients, which would defeat the reflectors).
      if (isRrClient && !theyAreServer) continue;
      if (!isRrServer && !isRrClient && theyAreClient) continue;
      peers.set(ip, {
        address: ip,
        asn,
        port: opts.bgpPort,
        ...(self.primaryIP ? { localAddress: self.primaryIP } : {}),
        holdTimeSec,
        gracefulRestart: gr,
        routeReflectorClient: isRrServer && theyAreClient,
        importPolicy,
      });
      internalAddresses.push(ip);
    }
  }

  const external: AnnotatedPeer[] = [];
  const ips = opts.peerRouterIps;
  if (ips.length > 0) {
    if (opts.peerRouterAsns.length !== ips.length) {
      errors.push(`--peer-router-ips has ${ips.length} entries but --peer-router-asns has ${opts.peerRouterAsns.length}; global peers skipped`);
    } else {
      const pwSource = opts.peerRouterPasswords.length > 0 ? opts.peerRouterPasswords : (inp.passwordsFileLines ?? []);
      ips.forEach((address, i) => {
        const peer: { -readonly [K in keyof AnnotatedPeer]: AnnotatedPeer[K] } = { address, asn: opts.peerRouterAsns[i]! };
        const port = opts.peerRouterPorts[i];
        if (port !== undefined) peer.port = port;
        const pw = pwSource[i];
        if (pw !== undefined && pw !== '') {
          const decoded = decodePassword(pw);
          if (decoded === undefined) errors.push(`peer router password ${i} is not base64; ${address} peered without a password`);
          else peer.password = decoded;
        }
        external.push(peer);
      });
    }
  }
  const annotated = self.annotations[ANN.peers] !== undefined
    ? parsePeersAnnotation(self.annotations[ANN.peers]!, where)
    : parseLegacyPeerAnnotations(self.annotations, where);
  errors.push(...annotated.errors);
  external.push(...annotated.value);

  for (const p of external) {
    if (!familyEnabled(p.address, opts)) continue;
    if (peers.has(p.address)) {
      errors.push(`${where}: external peer ${p.address} is also a node; kept as internal peer`);
      continue;
    }
    const ebgp = p.asn !== asn;
    peers.set(p.address, {
      address: p.address,
      asn: p.asn,
      port: p.port ?? opts.bgpPort,
      ...(p.localAddress ? { localAddress: p.localAddress } : self.primaryIP ? { localAddress: self.primaryIP } : {}),
      ...(p.password !== undefined ? { password: p.password } : {}),
      ...(ebgp && opts.peerRouterMultihopTtl >= 2 ? { multihopTtl: opts.peerRouterMultihopTtl } : {}),
      holdTimeSec,
      gracefulRestart: gr,
      importPolicy,
      exportPolicy,
    });
  }

  return { asn, ...(clusterId ? { clusterId } : {}), peers: [...peers.values()], internalAddresses, errors };
}
