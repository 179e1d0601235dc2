// Owns the BgpSpeaker's lifetime: creates it from the node's ASN/router id, recreates it when those change,
// and loads src/bgp lazily (only agents that run the router pay for it).
import { createHash } from 'node:crypto';
import type { BgpSpeaker, SpeakerLog, SpeakerOptions } from '../../bgp/api.js';
import type { RouterOptions } from './options.js';
import { GO_ADDRESSES, ipFamily } from '../../model/normalize/ip.js';

export type SpeakerFactory = (opts: SpeakerOptions) => BgpSpeaker | Promise<BgpSpeaker>;

/** The real speaker from src/bgp, loaded on first use (a literal specifier, so the one-file bundle holds it). */
export const defaultSpeakerFactory: SpeakerFactory = async (o) => (await import('../../bgp/index.js')).createSpeaker(o);

/** --router-id: explicit, "generate" (stable per node name), or the node's IPv4 address. */
export function chooseRouterId(opts: RouterOptions, nodeName: string, nodeIPs: readonly string[]): string | undefined {
  if (opts.routerId && opts.routerId !== 'generate') return opts.routerId;
  const v4 = nodeIPs.find((ip) => ipFamily(ip, GO_ADDRESSES) === 4);
  if (v4 && opts.routerId !== 'generate') return v4;
  const h = createHash('sha256').update(nodeName).digest();
  return [h[0]! | 1, h[1], h[2], h[3]].join('.');
}

export interface SpeakerKey {
  readonly asn: number;
  readonly routerId: string;
  readonly clusterId?: string;
  readonly listen: string;
}

export class SpeakerHolder {
  speaker?: BgpSpeaker;
  private key?: SpeakerKey;

  constructor(
    private readonly factory: SpeakerFactory,
    private readonly opts: RouterOptions,
    private readonly log: SpeakerLog,
    private readonly attach: (s: BgpSpeaker) => void,
    private readonly detach: (s: BgpSpeaker) => void,
  ) {}

  /**
   * Set by the controller when it finds routes a previous instance left behind with graceful restart on:
   * the first speaker then announces the Restart State bit so peers keep our routes until End-of-RIB.
   */
  restarting = false;

  /** Returns the running speaker for `key`, (re)starting it when the identity changed. */
  async ensure(key: SpeakerKey): Promise<BgpSpeaker> {
    if (this.speaker && this.key && JSON.stringify(this.key) === JSON.stringify(key)) return this.speaker;
    if (this.speaker) {
      this.detach(this.speaker);
      await this.speaker.stop();
      this.speaker = undefined;
    }
    const o = this.opts;
    const speaker = await this.factory({
      asn: key.asn,
      routerId: key.routerId,
      listenAddresses: key.listen ? [key.listen] : [],
      listenPort: o.bgpPort,
      holdTimeSec: Math.round(o.bgpHoldtimeMs / 1000),
      ...(key.clusterId ? { clusterId: key.clusterId } : {}),
      ...(o.bgpGracefulRestart
        ? {
            gracefulRestart: {
              restartTimeSec: Math.min(4095, Math.round(o.bgpGracefulRestartTimeMs / 1000)),
              deferralTimeSec: Math.round(o.bgpGracefulRestartDeferralTimeMs / 1000),
              ...(this.restarting ? { restarting: true } : {}),
            },
          }
        : {}),
      log: this.log,
    });
    this.attach(speaker);
    await speaker.start();
    this.restarting = false;
    this.speaker = speaker;
    this.key = key;
    return speaker;
  }

  async stop(graceful: boolean): Promise<void> {
    const s = this.speaker;
    if (!s) return;
    this.detach(s);
    this.speaker = undefined;
    this.key = undefined;
    await s.stop({ graceful });
  }
}
