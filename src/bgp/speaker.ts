// BgpSpeaker: listeners, declarative peers and advertisements, status and events. Routing state lives in
// RibHub; per-peer protocol in PeerSession.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type {
  AddressFamily, Advertisement, BestPathChange, BgpSpeaker, PeerConfig, PeerStatus, Route, SessionState,
  SpeakerEvents, SpeakerLog, SpeakerOptions,
} from './api.js';
import { normalizeAddress, resolvePeer, validateSpeakerOptions, type ResolvedPeer } from './config.js';
import { systemClock, Timer, type Clock } from './fsm/clock.js';
import type { DownReason, State } from './fsm/fsm.js';
import { buildLocalRoutes } from './local-routes.js';
import { loadAddon } from './native/addon.js';
import { RibHub, PeerRib } from './rib/hub.js';
import type { Path } from './rib/path.js';
import { PeerSession, type SessionOwner } from './session.js';
import { flattenAsPath } from './wire/attrs/as-path.js';
import { formatCommunity, formatLargeCommunities } from './wire/attrs/communities.js';
import { CEASE_ADMIN_SHUTDOWN, CEASE_OTHER_CONFIG_CHANGE, CEASE_PEER_DECONFIGURED } from './wire/constants.js';
import { formatKey, keyFamily, type Family, type PrefixKey } from './wire/prefix.js';
import type { UpdateMessage } from './wire/update.js';

const silentLog: SpeakerLog = { info() {}, warn() {}, debug() {}, error() {} };

export interface SpeakerInternals {
  /** Injected clock (tests). */
  readonly clock?: Clock;
}

export class Speaker extends EventEmitter implements BgpSpeaker, SessionOwner {
  readonly asn: number;
  readonly routerId: string;
  readonly connectRetrySec: number;
  readonly clock: Clock;
  readonly log: SpeakerLog;
  private readonly hub: RibHub;
  private readonly sessions = new Map<string, PeerRib>();
  private readonly rejected = new Map<string, { cfg: PeerConfig; errors: string[] }>();
  private servers: net.Server[] = [];
  private started = false;
  private stopped = false;
  private localIntern = new Map<string, Path>();
  private deferral: Timer | undefined;

  constructor(private readonly opts: SpeakerOptions, internals: SpeakerInternals = {}) {
    super();
    const errs = validateSpeakerOptions(opts);
    if (errs.length) throw new Error(`invalid BGP speaker options: ${errs.join('; ')}`);
    this.asn = opts.asn;
    this.routerId = opts.routerId;
    this.connectRetrySec = opts.connectRetrySec ?? 5;
    this.clock = internals.clock ?? systemClock;
    this.log = opts.log ?? silentLog;
    this.hub = new RibHub({ asn: opts.asn, routerId: opts.routerId, clusterId: opts.clusterId ?? opts.routerId }, this.clock, this.log,
      (key, best) => this.emitChange(key, best));
    if (!opts.gracefulRestart) this.hub.ready = true;
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    if (this.started) return;
    for (const r of this.rejected.values()) {
      if (r.cfg.password) throw new Error(`BGP peer ${r.cfg.address}: ${r.errors.join('; ')}`);
    }
    this.started = true;
    const port = this.opts.listenPort ?? 179;
    if (port !== 0) {
      const addrs = this.opts.listenAddresses?.length ? [...this.opts.listenAddresses] : ['::'];
      for (const a of addrs) {
        try {
          this.servers.push(await this.listen(a, port));
        } catch (e) {
          if (a === '::' && !this.opts.listenAddresses?.length) this.servers.push(await this.listen('0.0.0.0', port));
          else { await this.closeServers(); this.started = false; throw e; }
        }
      }
      for (const pr of this.sessions.values()) this.setListenerKey(pr.session.cfg.address, pr.session.cfg.password);
    }
    const gr = this.opts.gracefulRestart;
    if (gr && !this.hub.ready) {
      this.deferral = new Timer(this.clock, () => {
        this.log.warn({ deferralTimeSec: gr.deferralTimeSec }, 'no advertisements before the deferral time: sending what we have');
        this.hub.setReady();
      });
      this.deferral.start(gr.deferralTimeSec * 1000);
    }
    for (const pr of this.sessions.values()) pr.session.start();
  }

  private listen(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ noDelay: true }, (sock) => this.incoming(sock));
      srv.once('error', reject);
      srv.listen({ host, port, ipv6Only: false }, () => {
        srv.off('error', reject);
        srv.on('error', (e) => this.log.error({ err: e.message }, 'BGP listener error'));
        resolve(srv);
      });
    });
  }

  private incoming(sock: net.Socket): void {
    sock.on('error', () => {});
    const remote = normalizeAddress(sock.remoteAddress ?? '');
    const pr = this.sessions.get(remote);
    const local = normalizeAddress(sock.localAddress ?? '');
    if (!pr || this.stopped || (pr.session.cfg.localAddress && pr.session.cfg.localAddress !== local)) {
      this.log.debug({ remote, local }, 'connection from an unconfigured address refused');
      sock.destroy();
      return;
    }
    pr.session.accept(sock);
  }

  private setListenerKey(address: string, password: string | undefined): void {
    if (this.servers.length === 0) return;
    const addon = loadAddon();
    if (addon instanceof Error) return;
    for (const srv of this.servers) {
      const fd = (srv as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (fd === undefined || fd < 0) continue;
      try {
        addon.setMd5(fd, address, password ?? '');
      } catch (e) {
        // Removing a key that was never set fails with ENOENT; anything else is worth a log line.
        if (password) this.log.error({ peer: address, err: (e as Error).message }, 'cannot set TCP MD5 key on the listener');
      }
    }
  }

  async stop(options?: { graceful?: boolean }): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deferral?.stop();
    const sockets = [...this.sessions.values()].map((pr) => pr.session.conn?.socket).filter((s): s is net.Socket => !!s);
    for (const pr of this.sessions.values()) pr.session.stop(CEASE_ADMIN_SHUTDOWN, !!options?.graceful);
    for (const pr of this.sessions.values()) pr.staleTimer?.stop();
    this.hub.close();
    await this.closeServers();
    // Let the Cease (or FIN) reach the peers before the caller exits.
    await Promise.race([
      Promise.all(sockets.map((s) => (s.destroyed ? Promise.resolve() : new Promise<void>((r) => s.once('close', () => r()))))),
      new Promise((r) => setTimeout(r, 1500).unref()),
    ]);
  }

  private async closeServers(): Promise<void> {
    const servers = this.servers;
    this.servers = [];
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  // ---- configuration ----

  setPeers(peers: readonly PeerConfig[]): void {
    const want = new Map<string, ResolvedPeer>();
    this.rejected.clear();
    const addon = loadAddon();
    for (const p of peers) {
      const r = resolvePeer(p, this.opts);
      if ('errors' in r) {
        this.rejected.set(p.address, { cfg: p, errors: r.errors });
        this.log.error({ peer: p.address, errors: r.errors }, 'BGP peer configuration rejected');
        continue;
      }
      if (r.password && addon instanceof Error) {
        // Never fall back to an unsigned session for a peer that has a password.
        this.rejected.set(p.address, { cfg: p, errors: [addon.message] });
        this.log.error({ peer: p.address, err: addon.message }, 'TCP MD5 unavailable: peer with a password not started');
        continue;
      }
      if (want.has(r.address)) this.log.warn({ peer: r.address }, 'peer listed twice: the last entry wins');
      want.set(r.address, r);
    }
    for (const [addr, pr] of [...this.sessions]) {
      // A peer whose new config is invalid keeps running with the last good one.
      if (!want.has(addr) && !this.rejected.has(addr)) this.removePeer(addr, pr, CEASE_PEER_DECONFIGURED);
    }
    for (const [addr, cfg] of want) {
      const pr = this.sessions.get(addr);
      if (!pr) { this.addPeer(cfg); continue; }
      const old = pr.session.cfg;
      if (old.sessionKey !== cfg.sessionKey) {
        this.removePeer(addr, pr, CEASE_OTHER_CONFIG_CHANGE);
        this.addPeer(cfg);
        continue;
      }
      pr.session.cfg = cfg;
      if (old.exportKey !== cfg.exportKey) this.hub.reexport(pr);
      if (old.importKey !== cfg.importKey) {
        this.hub.refilter(pr);
        // Routes the old policy rejected were never stored: ask the peer for them again, or reset.
        const n = pr.session.negotiated;
        if (pr.session.state === 'Established' && n) {
          if (n.routeRefresh) for (const f of n.families) pr.session.requestRefresh(f);
          else { this.removePeer(addr, pr, CEASE_OTHER_CONFIG_CHANGE); this.addPeer(cfg); }
        }
      }
    }
  }

  private addPeer(cfg: ResolvedPeer): void {
    const pr = new PeerRib(new PeerSession(cfg, this));
    this.sessions.set(cfg.address, pr);
    this.hub.peers.add(pr);
    this.setListenerKey(cfg.address, cfg.password);
    if (this.started && !this.stopped) pr.session.start();
  }

  private removePeer(addr: string, pr: PeerRib, subcode: number): void {
    pr.session.stop(subcode);
    this.hub.clearPeer(pr);
    this.hub.peers.delete(pr);
    this.sessions.delete(addr);
    if (pr.session.cfg.password) this.setListenerKey(addr, undefined);
  }

  setAdvertisements(advertisements: readonly Advertisement[]): void {
    const b = buildLocalRoutes(advertisements, this.localIntern);
    for (const e of b.errors) this.log.warn({ error: e }, 'advertisement rejected');
    this.localIntern = b.intern;
    this.hub.setLocal(b.routes);
    this.deferral?.stop();
    this.hub.setReady();
  }

  requestRouteRefresh(address: string, family?: AddressFamily): boolean {
    const pr = this.sessions.get(normalizeAddress(address));
    if (!pr) return false;
    const fams = family ? [family] : [...(pr.session.negotiated?.families ?? [])];
    let ok = fams.length > 0;
    for (const f of fams) ok = pr.session.requestRefresh(f) && ok;
    return ok;
  }

  // ---- SessionOwner ----

  grCapability(): { restartTimeSec: number; restarting: boolean } | undefined {
    const gr = this.opts.gracefulRestart;
    return gr ? { restartTimeSec: gr.restartTimeSec, restarting: !!gr.restarting } : undefined;
  }

  sessionEstablished(s: PeerSession): void {
    const pr = this.sessions.get(s.cfg.address);
    if (!pr || pr.session !== s) return;
    this.log.info({ peer: s.cfg.address, families: [...s.negotiated!.families], holdTimeSec: s.negotiated!.holdTimeSec }, 'BGP session established');
    this.hub.peerUp(pr);
  }

  sessionDown(s: PeerSession, reason: DownReason, wasEstablished: boolean): void {
    const pr = this.sessions.get(s.cfg.address);
    if (!pr || pr.session !== s) return;
    this.hub.peerDown(pr, reason, wasEstablished);
  }

  sessionUpdate(s: PeerSession, u: UpdateMessage): void {
    const pr = this.sessions.get(s.cfg.address);
    if (pr && pr.session === s) this.hub.update(pr, u);
  }

  sessionRouteRefresh(s: PeerSession, family: Family): void {
    const pr = this.sessions.get(s.cfg.address);
    if (pr && pr.session === s) this.hub.routeRefresh(pr, family);
  }

  sessionStateChanged(s: PeerSession, next: State, prev: State): void {
    if (this.listenerCount('peerStateChanged') === 0) return;
    this.emitSafe('peerStateChanged', this.status(s), prev as SessionState);
    void next;
  }

  // ---- status and events ----

  peers(): readonly PeerStatus[] {
    const out: PeerStatus[] = [...this.sessions.values()].map((pr) => this.status(pr.session, pr));
    for (const [addr, r] of this.rejected) {
      if (this.sessions.has(normalizeAddress(addr))) continue;
      out.push({ address: addr, asn: r.cfg.asn, state: 'Idle', internal: r.cfg.asn === this.asn, receivedPrefixes: 0, advertisedPrefixes: 0, lastError: `configuration rejected: ${r.errors.join('; ')}` });
    }
    return out;
  }

  private status(s: PeerSession, pr = this.sessions.get(s.cfg.address)): PeerStatus {
    return {
      address: s.cfg.address, asn: s.cfg.asn, state: s.state as SessionState, internal: s.cfg.internal,
      receivedPrefixes: pr?.adjIn.size ?? 0, advertisedPrefixes: pr?.adjOut?.count() ?? 0,
      ...(s.establishedAt !== undefined ? { uptimeSec: Math.floor((this.clock.now() - s.establishedAt) / 1000) } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
      ...(s.lastDown ? { lastDown: downStatus(s.lastDown, this.clock.now()) } : {}),
      ...(s.localAddress && s.state === 'Established' ? { localAddress: s.localAddress } : {}),
      counters: { ...s.counters },
    };
  }

  bestPaths(): readonly Route[] {
    const out: Route[] = [];
    for (const key of this.hub.loc.keys()) {
      const best = this.hub.loc.best(key);
      if (best) out.push(toRoute(key, best));
    }
    return out;
  }

  private emitChange(key: PrefixKey, best: Path | undefined): void {
    if (this.listenerCount('bestPathChanged') === 0) return;
    const change: BestPathChange = best
      ? { prefix: formatKey(key), family: keyFamily(key), best: toRoute(key, best) }
      : { prefix: formatKey(key), family: keyFamily(key) };
    this.emitSafe('bestPathChanged', change);
  }

  /** A throwing listener is logged, never allowed to unwind into the protocol code. */
  private emitSafe(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      this.log.error({ event, err: (e as Error).message }, 'BGP event listener threw');
    }
  }

  override on<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this {
    return super.on(event, listener as (...a: unknown[]) => void);
  }

  override off<E extends keyof SpeakerEvents>(event: E, listener: SpeakerEvents[E]): this {
    return super.off(event, listener as (...a: unknown[]) => void);
  }
}

export function toRoute(key: PrefixKey, p: Path): Route {
  const a = p.attrs;
  const family = keyFamily(key);
  const r: { -readonly [K in keyof Route]: Route[K] } = {
    prefix: formatKey(key), family, nextHop: a.nextHop ?? (family === 'ipv4-unicast' ? '0.0.0.0' : '::'),
    asPath: flattenAsPath(a.asPath), communities: (a.communities ?? []).map(formatCommunity), stale: p.stale,
    origin: a.origin,
  };
  if (p.source) r.peer = p.source.address;
  if (a.localPref !== undefined) r.localPref = a.localPref;
  if (a.med !== undefined) r.med = a.med;
  if (a.largeCommunities?.length) r.largeCommunities = formatLargeCommunities(a.largeCommunities);
  if (a.originatorId) r.originatorId = a.originatorId;
  if (a.clusterList?.length) r.clusterList = a.clusterList;
  return r;
}

function downStatus(d: { readonly reason: DownReason; readonly at: number }, now: number): NonNullable<PeerStatus['lastDown']> {
  return {
    kind: d.reason.kind,
    ...(d.reason.code !== undefined ? { code: d.reason.code } : {}),
    ...(d.reason.subcode !== undefined ? { subcode: d.reason.subcode } : {}),
    agoMs: now - d.at,
  };
}
