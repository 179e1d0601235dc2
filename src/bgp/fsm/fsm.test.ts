import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { Fsm, type DownReason, type FsmConfig, type FsmHost, type State } from './fsm.js';
import { collisionWinner } from './collision.js';
import { BgpError } from '../wire/errors.js';
import { Framer } from '../wire/header.js';
import { decodeBody, type Message } from '../wire/message.js';
import { encodeKeepalive, encodeNotification } from '../wire/notification.js';
import { decodeOpen, encodeOpen, type OpenMessage } from '../wire/open.js';

/** A host whose "wire" is a byte stream decoded with the real codec, so tests assert on messages sent. */
class WireHost implements FsmHost {
  wire = new Framer();
  sent: Message[] = [];
  connects = 0;
  disconnects = 0;
  downs: Array<{ reason: DownReason; wasEstablished: boolean }> = [];
  establishedWith: OpenMessage | undefined;
  peerAsn = 65002;
  private push(b: Buffer) {
    for (const f of this.wire.push(b).frames) {
      const r = decodeBody(f.type, f.body, { as4: true, ebgp: false, peerAsn: 0, families: new Set() });
      if (r.ok) this.sent.push(r.value);
    }
  }
  connect() { this.connects++; }
  disconnect() { this.disconnects++; }
  sendOpen() { this.push(encodeOpen(65001, 9, '10.0.0.1', [{ kind: 'as4', asn: 65001 }])); }
  sendKeepalive() { this.push(encodeKeepalive()); }
  sendNotification(code: number, subcode: number, data?: Buffer) { this.push(encodeNotification(code, subcode, data)); }
  checkOpen(open: OpenMessage) {
    return open.myAs === this.peerAsn ? undefined : new BgpError(2, 2, 'bad peer AS');
  }
  established(open: OpenMessage) { this.establishedWith = open; }
  down(reason: DownReason, wasEstablished: boolean) { this.downs.push({ reason, wasEstablished }); }
  stateChanged(_n: State, _p: State) {}
  types() { return this.sent.map((m) => m.type); }
  notifications() {
    return this.sent.flatMap((m) => (m.type === 'notification' ? [`${m.notification.code}/${m.notification.subcode}`] : []));
  }
}

function setup(cfg: Partial<FsmConfig> = {}) {
  const clock = new FakeClock();
  const host = new WireHost();
  const fsm = new Fsm({ holdTimeSec: 9, connectRetrySec: 5, idleHoldSec: 2, passive: false, ...cfg }, host, clock);
  return { clock, host, fsm };
}

function peerOpen(asn = 65002, hold = 9, id = '10.0.0.2'): OpenMessage {
  return decodeOpen(encodeOpen(asn, hold, id, []).subarray(19));
}

function toEstablished(t: ReturnType<typeof setup>, hold = 9) {
  t.fsm.handle({ type: 'ManualStart' });
  t.fsm.handle({ type: 'TcpConnectionConfirmed' });
  t.fsm.handle({ type: 'BGPOpen', open: peerOpen(65002, hold) });
  t.fsm.handle({ type: 'KeepAliveMsg' });
}

describe('FSM', () => {
  it('active open: Connect, failure to Active, connect retry back to Connect', () => {
    const t = setup();
    t.fsm.handle({ type: 'ManualStart' });
    expect([t.fsm.state, t.host.connects]).toEqual(['Connect', 1]);
    t.fsm.handle({ type: 'TcpConnectionFails', reason: 'refused' });
    expect(t.fsm.state).toBe('Active');
    t.clock.advance(4999);
    expect(t.host.connects).toBe(1);
    t.clock.advance(1);
    expect([t.fsm.state, t.host.connects]).toEqual(['Connect', 2]);
  });

  it('passive: waits in Active and never connects', () => {
    const t = setup({ passive: true });
    t.fsm.handle({ type: 'ManualStart' });
    t.clock.advance(60_000);
    expect([t.fsm.state, t.host.connects]).toEqual(['Active', 0]);
    t.fsm.handle({ type: 'TcpConnectionConfirmed' });
    expect(t.fsm.state).toBe('OpenSent');
  });

  it('OPEN exchange negotiates the smaller hold time and keeps alive at a third of it', () => {
    const t = setup();
    toEstablished(t, 6);
    expect(t.fsm.state).toBe('Established');
    expect(t.fsm.holdTimeSec).toBe(6);
    expect(t.host.types()).toEqual(['open', 'keepalive']);
    expect(t.host.establishedWith?.routerId).toBe('10.0.0.2');
    for (let i = 0; i < 10; i++) { t.clock.advance(1000); t.fsm.received(); }
    expect(t.fsm.state).toBe('Established');
    expect(t.host.types().filter((x) => x === 'keepalive').length).toBe(1 + 5);
  });

  it('hold timer expiry sends 4/0, reports down, then restarts after the idle hold', () => {
    const t = setup();
    toEstablished(t);
    t.clock.advance(8999);
    expect(t.fsm.state).toBe('Established');
    t.clock.advance(1);
    expect(t.fsm.state).toBe('Idle');
    expect(t.host.notifications()).toEqual(['4/0']);
    expect(t.host.downs).toEqual([{ reason: expect.objectContaining({ kind: 'hold-expired' }), wasEstablished: true }]);
    t.clock.advance(2000);
    expect([t.fsm.state, t.host.connects]).toEqual(['Connect', 2]);
  });

  it('hold time 0 means no keepalives and no expiry', () => {
    const t = setup({ holdTimeSec: 0 });
    toEstablished(t);
    t.clock.advance(3_600_000);
    expect(t.fsm.state).toBe('Established');
    expect(t.host.types()).toEqual(['open', 'keepalive']);
  });

  it('bad peer AS in OPEN: 2/2 and Idle', () => {
    const t = setup();
    t.fsm.handle({ type: 'ManualStart' });
    t.fsm.handle({ type: 'TcpConnectionConfirmed' });
    t.fsm.handle({ type: 'BGPOpen', open: peerOpen(64999) });
    expect(t.fsm.state).toBe('Idle');
    expect(t.host.notifications()).toEqual(['2/2']);
  });

  it.each([
    ['UPDATE in OpenSent', 1, (t: ReturnType<typeof setup>) => { t.fsm.handle({ type: 'ManualStart' }); t.fsm.handle({ type: 'TcpConnectionConfirmed' }); t.fsm.handle({ type: 'UpdateMsg' }); }, '5/1'],
    ['UPDATE in OpenConfirm', 2, (t: ReturnType<typeof setup>) => { t.fsm.handle({ type: 'ManualStart' }); t.fsm.handle({ type: 'TcpConnectionConfirmed' }); t.fsm.handle({ type: 'BGPOpen', open: peerOpen() }); t.fsm.handle({ type: 'UpdateMsg' }); }, '5/2'],
    ['OPEN in Established', 3, (t: ReturnType<typeof setup>) => { toEstablished(t); t.fsm.handle({ type: 'BGPOpen', open: peerOpen() }); }, '5/3'],
  ])('%s is an FSM error', (_n, _s, drive, expected) => {
    const t = setup();
    drive(t);
    expect(t.fsm.state).toBe('Idle');
    expect(t.host.notifications()).toEqual([expected]);
  });

  it('message errors send their NOTIFICATION; received NOTIFICATION just closes', () => {
    const t = setup();
    toEstablished(t);
    t.fsm.handle({ type: 'MessageError', error: new BgpError(3, 11, 'x') });
    expect(t.host.notifications()).toEqual(['3/11']);
    const u = setup();
    toEstablished(u);
    u.fsm.handle({ type: 'NotifMsg', code: 6, subcode: 2 });
    expect(u.fsm.state).toBe('Idle');
    expect(u.host.notifications()).toEqual([]);
    expect(u.host.downs[0]!.reason).toMatchObject({ kind: 'notification-received', code: 6, subcode: 2 });
  });

  it('manual stop sends Cease and stays down; a silent stop sends nothing', () => {
    const t = setup();
    toEstablished(t);
    t.fsm.handle({ type: 'ManualStop' });
    expect(t.host.notifications()).toEqual(['6/2']);
    t.clock.advance(600_000);
    expect([t.fsm.state, t.host.connects]).toEqual(['Idle', 1]);
    const u = setup();
    toEstablished(u);
    u.fsm.handle({ type: 'ManualStop', silent: true });
    expect(u.host.notifications()).toEqual([]);
    expect(u.host.downs[0]!.reason.kind).toBe('stopped');
  });

  it('collision: the connection opened by the higher identifier survives', () => {
    expect(collisionWinner('10.0.0.1', '10.0.0.2')).toBe('remote');
    expect(collisionWinner('10.0.0.3', '10.0.0.2')).toBe('local');
    expect(collisionWinner('9.255.255.255', '10.0.0.0')).toBe('remote');
  });
});
