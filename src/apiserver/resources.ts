// The resource table: one ResourceDef per served resource, carrying what discovery advertises and the
// per-kind "strategy" (defaulting, validation, server-owned fields), as kube-apiserver's registry does.
import type { FieldErrors } from './status.js';
import type { KubeObject } from './selectors.js';
import type { NameRule } from './validation.js';
import type { ServiceAllocator } from './allocator.js';

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  format?: string;
  description: string;
  priority: number;
}

export interface StrategyContext {
  alloc: ServiceAllocator;
  now: Date;
}

export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, lower case, as in the URL. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  categories?: readonly string[];
  /** Has a /status subresource; main-resource writes keep the old status. */
  hasStatus: boolean;
  /** Status given at create time is dropped (pods, services), as the real strategies do. */
  resetStatusOnCreate: boolean;
  nameRule: NameRule;
  /** Accept writes and answer as if stored, but keep nothing (events). */
  sink?: boolean;
  /** Defaulting; also re-run on every update so patched objects get defaults too. */
  defaults?(obj: KubeObject, ctx: StrategyContext): void;
  /** Server-owned fields on create (status reset, allocation). Runs after validate. */
  prepareCreate?(obj: KubeObject, ctx: StrategyContext): void;
  /** Carry server-owned fields from the old object; runs before validate. */
  prepareUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): void;
  validate?(obj: KubeObject, errs: FieldErrors, old: KubeObject | undefined, ctx: StrategyContext): void;
  /** Validation of status on /status writes. */
  validateStatus?(obj: KubeObject, errs: FieldErrors): void;
  /** After commit: bookkeeping such as allocator sets (old undefined on create, obj undefined on delete). */
  committed?(obj: KubeObject | undefined, old: KubeObject | undefined, ctx: StrategyContext): void;
  columns?: readonly Column[];
  cells?(obj: KubeObject, now: number): unknown[];
}

export function apiVersionOf(d: ResourceDef): string {
  return d.group ? `${d.group}/${d.version}` : d.version;
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** kubectl-style ages ("5s", "3m2s", "4h", "12d"), as the real server's printers produce. */
export function age(ts: unknown, now: number): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

export const NAME_COLUMN: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  priority: 0,
};
export const AGE_COLUMN: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  priority: 0,
};

export function col(name: string, priority = 0, type: Column['type'] = 'string'): Column {
  return { name, type, description: name, priority };
}

/** "a=b,c=d" as kubectl prints selectors. */
export function formatSelector(m: unknown): string {
  if (!m || typeof m !== 'object') return '<none>';
  const parts = Object.entries(m as Record<string, string>).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(',') : '<none>';
}
