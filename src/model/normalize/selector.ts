import type { LabelRequirement, LabelSelector, Labels, SelectorOperator } from '../types.js';
import { labelMap, optArray, optObject, optString } from './fields.js';
import { normalizeWith, reject, type NormalizeResult } from './result.js';

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** The selector that selects everything (an empty metav1.LabelSelector). */
export const EVERYTHING: LabelSelector = { matchLabels: {}, matchExpressions: [] };

/**
 * Parses a metav1.LabelSelector at `path`. Absent means "everything", as an omitted struct does in the API.
 * Throws a Rejection (caught by the calling normalizer) with code invalid_selector.
 */
export function readLabelSelector(v: unknown, path: string): LabelSelector {
  const o = optObject(v, path);
  if (!o) return EVERYTHING;
  let matchLabels: Labels;
  try {
    matchLabels = labelMap(o['matchLabels'], `${path}.matchLabels`);
  } catch (err) {
    // Keep the precise text but file it under selectors, where a user will look.
    reject('invalid_selector', (err as Error).message);
  }
  const matchExpressions: LabelRequirement[] = [];
  optArray(o['matchExpressions'], `${path}.matchExpressions`).forEach((raw, i) => {
    const at = `${path}.matchExpressions[${i}]`;
    const req = optObject(raw, at);
    if (!req) reject('invalid_selector', `${at}: requirement is null`);
    const key = optString(req['key'], `${at}.key`);
    if (!key) reject('invalid_selector', `${at}.key: key is missing or empty`);
    const op = req['operator'];
    if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op)) {
      reject('invalid_selector', `${at}.operator: must be one of ${OPERATORS.join(', ')}, got ${JSON.stringify(op ?? null)}`);
    }
    const rawValues = req['values'];
    if (rawValues !== undefined && rawValues !== null && !Array.isArray(rawValues)) {
      reject('invalid_selector', `${at}.values: expected an array`);
    }
    const values = (rawValues ?? []) as unknown[];
    values.forEach((val, j) => {
      if (typeof val !== 'string') reject('invalid_selector', `${at}.values[${j}]: expected a string`);
    });
    const operator = op as SelectorOperator;
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      reject('invalid_selector', `${at}: operator ${operator} requires at least one value`);
    }
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
      reject('invalid_selector', `${at}: operator ${operator} must have no values`);
    }
    matchExpressions.push({ key, operator, values: [...new Set(values as string[])] });
  });
  return { matchLabels, matchExpressions };
}

/** Public, non-throwing form of readLabelSelector for callers outside the normalizers. */
export function parseLabelSelector(v: unknown): NormalizeResult<LabelSelector> {
  return normalizeWith(() => readLabelSelector(v, 'selector'));
}

/** True when the selector selects nothing-in-particular, i.e. everything. */
export function isEverything(sel: LabelSelector): boolean {
  return sel.matchExpressions.length === 0 && Object.keys(sel.matchLabels).length === 0;
}

/**
 * One requirement of a selector, as the API evaluates it: a missing key satisfies NotIn and DoesNotExist.
 * The single evaluator for the project (the firewall compiler and the API server's ?labelSelector= use it);
 * an operator it does not know selects nothing, so bad data fails closed.
 */
export function requirementHolds(req: LabelRequirement, labels: Labels): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  switch (req.operator) {
    case 'In':
      return has && req.values.includes(labels[req.key]!);
    case 'NotIn':
      return !has || !req.values.includes(labels[req.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false;
  }
}

/** Label selector semantics of the API: every matchLabels pair and every requirement must hold. */
export function matches(sel: LabelSelector, labels: Labels): boolean {
  return matchesMap(sel.matchLabels, labels) && sel.matchExpressions.every((req) => requirementHolds(req, labels));
}

/** A Service-style selector (plain map): every pair must match; callers treat an absent map as "none". */
export function matchesMap(selector: Labels, labels: Labels): boolean {
  for (const key in selector) {
    if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}

/** Same keys and values (change detection: a namespace whose labels did not change selects the same pods). */
export function sameLabels(a: Labels, b: Labels): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}
