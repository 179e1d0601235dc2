// Connection collision resolution (RFC 4271 6.8), kept pure so it is tested on its own.
import { parseV4 } from '../wire/prefix.js';

export type Initiator = 'local' | 'remote';

/** Which connection survives: the one initiated by the side with the higher BGP identifier. */
export function collisionWinner(localId: string, remoteId: string): Initiator {
  const l = parseV4(localId) ?? 0, r = parseV4(remoteId) ?? 0;
  return l < r ? 'remote' : 'local';
}
