// The BGP speaker library's entry point: the public types and the factory.
import type { BgpSpeaker, SpeakerOptions } from './api.js';
import { Speaker } from './speaker.js';

export * from './api.js';

/** Creates a speaker; throws on invalid options (bad ASN, router id, hold time...). */
export function createSpeaker(opts: SpeakerOptions): BgpSpeaker {
  return new Speaker(opts);
}
