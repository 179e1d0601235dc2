// Helpers for tests that run speakers on loopback addresses (127.0.0.0/8 needs no interface changes).
import type { BgpSpeaker, PeerStatus, Route } from '../../bgp/api.js';
import { waitFor } from '../wait.js';

let nextPort = 20000 + (process.pid % 20000);
export function freePort(): number {
  nextPort += 1;
  return nextPort;
}

export function peerState(s: BgpSpeaker, addr: string): PeerStatus | undefined {
  return s.peers().find((p) => p.address === addr);
}

export async function established(s: BgpSpeaker, addr: string, timeoutMs = 10_000): Promise<PeerStatus> {
  return waitFor(`session to ${addr}`, () => { const p = peerState(s, addr); return p?.state === 'Established' && p; }, timeoutMs, 20);
}

export function route(s: BgpSpeaker, prefix: string): Route | undefined {
  return s.bestPaths().find((r) => r.prefix === prefix);
}
