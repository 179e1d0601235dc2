// The one polling helper of the tests. Everything the tests wait for (a BGP session, a route in the kernel,
// a firewall programmed by another process, a watch event) happens asynchronously, so they poll.

/**
 * Calls `fn` every `stepMs` until it returns a truthy value, which it resolves to. An exception from `fn`
 * counts as "not yet" (a namespace still coming up, a daemon not answering yet); the last one is quoted when
 * the wait times out, with `detail()` (for example a log tail) appended.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  stepMs = 100,
  detail?: () => string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const why = last ? `: ${last instanceof Error ? last.message : String(last)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${detail ? `\n--- detail ---\n${detail().slice(-3000)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** `waitFor` for assertions written as `expect(await holds(...)).toBe(true)`: false instead of throwing. */
export function holds(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  return waitFor('condition', check, timeoutMs, 100).then(() => true, () => false);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
