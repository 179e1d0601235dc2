/**
 * The outcome of normalizing one raw Kubernetes object. Rejections carry a precise human reason and a code
 * from a small fixed set, so metrics can label by code without unbounded cardinality.
 */
export const REJECT_CODES = [
  'not_object',
  'missing_metadata',
  'missing_field',
  'invalid_field',
  'invalid_ip',
  'invalid_cidr',
  'invalid_selector',
  'invalid_port',
  'invalid_protocol',
  'internal_error',
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

export type NormalizeResult<T> =
  | { readonly ok: true; readonly value: T; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly reason: string; readonly code: RejectCode };

/** Thrown only inside normalizers and always caught by `normalizeWith`; never escapes this folder. */
export class Rejection extends Error {
  constructor(
    readonly code: RejectCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export function reject(code: RejectCode, reason: string): never {
  throw new Rejection(code, reason);
}

/**
 * Runs a normalizer body so that it can bail out at any depth with `reject` while the public function never
 * throws. Anything else thrown (a getter on a strange object, a bug) becomes an internal_error rejection.
 */
export function normalizeWith<T>(body: (warn: (message: string) => void) => T): NormalizeResult<T> {
  const warnings: string[] = [];
  try {
    const value = body((m) => warnings.push(m));
    return { ok: true, value, warnings };
  } catch (err) {
    if (err instanceof Rejection) return { ok: false, reason: err.reason, code: err.code };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `unexpected error while normalizing: ${message}`, code: 'internal_error' };
  }
}
