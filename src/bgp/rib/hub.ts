// The speaker's routing state: Adj-RIB-In per peer, the Loc-RIB, Adj-RIB-Out per peer, our own routes, and
// graceful restart on the receiving side (RFC 4724 4.2). Changes are batched: everything that happens in
// one event-loop turn is exported in one flush, after which best-path events are emitted.
import type { SpeakerLog } from '../api.js';
import type { DownReason } from '../fsm/fsm.js';
import { Timer, type Clock } from '../fsm/clock.js';
import type { PathAttrs } from '../wire/attrs/types.js';
import { encodeEndOfRib } from '../wire/update-encode.js';
import type { UpdateMessage } from '../wire/update.js';
import { keyFamily, type Family, type PrefixKey } from '../wire/prefix.js';
import type { PeerSession } from '../session.js';
import { AdjRibOut } from './adj-out.js';
import { ExportMemo, mayExport, type SpeakerIdentity } from './export.js';
import { LocRib } from './loc-rib.js';
import { PathTable, type Path } from './path.js';
import { loops } from './policy.js';

/** Per-peer routing state. */
export class PeerRib {
  readonly adjIn = new Map<PrefixKey, Path>();
  readonly paths: PathTable;
  adjOut: AdjRibOut | undefined;
  memo: ExportMemo | undefined;
  /** Initial table and End-of-RIB sent. */
  synced = false;
  /** Graceful restart: families whose routes are kept stale, and the timer that ends it. */
  stale: Set<Family> | undefined;
  staleTimer: Timer | undefined;
  constructor(readonly session: PeerSession) {
    this.paths = new PathTable(session.ref);
  }
}

export type ChangeListener = (key: PrefixKey, best: Path | undefined) => void;

const STALE_PATH_TIME_MS = 360_000;

export class RibHub {
  readonly loc = new LocRib();
  readonly peers = new Set<PeerRib>();
  /** Our own routes. */
  readonly local = new Map<PrefixKey, Path>();
  readonly localPaths = new PathTable(undefined);
  /** False until our own routes are known (first setAdvertisements or GR deferral). */
  ready = false;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly me: SpeakerIdentity,
    private readonly clock: Clock,
    private readonly log: SpeakerLog,
    private readonly onChange: ChangeListener,
  ) {}

  // ---- peers ----

  peerUp(pr: PeerRib): void {
    const s = pr.session, n = s.negotiated!;
    pr.adjOut = new AdjRibOut(n.as4);
    pr.memo = new ExportMemo({ ref: s.ref, localAddress: s.localAddress ?? '', policy: s.cfg.exportPolicy, nextHopSelf: s.cfg.nextHopSelf }, this.me);
    pr.synced = false;
    if (pr.stale) {
      // Families the peer no longer preserves (no GR, or F bit clear) lose their stale routes now.
      for (const f of [...pr.stale]) if (!n.peerGr?.forwarding.get(f)) this.purgeStale(pr, f);
      if (pr.stale?.size) pr.staleTimer!.start(STALE_PATH_TIME_MS);
    }
    if (this.ready) this.initialSync(pr);
  }

  peerDown(pr: PeerRib, reason: DownReason, wasEstablished: boolean): void {
    pr.adjOut = undefined;
    pr.memo = undefined;
    pr.synced = false;
    if (!wasEstablished && pr.stale) return; // still restarting: the restart timer keeps running
    const gr = pr.session.negotiated?.peerGr;
    if (wasEstablished && gr && reason.kind === 'tcp-failed' && gr.restartTimeSec > 0 && pr.adjIn.size > 0) {
      pr.stale = new Set(gr.forwarding.keys());
      pr.staleTimer ??= new Timer(this.clock, () => {
        this.log.info({ peer: pr.session.cfg.address }, 'graceful restart timer expired: removing stale routes');
        for (const f of [...(pr.stale ?? [])]) this.purgeStale(pr, f);
      });
      for (const [key, p] of pr.adjIn) {
        if (pr.stale.has(keyFamily(key))) {
          const s = pr.paths.stale(p);
          pr.adjIn.set(key, s);
          this.loc.set(key, s);
        } else {
          pr.adjIn.delete(key);
          this.loc.delete(key, pr.session.ref);
        }
      }
      pr.staleTimer.start(gr.restartTimeSec * 1000);
      this.log.info({ peer: pr.session.cfg.address, restartTimeSec: gr.restartTimeSec }, 'peer restarting: keeping its routes as stale');
    } else {
      this.clearPeer(pr);
    }
    this.schedule();
  }

  /** Drops every route learned from the peer. */
  clearPeer(pr: PeerRib): void {
    for (const key of pr.adjIn.keys()) this.loc.delete(key, pr.session.ref);
    pr.adjIn.clear();
    pr.paths.clearStale();
    pr.stale = undefined;
    pr.staleTimer?.stop();
    this.schedule();
  }

  purgeStale(pr: PeerRib, family: Family): void {
    if (!pr.stale?.delete(family)) return;
    for (const [key, p] of pr.adjIn) {
      if (p.stale && keyFamily(key) === family) {
        pr.adjIn.delete(key);
        this.loc.delete(key, pr.session.ref);
      }
    }
    if (pr.stale.size === 0) {
      pr.stale = undefined;
      pr.staleTimer?.stop();
      pr.paths.clearStale();
    }
    this.schedule();
  }

  // ---- import ----

  update(pr: PeerRib, u: UpdateMessage): void {
    const ref = pr.session.ref, adjIn = pr.adjIn, loc = this.loc;
    for (const w of u.withdrawn) {
      for (const key of w.keys) {
        if (adjIn.delete(key)) loc.delete(key, ref);
      }
    }
    const policy = pr.session.cfg.importPolicy;
    for (const a of u.announced) {
      if (loops(a.attrs, this.me.asn, this.me.routerId, this.me.clusterId)) {
        for (const key of a.keys) if (adjIn.delete(key)) loc.delete(key, ref);
        continue;
      }
      const path = pr.paths.get(a.attrs);
      for (const key of a.keys) {
        if (!policy.acceptPrefix(key)) {
          if (adjIn.delete(key)) loc.delete(key, ref);
          continue;
        }
        adjIn.set(key, path);
        loc.set(key, path);
      }
    }
    if (u.endOfRib) {
      this.log.debug({ peer: pr.session.cfg.address, family: u.endOfRib }, 'End-of-RIB received');
      this.purgeStale(pr, u.endOfRib);
    }
    this.schedule();
  }

  /** Re-applies a changed import policy to what is already in the Adj-RIB-In. */
  refilter(pr: PeerRib): void {
    const policy = pr.session.cfg.importPolicy;
    for (const key of [...pr.adjIn.keys()]) {
      if (!policy.acceptPrefix(key)) { pr.adjIn.delete(key); this.loc.delete(key, pr.session.ref); }
    }
    this.schedule();
  }

  // ---- our own routes ----

  setLocal(want: Map<PrefixKey, Path>): void {
    for (const [key, p] of this.local) {
      if (!want.has(key)) { this.local.delete(key); this.loc.delete(key, undefined); }
    }
    for (const [key, p] of want) {
      if (this.local.get(key) === p) continue;
      this.local.set(key, p);
      this.loc.set(key, p);
    }
    this.schedule();
  }

  setReady(): void {
    if (this.ready) return;
    this.ready = true;
    for (const pr of this.peers) if (pr.adjOut && !pr.synced) this.initialSync(pr);
  }

  // ---- export ----

  private exportFor(pr: PeerRib, key: PrefixKey, best: Path | undefined): PathAttrs | undefined {
    if (!best) return undefined;
    const memo = pr.memo!;
    if (!mayExport(best, key, memo.target)) return undefined;
    return memo.attrsFor(best, typeof key === 'number');
  }

  private initialSync(pr: PeerRib): void {
    const fams = pr.session.negotiated!.families;
    const out = pr.adjOut!;
    for (const [key, e] of this.loc.entries()) {
      const best = Array.isArray(e) ? e[0] : e;
      if (!fams.has(keyFamily(key))) continue;
      const a = this.exportFor(pr, key, best);
      if (a) out.stage(key, a);
    }
    const msgs: Buffer[] = [];
    out.flush(msgs);
    for (const f of fams) msgs.push(encodeEndOfRib(f));
    pr.synced = true;
    pr.session.send(msgs, msgs.length);
  }

  /** Re-exports the whole table to one peer (export policy changed). */
  reexport(pr: PeerRib): void {
    if (!pr.adjOut) return;
    const s = pr.session;
    pr.memo = new ExportMemo({ ref: s.ref, localAddress: s.localAddress ?? '', policy: s.cfg.exportPolicy, nextHopSelf: s.cfg.nextHopSelf }, this.me);
    if (!pr.synced) return;
    const fams = s.negotiated!.families;
    for (const key of pr.adjOut.sent.keys()) pr.adjOut.stage(key, undefined);
    for (const [key, e] of this.loc.entries()) {
      if (!fams.has(keyFamily(key))) continue;
      const a = this.exportFor(pr, key, Array.isArray(e) ? e[0] : e);
      if (a) pr.adjOut.stage(key, a);
    }
    this.sendPending(pr);
  }

  routeRefresh(pr: PeerRib, family: Family): void {
    if (!pr.adjOut || !pr.synced) return;
    const msgs: Buffer[] = [];
    pr.adjOut.resend(family, msgs);
    pr.session.send(msgs, msgs.length);
  }

  private sendPending(pr: PeerRib): void {
    const msgs: Buffer[] = [];
    pr.adjOut!.flush(msgs);
    if (msgs.length) pr.session.send(msgs, msgs.length);
  }

  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => { this.scheduled = false; this.flush(); });
  }

  close(): void { this.closed = true; }

  /** Exports every best-path change since the last flush, then reports them. */
  flush(): void {
    if (!this.loc.hasChanges) return;
    const changes = this.loc.drain();
    const targets: PeerRib[] = [];
    for (const pr of this.peers) if (pr.adjOut && pr.synced) targets.push(pr);
    for (const pr of targets) {
      const fams = pr.session.negotiated!.families;
      const out = pr.adjOut!;
      for (const key of changes.keys()) {
        if (!fams.has(keyFamily(key))) continue;
        out.stage(key, this.exportFor(pr, key, this.loc.best(key)));
      }
      this.sendPending(pr);
    }
    for (const key of changes.keys()) this.onChange(key, this.loc.best(key));
  }
}
