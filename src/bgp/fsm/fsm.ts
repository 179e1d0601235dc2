// The RFC 4271 section 8 session FSM for one connection at a time. Each state has a handler that performs
// the actions of the transition through FsmHost and returns the next state with a reason. Timers run on an
// injected Clock. Connection collisions are resolved by the session (it owns both connections).
import { BgpError } from '../wire/errors.js';
import {
  CEASE_ADMIN_SHUTDOWN, CEASE_COLLISION, ERR_CEASE, ERR_FSM, ERR_HOLD_TIMER, FSM_UNEXPECTED_IN_ESTABLISHED,
  FSM_UNEXPECTED_IN_OPENCONFIRM, FSM_UNEXPECTED_IN_OPENSENT, describeNotification,
} from '../wire/constants.js';
import type { OpenMessage } from '../wire/open.js';
import { Timer, type Clock } from './clock.js';

export type State = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export type FsmEvent =
  | { readonly type: 'ManualStart' }
  | { readonly type: 'ManualStop'; readonly subcode?: number; readonly silent?: boolean }
  | { readonly type: 'ConnectRetryTimerExpires' }
  | { readonly type: 'IdleHoldTimerExpires' }
  | { readonly type: 'HoldTimerExpires' }
  | { readonly type: 'KeepaliveTimerExpires' }
  | { readonly type: 'TcpConnectionConfirmed' }
  | { readonly type: 'TcpConnectionFails'; readonly reason: string }
  | { readonly type: 'BGPOpen'; readonly open: OpenMessage }
  | { readonly type: 'KeepAliveMsg' }
  | { readonly type: 'UpdateMsg' }
  | { readonly type: 'RouteRefreshMsg' }
  | { readonly type: 'NotifMsg'; readonly code: number; readonly subcode: number }
  | { readonly type: 'MessageError'; readonly error: BgpError }
  | { readonly type: 'OpenCollisionDump' };

/** Why a session left the open phase or Established; the speaker decides about graceful restart from it. */
export interface DownReason {
  readonly kind: 'stopped' | 'notification-sent' | 'notification-received' | 'tcp-failed' | 'hold-expired';
  readonly text: string;
  readonly code?: number;
  readonly subcode?: number;
}

export interface FsmHost {
  /** Start an outgoing TCP connection; report with TcpConnectionConfirmed / TcpConnectionFails. */
  connect(): void;
  /** Drop the connection (and any attempt in progress) without a NOTIFICATION. */
  disconnect(): void;
  sendOpen(): void;
  sendKeepalive(): void;
  sendNotification(code: number, subcode: number, data?: Buffer): void;
  /** Checks a received OPEN against the configuration (peer AS, identifier). */
  checkOpen(open: OpenMessage): BgpError | undefined;
  established(open: OpenMessage, holdTimeSec: number): void;
  /** Left Established (wasEstablished) or gave up in the open phase. */
  down(reason: DownReason, wasEstablished: boolean): void;
  stateChanged(next: State, prev: State, reason: string): void;
}

export interface FsmConfig {
  readonly holdTimeSec: number;
  readonly connectRetrySec: number;
  /** Delay before an automatic restart after an error (RFC 4271 IdleHoldTimer). */
  readonly idleHoldSec: number;
  /** Never connect out; only wait for the peer. */
  readonly passive: boolean;
}

export interface Transition { readonly next: State; readonly reason: string }

const LARGE_HOLD_SEC = 240; // RFC 4271 10: hold timer while waiting for OPEN

export class Fsm {
  state: State = 'Idle';
  lastReason = '';
  /** Negotiated hold time; 0 = no keepalives. */
  holdTimeSec = 0;
  private running = false; // between ManualStart and ManualStop: errors restart automatically
  private peerOpen: OpenMessage | undefined;
  private readonly connectRetry: Timer;
  private readonly hold: Timer;
  private readonly keepalive: Timer;
  private readonly idleHold: Timer;

  constructor(private readonly cfg: FsmConfig, private readonly host: FsmHost, clock: Clock) {
    this.connectRetry = new Timer(clock, () => this.handle({ type: 'ConnectRetryTimerExpires' }));
    this.hold = new Timer(clock, () => this.handle({ type: 'HoldTimerExpires' }));
    this.keepalive = new Timer(clock, () => this.handle({ type: 'KeepaliveTimerExpires' }));
    this.idleHold = new Timer(clock, () => this.handle({ type: 'IdleHoldTimerExpires' }));
  }

  get isRunning(): boolean { return this.running; }

  handle(ev: FsmEvent): void {
    const prev = this.state;
    let t: Transition;
    switch (prev) {
      case 'Idle': t = this.idle(ev); break;
      case 'Connect': t = this.connect(ev); break;
      case 'Active': t = this.active(ev); break;
      case 'OpenSent': t = this.openSent(ev); break;
      case 'OpenConfirm': t = this.openConfirm(ev); break;
      case 'Established': t = this.established(ev); break;
    }
    if (t.next === prev) return;
    this.state = t.next;
    this.lastReason = t.reason;
    this.host.stateChanged(t.next, prev, t.reason);
    // Reported after the state is set, so the host can already send UPDATEs.
    if (t.next === 'Established') this.host.established(this.peerOpen!, this.holdTimeSec);
  }

  /** Touches the hold timer: any message received counts as a sign of life. */
  received(): void {
    this.hold.touch();
  }

  private stopTimers(): void {
    this.connectRetry.stop();
    this.hold.stop();
    this.keepalive.stop();
  }

  /** The common "go to Idle" actions: drop the connection, report, and schedule the automatic restart. */
  private toIdle(reason: DownReason, from: State): Transition {
    this.stopTimers();
    this.host.disconnect();
    if (from !== 'Idle' && from !== 'Connect' && from !== 'Active') this.host.down(reason, from === 'Established');
    this.peerOpen = undefined;
    if (this.running) this.idleHold.start(this.cfg.idleHoldSec * 1000);
    return { next: 'Idle', reason: reason.text };
  }

  private fail(from: State, err: BgpError): Transition {
    this.host.sendNotification(err.code, err.subcode, err.data);
    const kind = err.code === ERR_HOLD_TIMER ? 'hold-expired' : 'notification-sent';
    return this.toIdle({ kind, text: `sent ${err.toString()}`, code: err.code, subcode: err.subcode }, from);
  }

  private startConnecting(): Transition {
    this.connectRetry.start(this.cfg.connectRetrySec * 1000);
    if (this.cfg.passive) return { next: 'Active', reason: 'passive: waiting for the peer' };
    this.host.connect();
    return { next: 'Connect', reason: 'connecting' };
  }

  private tcpUp(): Transition {
    this.connectRetry.stop();
    this.host.sendOpen();
    this.hold.start(LARGE_HOLD_SEC * 1000);
    return { next: 'OpenSent', reason: 'connected, OPEN sent' };
  }

  private commonStop(ev: FsmEvent & { type: 'ManualStop' }, from: State): Transition {
    this.running = false;
    this.idleHold.stop();
    if (!ev.silent && (from === 'OpenSent' || from === 'OpenConfirm' || from === 'Established')) {
      this.host.sendNotification(ERR_CEASE, ev.subcode ?? CEASE_ADMIN_SHUTDOWN);
    }
    return this.toIdle({ kind: 'stopped', text: ev.silent ? 'stopped without Cease' : 'stopped' }, from);
  }

  private idle(ev: FsmEvent): Transition {
    switch (ev.type) {
      case 'ManualStart':
        this.running = true;
        this.idleHold.stop();
        return this.startConnecting();
      case 'IdleHoldTimerExpires':
        return this.running ? this.startConnecting() : { next: 'Idle', reason: this.lastReason };
      case 'ManualStop':
        this.running = false;
        this.idleHold.stop();
        return { next: 'Idle', reason: 'stopped' };
      case 'TcpConnectionConfirmed':
        // An incoming connection while waiting out the idle hold: take it rather than make the peer wait.
        if (!this.running) { this.host.disconnect(); return { next: 'Idle', reason: 'not started' }; }
        this.idleHold.stop();
        return this.tcpUp();
      default:
        return { next: 'Idle', reason: this.lastReason };
    }
  }

  private connect(ev: FsmEvent): Transition {
    switch (ev.type) {
      case 'ManualStop': return this.commonStop(ev, 'Connect');
      case 'ConnectRetryTimerExpires':
        this.host.disconnect();
        this.connectRetry.start(this.cfg.connectRetrySec * 1000);
        this.host.connect();
        return { next: 'Connect', reason: 'connect retry' };
      case 'TcpConnectionConfirmed': return this.tcpUp();
      case 'TcpConnectionFails':
        this.host.disconnect();
        this.connectRetry.start(this.cfg.connectRetrySec * 1000);
        return { next: 'Active', reason: `connect failed: ${ev.reason}` };
      case 'ManualStart': case 'IdleHoldTimerExpires': case 'HoldTimerExpires': case 'KeepaliveTimerExpires':
        return { next: 'Connect', reason: this.lastReason };
      default:
        return this.toIdle({ kind: 'tcp-failed', text: `unexpected ${ev.type} in Connect` }, 'Connect');
    }
  }

  private active(ev: FsmEvent): Transition {
    switch (ev.type) {
      case 'ManualStop': return this.commonStop(ev, 'Active');
      case 'ConnectRetryTimerExpires':
        if (this.cfg.passive) {
          this.connectRetry.start(this.cfg.connectRetrySec * 1000);
          return { next: 'Active', reason: this.lastReason };
        }
        this.connectRetry.start(this.cfg.connectRetrySec * 1000);
        this.host.connect();
        return { next: 'Connect', reason: 'connect retry' };
      case 'TcpConnectionConfirmed': return this.tcpUp();
      case 'TcpConnectionFails':
        this.host.disconnect();
        return { next: 'Active', reason: `connection failed: ${ev.reason}` };
      case 'ManualStart': case 'IdleHoldTimerExpires': case 'HoldTimerExpires': case 'KeepaliveTimerExpires':
        return { next: 'Active', reason: this.lastReason };
      default:
        return this.toIdle({ kind: 'tcp-failed', text: `unexpected ${ev.type} in Active` }, 'Active');
    }
  }

  /** Events every connected state treats the same way; undefined when the state must decide. */
  private connected(ev: FsmEvent, from: State, unexpected: number): Transition | undefined {
    switch (ev.type) {
      case 'ManualStop': return this.commonStop(ev, from);
      case 'HoldTimerExpires':
        return this.fail(from, new BgpError(ERR_HOLD_TIMER, 0, 'hold timer expired'));
      case 'TcpConnectionFails':
        return this.toIdle({ kind: 'tcp-failed', text: `connection lost: ${ev.reason}` }, from);
      case 'NotifMsg':
        return this.toIdle({
          kind: 'notification-received', text: `received ${describeNotification(ev.code, ev.subcode)}`,
          code: ev.code, subcode: ev.subcode,
        }, from);
      case 'MessageError': return this.fail(from, ev.error);
      case 'OpenCollisionDump': return this.fail(from, new BgpError(ERR_CEASE, CEASE_COLLISION, 'connection collision'));
      case 'ManualStart': case 'IdleHoldTimerExpires': case 'ConnectRetryTimerExpires':
        return { next: from, reason: this.lastReason };
      case 'TcpConnectionConfirmed':
        return { next: from, reason: this.lastReason };
      case 'KeepaliveTimerExpires':
        if (from === 'OpenSent') return { next: from, reason: this.lastReason };
        this.host.sendKeepalive();
        this.keepalive.start(this.keepaliveMs());
        return { next: from, reason: this.lastReason };
      default:
        if (ev.type === 'BGPOpen' && from === 'OpenSent') return undefined;
        if (ev.type === 'KeepAliveMsg' && from === 'OpenConfirm') return undefined;
        if (from === 'Established' && (ev.type === 'KeepAliveMsg' || ev.type === 'UpdateMsg' || ev.type === 'RouteRefreshMsg')) return undefined;
        return this.fail(from, new BgpError(ERR_FSM, unexpected, `unexpected ${ev.type} in ${from}`));
    }
  }

  private keepaliveMs(): number {
    return Math.max(1000, Math.floor((this.holdTimeSec * 1000) / 3));
  }

  private openSent(ev: FsmEvent): Transition {
    const common = this.connected(ev, 'OpenSent', FSM_UNEXPECTED_IN_OPENSENT);
    if (common) return common;
    const open = (ev as FsmEvent & { type: 'BGPOpen' }).open;
    const err = this.host.checkOpen(open);
    if (err) return this.fail('OpenSent', err);
    this.peerOpen = open;
    this.holdTimeSec = Math.min(this.cfg.holdTimeSec, open.holdTimeSec);
    this.host.sendKeepalive();
    if (this.holdTimeSec > 0) {
      this.hold.start(this.holdTimeSec * 1000);
      this.keepalive.start(this.keepaliveMs());
    } else {
      this.hold.stop();
    }
    return { next: 'OpenConfirm', reason: `OPEN from ${open.routerId} accepted` };
  }

  private openConfirm(ev: FsmEvent): Transition {
    const common = this.connected(ev, 'OpenConfirm', FSM_UNEXPECTED_IN_OPENCONFIRM);
    if (common) return common;
    // KEEPALIVE received.
    this.hold.touch();
    return { next: 'Established', reason: 'KEEPALIVE received' };
  }

  private established(ev: FsmEvent): Transition {
    const common = this.connected(ev, 'Established', FSM_UNEXPECTED_IN_ESTABLISHED);
    if (common) return common;
    this.hold.touch();
    return { next: 'Established', reason: this.lastReason };
  }
}
