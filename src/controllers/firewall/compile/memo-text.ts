// Strings computed again and again from the same input: chain and set names (a full compile names the same
// few thousand over and over), rule comments (the renderers quote each distinct one once). Bounded so a
// long-running agent's cache cannot grow without end.
const LIMIT = 100_000;

/** `fn` with its results kept per input string (the whole cache dropped at LIMIT entries). */
export function memoText(fn: (s: string) => string): (s: string) => string {
  const cache = new Map<string, string>();
  return (s) => {
    let out = cache.get(s);
    if (out === undefined) {
      if (cache.size >= LIMIT) cache.clear();
      cache.set(s, (out = fn(s)));
    }
    return out;
  };
}
