// An in-memory BGP "network" of BgpSpeaker test doubles, used until src/bgp can peer and for the
// 20+-node simulated bench. It honours the declarative contract of bgp/api.ts: a session exists when both
// sides are started and name each other with the right ASN; routes flow with iBGP split horizon, route
// reflection, `to` filters, import rejects, and graceful restart (a gracefully stopped speaker's routes
// stay, marked stale, until it comes back or its restart time runs out).
import { EventEmitter } from 'node:events';
import type {
  Advertisement, BestPathChange, BgpSpeaker, PeerConfig, PeerStatus, Route, SessionState, SpeakerEvents, SpeakerOptions,
} from '../../bgp/api.js';
import { cidrContains, parseCIDROrIP } from '../../model/normalize/cidr.js';
import { GO_ADDRESSES } from '../../model/normalize/ip.js';

interface Node {
  readonly opts: SpeakerOptions;
  readonly address: string;
  readonly emitter: EventEmitter;
  started: boolean;
  /** Gracefully stopped: peers keep what it sent, as stale, until `staleUntil`. */
  ghost?: { staleUntil: number; exports: Map<string, Route[]> };
  peers: PeerConfig[];
  ads: Advertisement[];
  best: Map<string, Route>;
  states: Map<string, SessionState>;
  speaker?: MemorySpeaker;
}

/** `inner` lies inside (or is) `outer`, either given as a CIDR or a bare address, as a reject list may be. */
const within = (outer: string, inner: string): boolean => {
  const o = parseCIDROrIP(outer, GO_ADDRESSES), i = parseCIDROrIP(inner, GO_ADDRESSES);
  return o !== undefined && i !== undefined && cidrContains(o, i);
};
const familyOf = (prefix: string) => (parseCIDROrIP(prefix, GO_ADDRESSES)?.family === 6 ? 'ipv6-unicast' : 'ipv4-unicast') as Route['family'];

export class MemoryBgpNetwork {
  private readonly nodes = new Map<string, Node>();
  private scheduled = false;
  /** Extra delay before routes propagate (simulates the wire); 0 = next macrotask. */
  constructor(private readonly delayMs = 0) {}

  createSpeaker(opts: SpeakerOptions): BgpSpeaker {
    const address = opts.listenAddresses?.[0] ?? opts.routerId;
    const prev = this.nodes.get(address);
    const node: Node = {
      opts, address, emitter: new EventEmitter(), started: false, peers: [], ads: [], best: new Map(), states: new Map(),
      ...(prev?.ghost ? { ghost: prev.ghost } : {}),
    };
    this.nodes.set(address, node);
    const sp = new MemorySpeaker(this, node);
    node.speaker = sp;
    return sp;
  }

  /** @internal */ schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => { this.scheduled = false; this.recompute(); }, this.delayMs);
  }

  private session(a: Node, b: Node): PeerConfig | undefined {
    if (!a.started || !b.started) return undefined;
    const ab = a.peers.find((p) => p.address === b.address && p.asn === b.opts.asn);
    const ba = b.peers.find((p) => p.address === a.address && p.asn === a.opts.asn);
    return ab && ba ? ab : undefined;
  }

  private exportsTo(from: Node, to: Node, cfg: PeerConfig, ribIn: Map<Node, Map<string, Route>>): Route[] {
    const internal = from.opts.asn === to.opts.asn;
    const local = cfg.localAddress ?? from.address;
    const out: Route[] = [];
    for (const ad of from.ads) {
      const dest = ad.to ?? 'all';
      if (dest === 'internal' && !internal) continue;
      if (dest === 'external' && internal) continue;
      if (Array.isArray(dest) && !dest.includes(to.address)) continue;
      if (cfg.exportPolicy?.rejectPrefixes?.some((r) => within(r, ad.prefix))) continue;
      out.push({
        prefix: ad.prefix, family: familyOf(ad.prefix), nextHop: ad.nextHop ?? local, peer: from.address,
        asPath: internal ? [] : [from.opts.asn], communities: [...(ad.communities ?? []), ...(cfg.exportPolicy?.addCommunities ?? [])], stale: false,
      });
    }
    for (const r of ribIn.get(from)?.values() ?? []) {
      if (r.peer === undefined || r.peer === to.address) continue;
      const fromCfg = from.peers.find((p) => p.address === r.peer);
      const learnedInternal = this.nodes.get(r.peer)?.opts.asn === from.opts.asn;
      if (internal && learnedInternal) {
        // iBGP split horizon, except a reflector reflects client routes to all and others' to clients.
        const reflect = !!fromCfg?.routeReflectorClient || !!cfg.routeReflectorClient;
        if (!reflect) continue;
        out.push({ ...r, peer: from.address });
      } else {
        out.push({ ...r, peer: from.address, nextHop: internal ? r.nextHop : local, asPath: internal ? r.asPath : [from.opts.asn, ...r.asPath] });
      }
    }
    return out;
  }

  private recompute(): void {
    const now = Date.now();
    for (const n of this.nodes.values()) if (n.ghost && n.ghost.staleUntil <= now) delete n.ghost;
    // Fixpoint over best paths: two rounds per reflection hop, bounded.
    let best = new Map<Node, Map<string, Route>>();
    for (let round = 0; round < 6; round++) {
      const next = new Map<Node, Map<string, Route>>();
      for (const n of this.nodes.values()) {
        if (!n.started) continue;
        const cands = new Map<string, Route[]>();
        const add = (r: Route) => cands.set(r.prefix, [...(cands.get(r.prefix) ?? []), r]);
        for (const ad of n.ads) add({ prefix: ad.prefix, family: familyOf(ad.prefix), nextHop: ad.nextHop ?? n.address, asPath: [], communities: [], stale: false });
        for (const m of this.nodes.values()) {
          if (m === n) continue;
          const cfg = n.peers.find((p) => p.address === m.address);
          let routes: Route[] = [];
          const outCfg = this.session(m, n);
          // A restarted speaker that has not re-advertised yet (no End-of-RIB) still counts as its stale copy.
          if (outCfg && !m.ghost) routes = this.exportsTo(m, n, outCfg, best);
          else if (m.ghost && cfg && cfg.gracefulRestart !== false) routes = (m.ghost.exports.get(n.address) ?? []).map((r) => ({ ...r, stale: true }));
          for (const r of routes) {
            const imp = cfg?.importPolicy;
            if (imp?.rejectDefault && /\/0$/.test(r.prefix)) continue;
            if (imp?.rejectPrefixes?.some((x) => within(x, r.prefix))) continue;
            if (!n.opts.asn || r.asPath.includes(n.opts.asn)) continue;
            add(r);
          }
        }
        const chosen = new Map<string, Route>();
        for (const [prefix, rs] of cands) {
          rs.sort((a, b) => (a.peer === undefined ? -1 : b.peer === undefined ? 1 : a.asPath.length - b.asPath.length || (a.peer < b.peer! ? -1 : 1)));
          chosen.set(prefix, rs[0]!);
        }
        next.set(n, chosen);
      }
      best = next;
    }
    for (const n of this.nodes.values()) {
      const chosen = best.get(n) ?? new Map<string, Route>();
      for (const p of n.peers) {
        const m = this.nodes.get(p.address);
        const state: SessionState = m && this.session(n, m) ? 'Established' : 'Active';
        const prev = n.states.get(p.address) ?? 'Idle';
        if (prev !== state) {
          n.states.set(p.address, state);
          n.emitter.emit('peerStateChanged', n.speaker!.statusOf(p), prev);
        }
      }
      const old = n.best;
      n.best = chosen;
      for (const [prefix, r] of chosen) {
        const o = old.get(prefix);
        if (!o || o.nextHop !== r.nextHop || o.peer !== r.peer || o.stale !== r.stale) n.emitter.emit('bestPathChanged', { prefix, family: r.family, best: r } satisfies BestPathChange);
      }
      for (const [prefix, o] of old) if (!chosen.has(prefix)) n.emitter.emit('bestPathChanged', { prefix, family: o.family } satisfies BestPathChange);
    }
    // Remember what each started node exports, for graceful restart.
    for (const n of this.nodes.values()) (n as Node & { lastExports?: Map<string, Route[]> }).lastExports = this.snapshotExports(n, best);
    if ([...this.nodes.values()].some((n) => n.ghost)) setTimeout(() => this.schedule(), 200).unref();
  }

  private snapshotExports(n: Node, best: Map<Node, Map<string, Route>>): Map<string, Route[]> {
    const out = new Map<string, Route[]>();
    for (const m of this.nodes.values()) {
      const cfg = m === n ? undefined : this.session(n, m);
      if (cfg) out.set(m.address, this.exportsTo(n, m, cfg, best));
    }
    return out;
  }

  /** @internal */ stopNode(node: Node, graceful: boolean): void {
    const last = (node as Node & { lastExports?: Map<string, Route[]> }).lastExports;
    if (graceful && node.opts.gracefulRestart && last) {
      node.ghost = { staleUntil: Date.now() + node.opts.gracefulRestart.restartTimeSec * 1000, exports: last };
    }
    node.started = false;
    this.schedule();
  }
}

class MemorySpeaker implements BgpSpeaker {
  constructor(private readonly net: MemoryBgpNetwork, private readonly node: Node) {}

  async start(): Promise<void> {
    this.node.started = true;
    this.net.schedule();
  }
  async stop(options?: { graceful?: boolean }): Promise<void> {
    this.net.stopNode(this.node, !!options?.graceful);
  }
  setPeers(peers: readonly PeerConfig[]): void {
    this.node.peers = [...peers];
    for (const a of [...this.node.states.keys()]) if (!peers.some((p) => p.address === a)) this.node.states.delete(a);
    this.net.schedule();
  }
  setAdvertisements(ads: readonly Advertisement[]): void {
    this.node.ads = [...ads];
    // Coming back from a graceful restart: our fresh routes replace the stale copy once we re-advertise.
    if (this.node.started) delete this.node.ghost;
    this.net.schedule();
  }
  statusOf(p: PeerConfig): PeerStatus {
    const learned = [...this.node.best.values()].filter((r) => r.peer === p.address).length;
    return {
      address: p.address, asn: p.asn, state: this.node.states.get(p.address) ?? 'Active', internal: p.asn === this.node.opts.asn,
      receivedPrefixes: learned, advertisedPrefixes: this.node.ads.length,
    };
  }
  peers(): readonly PeerStatus[] {
    return this.node.peers.map((p) => this.statusOf(p));
  }
  bestPaths(): readonly Route[] {
    return [...this.node.best.values()];
  }
  requestRouteRefresh(address: string): boolean {
    // Routes here are recomputed from the peers' live state, so a refresh is just a recompute.
    if (this.node.states.get(address) !== 'Established') return false;
    this.net.schedule();
    return true;
  }
  on<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this {
    this.node.emitter.on(event, listener as (...a: unknown[]) => void);
    return this;
  }
  off<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this {
    this.node.emitter.off(event, listener as (...a: unknown[]) => void);
    return this;
  }
}
