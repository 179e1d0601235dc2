import { describe, expect, it } from 'vitest';
import { labelMatcher } from './selectors.js';

const obj = (labels?: Record<string, string>) => ({ metadata: { name: 'x', ...(labels ? { labels } : {}) } });

describe('labelMatcher evaluates every string-syntax operator', () => {
  it.each<[string, Record<string, string> | undefined, boolean]>([
    ['a=b', { a: 'b' }, true],
    ['a==b', { a: 'c' }, false],
    ['a=b', undefined, false],
    ['a!=b', { a: 'c' }, true],
    ['a!=b', { a: 'b' }, false],
    ['a!=b', {}, true],
    ['a in (b,c)', { a: 'c' }, true],
    ['a in (b,c)', {}, false],
    ['a notin (b,c)', { a: 'b' }, false],
    ['a notin (b,c)', {}, true],
    ['a', { a: '' }, true],
    ['a', {}, false],
    ['!a', {}, true],
    ['!a', { a: 'x' }, false],
    ['toString', {}, false],
    ['n>3', { n: '4' }, true],
    ['n>3', { n: '3' }, false],
    ['n<3', { n: '-1' }, true],
    ['n<3', { n: 'two' }, false],
    ['n<3', {}, false],
    ['a=b,n>3', { a: 'b', n: '2' }, false],
  ])('%s on %j -> %s', (sel, labels, want) => {
    expect(labelMatcher(sel)!(obj(labels))).toBe(want);
  });
});
