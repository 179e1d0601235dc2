// Errors are data: what the NOTIFICATION would carry plus the RFC 7606 action. Not an Error subclass, so
// building one (the fuzzer builds millions) captures no stack.
import { describeNotification } from './constants.js';

export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

const RANK: Record<ErrorAction, number> = { 'attribute-discard': 1, 'treat-as-withdraw': 2, 'session-reset': 3 };
const EMPTY = Buffer.alloc(0);

export class BgpError {
  constructor(
    readonly code: number,
    readonly subcode: number,
    readonly reason: string,
    readonly action: ErrorAction = 'session-reset',
    readonly data: Buffer = EMPTY,
  ) {}

  toString(): string {
    return `${describeNotification(this.code, this.subcode)}: ${this.reason}`;
  }
}

/** The stronger of two errors (RFC 7606 section 3: the most severe action wins). */
export function stronger(a: BgpError | undefined, b: BgpError): BgpError {
  if (!a) return b;
  return RANK[b.action] > RANK[a.action] ? b : a;
}

export function isBgpError(x: unknown): x is BgpError {
  return x instanceof BgpError;
}
