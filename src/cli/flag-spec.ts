// The shape of one entry of the flag table (flags.ts) and the AgentConfig type derived from the table.
// Deriving the type keeps the table the single source of truth: adding a flag adds its config key.

import type { PortRange } from './values.js';

export type FlagType =
  | 'bool'
  | 'string'
  | 'int'
  | 'duration'
  | 'ip'
  | 'cidr'
  | 'cidr-list'
  | 'ip-list'
  | 'string-list'
  | 'int-list'
  | 'port'
  | 'port-range'
  | 'enum';

/** --help sections, in display order. */
export const FLAG_GROUPS = [
  'General',
  'Service address ranges',
  'Network policy (firewall)',
  'Service proxy',
  'Routing and BGP',
  'Load balancer allocator',
  'Observability',
] as const;
export type FlagGroup = (typeof FLAG_GROUPS)[number];

/** Which controller consumes the flag; the agent warns when that controller is only a placeholder. */
export type FlagOwner = 'agent' | 'firewall' | 'router' | 'proxy' | 'lballoc';

export interface FlagSpec {
  /** Long name without dashes, exactly as kube-router spells it. */
  readonly name: string;
  /** One-letter alias (-v, -V, -h). */
  readonly short?: string;
  readonly group: FlagGroup;
  readonly type: FlagType;
  /**
   * The default as it would be written on the command line ("5m", "true", "10.96.0.0/12", "" for an
   * empty list). It goes through the same parser as user input, so a bad default fails the tests.
   */
  readonly default: string;
  readonly help: string;
  /**
   * true: does what kube-router's flag does. false: accepted for compatibility but has no effect yet;
   * --help says "(not implemented yet)" and the agent warns when it is set to a non-default value.
   * A string: partly implemented; the string says what is missing (shown in --help and in the warning).
   */
  readonly implemented: boolean | string;
  readonly owner: FlagOwner;
  /** Allowed values of an enum flag. */
  readonly values?: readonly string[];
  /** Inclusive bounds: numbers for int/port/int-list items, Go duration text for durations. */
  readonly min?: number | string;
  readonly max?: number | string;
  /** For list flags. */
  readonly maxItems?: number;
  /** Value must not be echoed in logs (passwords). */
  readonly secret?: boolean;
  /** --help / --version: an action, not a setting; excluded from AgentConfig. */
  readonly action?: 'help' | 'version';
}

interface ScalarTypes {
  bool: boolean;
  string: string;
  int: number;
  /** milliseconds */
  duration: number;
  ip: string;
  cidr: string;
  'cidr-list': readonly string[];
  'ip-list': readonly string[];
  'string-list': readonly string[];
  'int-list': readonly number[];
  port: number;
  'port-range': PortRange;
  enum: string;
}

/** "iptables-sync-period" -> "iptablesSyncPeriod" */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

type ValueOf<F extends FlagSpec> = F extends { readonly values: readonly (infer V)[] } ? V : ScalarTypes[F['type']];

/** Duration keys carry their unit ("iptablesSyncPeriodMs"), as the controllers' option types do. */
type KeyOf<F extends FlagSpec> = F['type'] extends 'duration' ? `${CamelCase<F['name']>}Ms` : CamelCase<F['name']>;

/** Typed settings for the agent: one camelCase key per (non-action) flag of `T`. */
export type ConfigOf<T extends readonly FlagSpec[]> = {
  readonly [F in T[number] as F extends { readonly action: string } ? never : KeyOf<F>]: ValueOf<F>;
};

/** The AgentConfig key of a flag: "iptables-sync-period" -> "iptablesSyncPeriodMs", "run-router" -> "runRouter". */
export function configKey(spec: Pick<FlagSpec, 'name' | 'type'>): string {
  const camel = spec.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return spec.type === 'duration' ? `${camel}Ms` : camel;
}
