import { describe, expect, it } from 'vitest';
import { chainEdit, fullCacheWorthIt, renderRestore, scriptSize, type RestoreScript } from './restore.js';

const big = (chains: number, rulesEach: number): RestoreScript => ({
  edits: Array.from({ length: chains }, (_, i) => ({ kind: 'replace' as const, chain: `C${i}`, rules: Array.from({ length: rulesEach }, (_, j) => `-s 10.0.${j % 250}.${i % 250}/32 -j ACCEPT`) })),
});

describe('restore scripts', () => {
  it('puts a read-only -S right after the table line when asked, and nowhere otherwise', () => {
    const s = big(2, 1);
    expect(renderRestore('filter', s).split('\n').slice(0, 2)).toEqual(['*filter', ':C0 - [0:0]']);
    expect(renderRestore('filter', { ...s, listFirst: true }).split('\n').slice(0, 3)).toEqual(['*filter', '-S', ':C0 - [0:0]']);
  });

  it('asks for the one-fetch form only when the per-chain list walk would cost more than a table dump', () => {
    expect(scriptSize(big(10, 3))).toEqual({ commands: 40, chains: 10 });
    // A first load of thousands of chains into a small table: yes.
    expect(fullCacheWorthIt(big(6000, 14), 500)).toBe(true);
    // One policy chain, or a new pod's chain plus top-level edits, into a big table: no.
    expect(fullCacheWorthIt(big(1, 4), 90_000)).toBe(false);
    const edit = chainEdit('KUBE-ROUTER-FORWARD', Array.from({ length: 40 }, (_, i) => `-d 10.0.0.${i}/32 -j X`), [...Array.from({ length: 40 }, (_, i) => `-d 10.0.0.${i}/32 -j X`), '-d 10.0.1.1/32 -j X']);
    expect(edit?.kind).toBe('edit');
    expect(fullCacheWorthIt({ edits: [edit!, ...big(1, 10).edits] }, 90_000)).toBe(false);
    // The same big script into a table that is already huge: the dump would cost more.
    expect(fullCacheWorthIt(big(100, 10), 1_000_000)).toBe(false);
  });
});
