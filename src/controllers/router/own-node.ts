// What the router does when this node's own Node object disappears from the API (deleted, e.g. by an
// operator or a node lifecycle controller) and when its pod CIDR changes at runtime. Both decided in
// README.md ("Own Node deletion", "Pod CIDR change").
import type { Logger } from 'pino';
import type { HealthReporter } from '../controller.js';
import type { NodeModel, PodModel } from '../../model/types.js';
import type { PeerStatus } from '../../bgp/api.js';
import { cidrContainsIP, parseCIDR } from '../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../model/normalize/ip.js';

/**
 * Keeps the last state of our own Node through its deletion, so every sync goes on from it and the dataplane
 * stays as it was: the deletion may be transient (a re-registering kubelet), and the pods running here keep
 * their connectivity on this side. Logged once, reported degraded (KRT_ROUTER_OWN_NODE_MISSING) until it is back.
 * A Node never seen is not held: that stays the "no pod CIDR" problem.
 */
export class OwnNodeHold {
  private last: NodeModel | undefined;
  private missingSince = 0;

  constructor(
    private readonly nodeName: string,
    private readonly log: Logger,
    private readonly health: HealthReporter,
    private readonly controller: string,
  ) {}

  get missing(): boolean {
    return this.missingSince > 0;
  }

  /** The Node to sync from; `cameBack` on the first sync after it reappeared. */
  observe(current: NodeModel | undefined, podCidrs: readonly string[]): { self: NodeModel | undefined; cameBack: boolean } {
    if (current) {
      const cameBack = this.missingSince > 0;
      if (cameBack) {
        this.log.info({ node: this.nodeName, missingForMs: Date.now() - this.missingSince }, 'own Node object is back; resuming normal sync (route removals held until the peers are up)');
        this.missingSince = 0;
        this.health.degraded?.(this.controller, undefined);
      }
      this.last = current;
      return { self: current, cameBack };
    }
    if (!this.last) return { self: undefined, cameBack: false };
    if (this.missingSince === 0) {
      this.missingSince = Date.now();
      this.log.error(
        { node: this.nodeName, code: 'KRT_ROUTER_OWN_NODE_MISSING', podCidrs },
        'own Node object deleted from the API: keeping the dataplane as it is (CNI config, kube-bridge, routes, rules) until it is back; ' +
          "the other nodes drop their routes to this node's pods meanwhile",
      );
    }
    this.health.degraded?.(
      this.controller,
      `own Node object ${this.nodeName} is missing from the API; keeping its last state (pod CIDR ${podCidrs.join(',') || 'none'})`,
      'KRT_ROUTER_OWN_NODE_MISSING',
    );
    return { self: this.last, cameBack: false };
  }
}

/** How many of this node's (non-host-network) pods hold an address in `from` but not in `to`. */
export function podsOutside(from: readonly string[], to: readonly string[], nodeName: string, pods: Iterable<PodModel>): number {
  const old = from.filter((c) => !to.includes(c)).map((c) => parseCIDR(c, GO_ADDRESSES)).filter((c) => c !== undefined);
  if (old.length === 0) return 0;
  let n = 0;
  for (const p of pods) {
    if (p.nodeName !== nodeName || p.hostNetwork) continue;
    if (p.podIPs.some((ip) => old.some((c) => cidrContainsIP(c, ip)))) n++;
  }
  return n;
}

/** BGP Cease subcode 3: the peer removed us from its configuration (RFC 4486). */
const CEASE = 6;
const PEER_DECONFIGURED = 3;

/** Peers not up now whose last session ended, less than `withinMs` ago, with them telling us they de-configured us. */
export function peersThatDeconfiguredUs(peers: readonly PeerStatus[], withinMs: number): PeerStatus[] {
  return peers.filter((p) =>
    p.state !== 'Established' && p.lastDown?.kind === 'notification-received' &&
    p.lastDown.code === CEASE && p.lastDown.subcode === PEER_DECONFIGURED && p.lastDown.agoMs < withinMs);
}
