// pflag-compatible parsing of the agent's command line over the flag table, producing a typed
// AgentConfig. Every rejection is a FlagError whose message is one line (main.ts prints it and exits 2).

import { convertValue, displayValue, expectation, ValueError } from './convert.js';
import { configKey, type FlagSpec } from './flag-spec.js';
import { type AgentConfig, FLAG_BY_NAME, FLAG_BY_SHORT, FLAGS } from './flags.js';
import { KrtError, type ErrorCode } from '../observe/errors.js';

export type FlagErrorCode = 'invalid-value' | 'unknown-flag' | 'missing-value' | 'unexpected-argument' | 'conflict';

const FLAG_ERROR_CODES: Record<FlagErrorCode, ErrorCode> = {
  'invalid-value': 'KRT_FLAG_INVALID_VALUE',
  'unknown-flag': 'KRT_FLAG_UNKNOWN',
  'missing-value': 'KRT_FLAG_MISSING_VALUE',
  'unexpected-argument': 'KRT_FLAG_UNEXPECTED_ARGUMENT',
  conflict: 'KRT_FLAG_CONFLICT',
};

export class FlagError extends KrtError {
  constructor(
    readonly kind: FlagErrorCode,
    message: string,
  ) {
    super(FLAG_ERROR_CODES[kind], message);
    this.name = 'FlagError';
  }
}

export type ParseOutcome =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | {
      readonly kind: 'run';
      readonly config: AgentConfig;
      /** Names of the flags given on the command line, in first-seen order. */
      readonly given: readonly string[];
    };

const TABLE: readonly FlagSpec[] = FLAGS;
const isList = (spec: FlagSpec): boolean => spec.type.endsWith('-list');

function invalid(spec: FlagSpec, err: ValueError): FlagError {
  return new FlagError('invalid-value', `invalid value ${JSON.stringify(err.value)} for --${spec.name}: ${err.message}`);
}

/** Converts one occurrence, turning a ValueError into the flag's one-line message. */
function convert(spec: FlagSpec, text: string): unknown {
  try {
    return convertValue(spec, text);
  } catch (err) {
    if (err instanceof ValueError) throw invalid(spec, err);
    throw err;
  }
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest known flag name, if any is plausibly what was meant. */
export function suggestFlag(name: string): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const spec of TABLE) {
    // A prefix (--iptables-sync) is almost certainly the longer flag; rank it as a near miss.
    const score = spec.name.startsWith(name) && name.length >= 3 ? 1 : editDistance(name, spec.name);
    if (score < bestScore) {
      best = spec.name;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function unknownFlag(shown: string, name: string): FlagError {
  const guess = suggestFlag(name);
  return new FlagError('unknown-flag', `unknown flag ${shown}${guess ? ` (did you mean --${guess}?)` : ''}`);
}

/** A following argument that is itself a flag is not taken as a value (pflag would; it is never meant). */
function looksLikeFlag(arg: string | undefined): boolean {
  return arg !== undefined && /^--?[A-Za-z]/.test(arg);
}

interface Occurrence {
  readonly spec: FlagSpec;
  readonly text: string;
}

/** Splits argv into flag occurrences (pflag syntax), without converting values yet. */
function scan(argv: readonly string[]): Occurrence[] {
  const out: Occurrence[] = [];
  const needValue = (spec: FlagSpec, shown: string, i: number): string => {
    const next = argv[i + 1];
    if (next === undefined || looksLikeFlag(next)) {
      throw new FlagError('missing-value', `flag ${shown} needs a value: ${expectation(spec)}`);
    }
    return next;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      if (i + 1 < argv.length) throw unexpected(argv[i + 1]!);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = FLAG_BY_NAME.get(name);
      if (!spec) throw unknownFlag(`--${name}`, name);
      if (eq >= 0) out.push({ spec, text: arg.slice(eq + 1) });
      else if (spec.type === 'bool') out.push({ spec, text: 'true' });
      else out.push({ spec, text: needValue(spec, `--${name}`, i++) });
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // Shorthands: -v 2, -v2, -v=2, and grouped booleans such as -Vh.
      let rest = arg.slice(1);
      while (rest !== '') {
        const spec = FLAG_BY_SHORT.get(rest[0]!);
        if (!spec) {
          const asLong = FLAG_BY_NAME.get(rest.split('=')[0]!);
          if (asLong && rest === arg.slice(1)) {
            throw new FlagError('unknown-flag', `unknown shorthand flag ${arg.split('=')[0]} (did you mean --${asLong.name}?)`);
          }
          throw unknownFlag(`-${rest[0]} in ${arg}`, rest);
        }
        const after = rest.slice(1);
        if (after.startsWith('=')) {
          out.push({ spec, text: after.slice(1) });
          rest = '';
        } else if (spec.type === 'bool') {
          out.push({ spec, text: 'true' });
          rest = after;
        } else if (after !== '') {
          out.push({ spec, text: after });
          rest = '';
        } else {
          out.push({ spec, text: needValue(spec, `-${spec.short}`, i++) });
          rest = '';
        }
      }
      continue;
    }
    throw unexpected(arg);
  }
  return out;
}

function unexpected(arg: string): FlagError {
  const hint = /^(true|false|[01tfTF]|TRUE|FALSE|True|False)$/.test(arg)
    ? ' (boolean flags take their value as --flag=false)'
    : ' (kube-router takes only flags; subcommands are apiserver, lab and docs-flags)';
  return new FlagError('unexpected-argument', `unexpected argument ${JSON.stringify(arg)}${hint}`);
}

/** Every flag at its default. */
export function defaultConfig(): AgentConfig {
  const config: Record<string, unknown> = {};
  for (const spec of TABLE) {
    if (!spec.action) config[configKey(spec)] = convert(spec, spec.default);
  }
  return config as AgentConfig;
}

/** Parses the agent's argv (without node and script). Throws FlagError. */
export function parseAgentArgs(argv: readonly string[]): ParseOutcome {
  const occurrences = scan(argv);
  const config: Record<string, unknown> = defaultConfig() as unknown as Record<string, unknown>;
  const given: string[] = [];
  let action: 'help' | 'version' | undefined;
  for (const { spec, text } of occurrences) {
    const value = convert(spec, text);
    if (spec.action) {
      if (value === true) action ??= spec.action;
      continue;
    }
    const key = configKey(spec);
    // pflag slices: the first occurrence replaces the default, later ones append.
    const first = !given.includes(spec.name);
    config[key] = isList(spec) && !first ? [...(config[key] as unknown[]), ...(value as unknown[])] : value;
    if (first) given.push(spec.name);
  }
  if (action) return { kind: action };
  for (const spec of TABLE) {
    const v = config[configKey(spec)];
    if (spec.maxItems !== undefined && Array.isArray(v) && v.length > spec.maxItems) {
      throw new FlagError(
        'invalid-value',
        `invalid value ${JSON.stringify(v.join(','))} for --${spec.name}: expected at most ${spec.maxItems} entries`,
      );
    }
  }
  const typed = config as AgentConfig;
  checkConflicts(typed);
  return { kind: 'run', config: typed, given };
}

function conflict(message: string): FlagError {
  return new FlagError('conflict', `conflicting flags: ${message}`);
}

/** Rules across flags, as kube-router checks them at start-up. */
export function checkConflicts(c: AgentConfig): void {
  if (!c.enableIpv4 && !c.enableIpv6) {
    throw conflict('--enable-ipv4=false and --enable-ipv6=false leave no address family to serve');
  }
  if (c.runRouter && c.enableIpv6 && !c.enableIpv4 && c.routerId === '') {
    throw conflict('--enable-ipv6 with --enable-ipv4=false needs --router-id (there is no IPv4 address to derive it from)');
  }
  const ranges = c.serviceClusterIpRange;
  if (ranges.length === 2 && ranges[0]!.includes(':') === ranges[1]!.includes(':')) {
    throw conflict(`--service-cluster-ip-range ${ranges.join(',')} must be one IPv4 and one IPv6 range`);
  }
  const peers = c.peerRouterIps.length;
  const perPeer: Array<[string, readonly unknown[], boolean]> = [
    ['peer-router-asns', c.peerRouterAsns, true],
    ['peer-router-ports', c.peerRouterPorts, false],
    ['peer-router-passwords', c.peerRouterPasswords, false],
  ];
  for (const [name, list, required] of perPeer) {
    if ((required || list.length > 0) && list.length !== peers) {
      const n = (k: number): string => `${k} ${k === 1 ? 'entry' : 'entries'}`;
      throw conflict(`--${name} has ${n(list.length)} but --peer-router-ips has ${n(peers)}; give one per peer`);
    }
  }
  if (c.peerRouterPasswords.length > 0 && c.peerRouterPasswordsFile !== '') {
    throw conflict('--peer-router-passwords and --peer-router-passwords-file are mutually exclusive');
  }
}

export interface FlagSetting {
  readonly name: string;
  readonly spec: FlagSpec;
  readonly value: unknown;
  /** For logs; secrets redacted. */
  readonly display: string;
}

/** Flags whose value differs from the default, in table order. */
export function nonDefaultFlags(config: AgentConfig): FlagSetting[] {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const current = config as unknown as Record<string, unknown>;
  const out: FlagSetting[] = [];
  for (const spec of TABLE) {
    if (spec.action) continue;
    const key = configKey(spec);
    if (JSON.stringify(current[key]) !== JSON.stringify(defaults[key])) {
      out.push({ name: spec.name, spec, value: current[key], display: displayValue(spec, current[key]) });
    }
  }
  return out;
}
