// Scalar value syntaxes of kube-router's command line, as Go parses them (time.ParseDuration,
// strconv.ParseBool, strconv.ParseInt). Each parser returns undefined for input Go would reject, so the
// flag layer can phrase one error message per flag.

const NS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.Duration is an int64 of nanoseconds; anything longer overflows there, so we reject it too. */
const MAX_DURATION_NS = 2 ** 63 - 1;

/**
 * Go duration syntax ("300ms", "1.5h", "1h30m", "-2s", "0") to milliseconds (may be fractional for
 * sub-millisecond input). Units are required except for a bare "0", as in Go.
 */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let totalNs = 0;
  while (s !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    // Go requires at least one digit on either side of the dot (".5s" and "1.s" are fine, ".s" is not).
    if (whole === '' && (frac === undefined || frac === '')) return undefined;
    s = s.slice(m![0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    const unit = unitMatch?.[0];
    if (unit === undefined || !(unit in NS_PER_UNIT)) return undefined;
    s = s.slice(unit.length);
    const value = Number(`${whole || '0'}.${frac || '0'}`);
    totalNs += value * NS_PER_UNIT[unit]!;
    if (totalNs > MAX_DURATION_NS) return undefined;
  }
  return (sign * totalNs) / 1e6;
}

/** Go's Duration.String() for display of milliseconds: "1h30m0s", "90ms", "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  let rest = Math.abs(ms);
  let out: string;
  if (rest < 1000) {
    out = `${+rest.toFixed(6)}ms`;
  } else {
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const sec = +(rest / 1000).toFixed(9);
    out = h > 0 ? `${h}h${m}m${sec}s` : m > 0 ? `${m}m${sec}s` : `${sec}s`;
  }
  return neg ? `-${out}` : out;
}

/** strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False. */
export function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** A decimal integer with optional sign (Go's ParseInt base 0 also takes 0x/0o/0b prefixes; so do we). */
export function parseInteger(text: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9_]+)$/.exec(text);
  if (!m) return undefined;
  const body = m[2]!;
  if (body.startsWith('_') || body.endsWith('_') || body.includes('__')) return undefined;
  const clean = body.replace(/_/g, '');
  let value: number;
  if (/^0[xX]/.test(clean)) value = parseInt(clean.slice(2), 16);
  else if (/^0[oO]/.test(clean)) value = parseInt(clean.slice(2), 8);
  else if (/^0[bB]/.test(clean)) value = parseInt(clean.slice(2), 2);
  else if (/^0[0-7]+$/.test(clean)) value = parseInt(clean.slice(1), 8); // Go: leading 0 means octal
  else if (/^[0-9]+$/.test(clean) && !/^0[0-9]/.test(clean)) value = parseInt(clean, 10);
  else return undefined;
  if (!Number.isSafeInteger(value)) return undefined;
  return m[1] === '-' ? -value : value;
}

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** "30000-32767" or "30000:32767" (kube-router accepts both separators), both ends 1..65535, from <= to. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = /^([0-9]{1,5})[-:]([0-9]{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 1 || to > 65535 || from > to) return undefined;
  return { from, to };
}

/** Splits a pflag slice value: comma-separated, surrounding blanks ignored, "" is the empty list. */
export function splitList(text: string): string[] {
  if (text.trim() === '') return [];
  return text.split(',').map((s) => s.trim());
}
