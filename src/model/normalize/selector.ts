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

/** Label selector semantics of the API: every matchLabels pair and every requirement must hold. */
export function matches(sel: LabelSelector, labels: Labels): boolean {
  for (const key in sel.matchLabels) {
    if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== sel.matchLabels[key]) return false;
  }
  for (const req of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    switch (req.operator) {
      case 'In':
        if (!has || !req.values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        if (has && req.values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** A Service-style selector (plain map): every pair must match; callers treat an absent map as "none". */
export function matchesMap(selector: Labels, labels: Labels): boolean {
  for (const key in selector) {
    if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== selector[key]) return false;
  }
  return true;
}
