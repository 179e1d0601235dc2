import { describe, expect, it } from 'vitest';
import type { LabelRequirement, LabelSelector } from '../types.js';
import { matches, matchesMap, parseLabelSelector, requirementHolds, sameLabels } from './selector.js';

function sel(raw: unknown): LabelSelector {
  const r = parseLabelSelector(raw);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

describe('label selector matching', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  it.each<[string, unknown, Record<string, string>, boolean]>([
    ['empty selector matches all', {}, labels, true],
    ['empty selector matches unlabeled', {}, {}, true],
    ['absent selector matches all', undefined, {}, true],
    ['matchLabels hit', { matchLabels: { app: 'web' } }, labels, true],
    ['matchLabels value miss', { matchLabels: { app: 'db' } }, labels, false],
    ['matchLabels key miss', { matchLabels: { zone: 'a' } }, labels, false],
    ['matchLabels all pairs', { matchLabels: { app: 'web', tier: 'back' } }, labels, false],
    ['In hit', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }] }, labels, true],
    ['In miss', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, labels, false],
    ['In absent key', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels, false],
    ['NotIn hit', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, labels, true],
    ['NotIn miss', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, labels, false],
    ['NotIn absent key matches', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels, true],
    ['Exists hit', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels, true],
    ['Exists miss', { matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels, false],
    ['DoesNotExist hit', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist', values: [] }] }, labels, true],
    ['DoesNotExist miss', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels, false],
    [
      'labels AND expressions',
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] },
      labels,
      false,
    ],
    ['empty-string label value', { matchLabels: { flag: '' } }, { flag: '' }, true],
  ])('%s', (_name, raw, lbls, want) => {
    expect(matches(sel(raw), lbls)).toBe(want);
  });

  it('does not see prototype properties as labels', () => {
    expect(matches(sel({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }), {})).toBe(false);
    expect(matchesMap({ constructor: 'x' }, {})).toBe(false);
  });

  it('matches plain service selectors', () => {
    expect(matchesMap({ app: 'web' }, { app: 'web', x: 'y' })).toBe(true);
    expect(matchesMap({ app: 'web' }, { app: 'db' })).toBe(false);
    expect(matchesMap({}, { app: 'db' })).toBe(true);
  });
});

describe('label selector parsing rejects malformed selectors', () => {
  it.each<[string, unknown, string]>([
    ['In without values', { matchExpressions: [{ key: 'a', operator: 'In' }] }, 'operator In requires at least one value'],
    ['NotIn with empty values', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] }, 'operator NotIn requires'],
    ['Exists with values', { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, 'operator Exists must have no values'],
    ['DoesNotExist with values', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] }, 'must have no values'],
    ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }, 'operator: must be one of'],
    ['missing key', { matchExpressions: [{ operator: 'Exists' }] }, 'key is missing'],
    ['non-string value', { matchExpressions: [{ key: 'a', operator: 'In', values: [1] }] }, 'values[0]: expected a string'],
    ['values not an array', { matchExpressions: [{ key: 'a', operator: 'In', values: 'x' }] }, 'values: expected an array'],
    ['matchLabels non-string', { matchLabels: { a: 1 } }, 'matchLabels["a"]: expected a string value'],
    ['selector not an object', 'app=web', 'expected an object'],
  ])('%s', (_name, raw, reason) => {
    const r = parseLabelSelector(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain(reason);
      expect(['invalid_selector', 'invalid_field']).toContain(r.code);
    }
  });
});

describe('requirement evaluation and label equality', () => {
  it('fails closed on an operator it does not know', () => {
    const bad = { key: 'a', operator: 'Equals', values: ['x'] } as unknown as LabelRequirement;
    expect(requirementHolds(bad, { a: 'x' })).toBe(false);
    expect(matches({ matchLabels: {}, matchExpressions: [bad] }, { a: 'x' })).toBe(false);
  });

  it('evaluates one requirement as the API does', () => {
    expect(requirementHolds({ key: 'a', operator: 'NotIn', values: ['x'] }, {})).toBe(true);
    expect(requirementHolds({ key: 'a', operator: 'In', values: ['x'] }, { a: 'x' })).toBe(true);
    expect(requirementHolds({ key: 'a', operator: 'DoesNotExist', values: [] }, { a: '' })).toBe(false);
  });

  it('compares label maps by keys and values', () => {
    const a = { app: 'web', env: 'prod' };
    expect(sameLabels(a, a)).toBe(true);
    expect(sameLabels(a, { env: 'prod', app: 'web' })).toBe(true);
    expect(sameLabels(a, { app: 'web' })).toBe(false);
    expect(sameLabels(a, { app: 'web', env: 'dev' })).toBe(false);
    expect(sameLabels({ constructor: 'x' }, { other: 'x' })).toBe(false);
    expect(sameLabels({}, {})).toBe(true);
  });
});
