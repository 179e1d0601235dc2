// One configured peer: the FSM's host, its TCP connection(s) and capability negotiation. An incoming
// connection is held aside until its OPEN arrives; then it is adopted, or collision resolution (RFC 4271
// 6.8) picks between it and the current one, or (peer restarting under RFC 4724) it replaces an
// Established session.
import net, { type Socket } from 'node:net';
import type { SpeakerLog } from './api.js';
import { Connection, type ConnHandler } from './connection.js';
import type { ResolvedPeer } from './config.js';
import { Fsm, type DownReason, type FsmHost, type State } from './fsm/fsm.js';
import { collisionWinner } from './fsm/collision.js';
import { Timer, type Clock } from './fsm/clock.js';
import { loadAddon } from './native/addon.js';
import { afiSafiToFamily, familyToAfiSafi, type Capability } from './wire/capabilities.js';
import { CEASE_COLLISION, ERR_CEASE, ERR_OPEN, OPEN_BAD_BGP_ID, OPEN_BAD_PEER_AS } from './wire/constants.js';
import { BgpError } from './wire/errors.js';
import type { Message } from './wire/message.js';
import { encodeKeepalive, encodeNotification, encodeRouteRefresh } from './wire/notification.js';
import { encodeOpen, openAsn, type OpenMessage } from './wire/open.js';
import { ipFamilyOf, type Family } from './wire/prefix.js';
import { AttrCache, type UpdateContext, type UpdateMessage } from './wire/update.js';
import type { PeerRef } from './rib/path.js';

export interface SessionOwner {
  readonly asn: number;
  readonly routerId: string;
  readonly connectRetrySec: number;
  readonly clock: Clock;
  readonly log: SpeakerLog;
  /** Graceful restart capability to announce, if any. */
  grCapability(): { restartTimeSec: number; restarting: boolean } | undefined;
  sessionEstablished(s: PeerSession): void;
  sessionDown(s: PeerSession, reason: DownReason, wasEstablished: boolean): void;
  sessionUpdate(s: PeerSession, u: UpdateMessage): void;
  sessionRouteRefresh(s: PeerSession, family: Family): void;
  sessionStateChanged(s: PeerSession, next: State, prev: State): void;
}

export interface Negotiated {
  readonly as4: boolean;
  readonly families: ReadonlySet<Family>;
  readonly holdTimeSec: number;
  readonly routeRefresh: boolean;
  readonly peerRouterId: string;
  /** The peer's graceful-restart capability (RFC 4724), when it sent one and we announce ours. */
  readonly peerGr?: { readonly restartTimeSec: number; readonly restarting: boolean; readonly forwarding: ReadonlyMap<Family, boolean> };
}

export type MutablePeerRef = { -readonly [K in keyof PeerRef]: PeerRef[K] };

const PENDING_OPEN_WAIT_MS = 30_000;

export class PeerSession implements FsmHost, ConnHandler {
  readonly ref: MutablePeerRef;
  readonly fsm: Fsm;
  conn: Connection | undefined;
  negotiated: Negotiated | undefined;
  lastError: string | undefined;
  /** Why and when (clock ms) the last established or opening session ended. */
  lastDown: { readonly reason: DownReason; readonly at: number } | undefined;
  establishedAt: number | undefined;
  localAddress: string | undefined;
  readonly counters = { updatesIn: 0, updatesOut: 0, routeRefreshIn: 0, notificationsIn: 0, notificationsOut: 0, updateErrors: 0, established: 0 };
  private attempt: Socket | undefined;
  private pending: Connection | undefined;
  private readonly pendingTimer: Timer;
  private readonly cache = new AttrCache();
  private readonly idleCtx: UpdateContext;

  constructor(public cfg: ResolvedPeer, private readonly owner: SessionOwner) {
    this.ref = { address: cfg.address, asn: cfg.asn, routerId: '0.0.0.0', internal: cfg.internal, rrClient: cfg.rrClient };
    this.idleCtx = { as4: false, ebgp: !cfg.internal, peerAsn: cfg.asn, families: new Set() };
    this.fsm = new Fsm({
      holdTimeSec: cfg.holdTimeSec, connectRetrySec: owner.connectRetrySec,
      idleHoldSec: Math.min(owner.connectRetrySec, 5), passive: cfg.passive,
    }, this, owner.clock);
    this.pendingTimer = new Timer(owner.clock, () => this.dropPending('no OPEN on the incoming connection'));
  }

  get state(): State { return this.fsm.state; }

  start(): void { this.fsm.handle({ type: 'ManualStart' }); }

  /** Cease with `subcode`, or with `silent` just close (graceful restart: peers keep our routes). */
  stop(subcode?: number, silent = false): void {
    this.dropPending('stopping');
    this.fsm.handle({ type: 'ManualStop', ...(subcode !== undefined ? { subcode } : {}), silent });
  }

  /** Writes UPDATEs (or any messages) on the established connection. */
  send(bufs: readonly Buffer[], updates: number): void {
    if (!this.conn || this.fsm.state !== 'Established') return;
    this.conn.writeAll(bufs);
    this.counters.updatesOut += updates;
  }

  requestRefresh(family: Family): boolean {
    if (this.fsm.state !== 'Established' || !this.negotiated?.routeRefresh || !this.negotiated.families.has(family)) return false;
    this.conn?.write(encodeRouteRefresh(family));
    return true;
  }

  // ---- incoming connections ----

  accept(sock: Socket): void {
    if (!this.fsm.isRunning) { sock.destroy(); return; }
    this.applySocketOptions(sock);
    this.dropPending('superseded by a newer incoming connection');
    this.pending = new Connection(sock, 'remote', {
      message: (c, m) => this.pendingMessage(c, m),
      decodeError: (c, e) => { c.write(encodeNotification(e.code, e.subcode, e.data)); this.dropPending(`incoming connection: ${e}`); },
      closed: () => this.dropPending('incoming connection closed'),
    }, this.idleCtx);
    this.pendingTimer.start(PENDING_OPEN_WAIT_MS);
  }

  private dropPending(reason: string): void {
    if (!this.pending) return;
    this.owner.log.debug({ peer: this.cfg.address, reason }, 'dropping incoming connection');
    this.pending.close();
    this.pending = undefined;
    this.pendingTimer.stop();
  }

  private pendingMessage(c: Connection, m: Message): void {
    if (m.type !== 'open') { this.dropPending(`${m.type} before OPEN on the incoming connection`); return; }
    this.pendingTimer.stop();
    const err = this.checkOpen(m.open, false);
    if (err) {
      c.write(encodeNotification(err.code, err.subcode, err.data));
      this.counters.notificationsOut++;
      this.lastError = `sent ${err}`;
      this.dropPending(err.toString());
      return;
    }
    const st = this.fsm.state;
    let adopt: boolean;
    if (st === 'OpenSent' || st === 'OpenConfirm') {
      const winner = collisionWinner(this.owner.routerId, m.open.routerId);
      adopt = this.conn?.initiator === 'remote' || winner === 'remote';
      if (adopt) this.fsm.handle({ type: 'OpenCollisionDump' });
    } else if (st === 'Established') {
      // RFC 4724 4.2: a new connection from a restarting peer replaces the old session.
      adopt = !!this.negotiated?.peerGr;
      if (adopt) {
        this.conn?.close();
        this.conn = undefined;
        this.fsm.handle({ type: 'TcpConnectionFails', reason: 'peer reconnected (graceful restart)' });
      }
    } else adopt = true;
    if (!adopt || !this.fsm.isRunning) {
      c.write(encodeNotification(ERR_CEASE, CEASE_COLLISION));
      this.counters.notificationsOut++;
      this.dropPending('connection collision: keeping the existing connection');
      return;
    }
    this.pending = undefined;
    this.abortAttempt();
    this.conn?.close();
    c.handler = this;
    this.conn = c;
    this.fsm.handle({ type: 'TcpConnectionConfirmed' });
    if (this.fsm.state === 'OpenSent') this.message(c, m);
  }

  // ---- FsmHost ----

  connect(): void {
    this.abortAttempt();
    const fam = ipFamilyOf(this.cfg.address) ?? 4;
    let sock: Socket;
    try {
      sock = this.newSocket(fam);
    } catch (e) {
      this.lastError = (e as Error).message;
      queueMicrotask(() => this.fsm.handle({ type: 'TcpConnectionFails', reason: (e as Error).message }));
      return;
    }
    this.attempt = sock;
    sock.once('connect', () => {
      if (this.attempt !== sock) { sock.destroy(); return; }
      this.attempt = undefined;
      this.conn = new Connection(sock, 'local', this, this.idleCtx);
      this.fsm.handle({ type: 'TcpConnectionConfirmed' });
    });
    sock.once('error', (e) => {
      if (this.attempt !== sock) return;
      this.attempt = undefined;
      sock.destroy();
      this.fsm.handle({ type: 'TcpConnectionFails', reason: e.message });
    });
    sock.connect({ port: this.cfg.port, host: this.cfg.address, ...(this.cfg.localAddress ? { localAddress: this.cfg.localAddress } : {}) });
  }

  /** A socket with MD5 and TTL set before connect(): the SYN must already be signed. */
  private newSocket(fam: 4 | 6): Socket {
    if (!this.cfg.password && this.cfg.ttl === 64) return new net.Socket();
    const addon = loadAddon();
    if (addon instanceof Error) {
      if (this.cfg.password) throw addon;
      return new net.Socket();
    }
    const fd = addon.socket(fam);
    try {
      if (this.cfg.password) addon.setMd5(fd, this.cfg.address, this.cfg.password);
      addon.setTtl(fd, this.cfg.ttl);
    } catch (e) {
      addon.close(fd);
      throw e;
    }
    return new net.Socket({ fd, readable: true, writable: true });
  }

  private applySocketOptions(sock: Socket): void {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const addon = loadAddon();
    if (fd === undefined || fd < 0 || addon instanceof Error) return;
    try { addon.setTtl(fd, this.cfg.ttl); } catch { /* TTL is best effort on accepted sockets */ }
  }

  private abortAttempt(): void {
    if (this.attempt) { this.attempt.destroy(); this.attempt = undefined; }
  }

  disconnect(): void {
    this.abortAttempt();
    if (this.conn) { this.conn.close(); this.conn = undefined; }
  }

  sendOpen(): void {
    const caps: Capability[] = [];
    for (const f of this.cfg.families) {
      const [afi, safi] = familyToAfiSafi(f);
      caps.push({ kind: 'multiprotocol', afi, safi });
    }
    caps.push({ kind: 'route-refresh', code: 2 }, { kind: 'as4', asn: this.owner.asn });
    const gr = this.cfg.gracefulRestart ? this.owner.grCapability() : undefined;
    if (gr) {
      caps.push({
        kind: 'graceful-restart', restarting: gr.restarting, notification: false, restartTimeSec: gr.restartTimeSec,
        // The F bit: our forwarding state (kernel routes) survives an agent restart.
        families: this.cfg.families.map((f) => { const [afi, safi] = familyToAfiSafi(f); return { afi, safi, forwarding: gr.restarting }; }),
      });
    }
    this.conn?.write(encodeOpen(this.owner.asn, this.cfg.holdTimeSec, this.owner.routerId, caps));
  }

  sendKeepalive(): void { this.conn?.write(encodeKeepalive()); }

  sendNotification(code: number, subcode: number, data?: Buffer): void {
    this.counters.notificationsOut++;
    this.conn?.write(encodeNotification(code, subcode, data));
  }

  checkOpen(open: OpenMessage, commit = true): BgpError | undefined {
    const asn = openAsn(open);
    if (asn !== this.cfg.asn) {
      return new BgpError(ERR_OPEN, OPEN_BAD_PEER_AS, `peer AS ${asn}, expected ${this.cfg.asn}`);
    }
    if (this.cfg.internal && open.routerId === this.owner.routerId) {
      return new BgpError(ERR_OPEN, OPEN_BAD_BGP_ID, `peer uses our BGP identifier ${open.routerId}`);
    }
    if (commit) this.negotiate(open);
    return undefined;
  }

  private negotiate(open: OpenMessage): void {
    let as4 = false, rr = false, sawMp = false;
    const theirs = new Set<Family>();
    let gr: Negotiated['peerGr'];
    for (const c of open.capabilities) {
      if (c.kind === 'as4') as4 = true;
      else if (c.kind === 'route-refresh') rr = true;
      else if (c.kind === 'multiprotocol') {
        sawMp = true;
        const f = afiSafiToFamily(c.afi, c.safi);
        if (f) theirs.add(f);
      } else if (c.kind === 'graceful-restart') {
        const fwd = new Map<Family, boolean>();
        for (const f of c.families) { const fam = afiSafiToFamily(f.afi, f.safi); if (fam) fwd.set(fam, f.forwarding); }
        gr = { restartTimeSec: c.restartTimeSec, restarting: c.restarting, forwarding: fwd };
      }
    }
    // RFC 4760 8: a peer without multiprotocol capabilities speaks IPv4 unicast only.
    if (!sawMp) theirs.add('ipv4-unicast');
    const families = new Set(this.cfg.families.filter((f) => theirs.has(f)));
    this.negotiated = {
      as4, families, routeRefresh: rr, peerRouterId: open.routerId, holdTimeSec: Math.min(this.cfg.holdTimeSec, open.holdTimeSec),
      ...(gr && this.cfg.gracefulRestart && this.owner.grCapability() ? { peerGr: gr } : {}),
    };
    if (this.conn) {
      this.conn.ctx = { as4, ebgp: !this.cfg.internal, peerAsn: this.cfg.asn, families, cache: this.cache };
    }
  }

  established(): void {
    this.ref.routerId = this.negotiated!.peerRouterId;
    this.establishedAt = this.owner.clock.now();
    this.localAddress = this.conn?.localAddress ? normalize(this.conn.localAddress) : this.cfg.localAddress;
    this.counters.established++;
    this.lastError = undefined;
    this.owner.sessionEstablished(this);
  }

  down(reason: DownReason, wasEstablished: boolean): void {
    if (reason.kind !== 'stopped') this.lastError = reason.text;
    this.lastDown = { reason, at: this.owner.clock.now() };
    if (reason.kind === 'notification-received') this.counters.notificationsIn++;
    this.establishedAt = undefined;
    this.owner.log.info({ peer: this.cfg.address, reason: reason.text, wasEstablished }, 'BGP session down');
    this.owner.sessionDown(this, reason, wasEstablished);
  }

  stateChanged(next: State, prev: State, reason: string): void {
    this.owner.log.debug({ peer: this.cfg.address, from: prev, to: next, reason }, 'BGP state change');
    this.owner.sessionStateChanged(this, next, prev);
  }

  // ---- ConnHandler (the adopted connection) ----

  message(c: Connection, m: Message): void {
    if (c !== this.conn) return;
    this.fsm.received();
    switch (m.type) {
      case 'open': this.fsm.handle({ type: 'BGPOpen', open: m.open }); break;
      case 'keepalive': this.fsm.handle({ type: 'KeepAliveMsg' }); break;
      case 'notification': this.fsm.handle({ type: 'NotifMsg', code: m.notification.code, subcode: m.notification.subcode }); break;
      case 'update':
        this.counters.updatesIn++;
        this.fsm.handle({ type: 'UpdateMsg' });
        if (this.fsm.state !== 'Established') break;
        if (m.update.error) {
          this.counters.updateErrors++;
          this.owner.log.warn({ peer: this.cfg.address, error: m.update.error.toString(), action: m.update.error.action }, 'malformed UPDATE handled without reset (RFC 7606)');
        }
        this.owner.sessionUpdate(this, m.update);
        break;
      case 'route-refresh':
        this.counters.routeRefreshIn++;
        this.fsm.handle({ type: 'RouteRefreshMsg' });
        // RFC 2918: a request for a family not negotiated is ignored.
        if (this.fsm.state === 'Established' && m.refresh.family && this.negotiated?.families.has(m.refresh.family)) {
          this.owner.sessionRouteRefresh(this, m.refresh.family);
        }
        break;
    }
  }

  decodeError(c: Connection, e: BgpError): void {
    if (c !== this.conn) return;
    this.fsm.handle({ type: 'MessageError', error: e });
  }

  closed(c: Connection, reason: string): void {
    if (c !== this.conn) return;
    this.conn = undefined;
    this.fsm.handle({ type: 'TcpConnectionFails', reason });
  }
}

function normalize(a: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a;
}
