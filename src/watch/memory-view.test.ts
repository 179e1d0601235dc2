import { describe, expect, it } from 'vitest';
import type { ModelChange, NamespaceModel, PodModel } from '../model/types.js';
import { createMemoryClusterView } from './memory-view.js';

function pod(name: string, ip: string, labels: Record<string, string> = {}): PodModel {
  return {
    namespace: 'default',
    name,
    uid: `uid-${name}`,
    labels,
    annotations: {},
    hostNetwork: false,
    phase: 'Running',
    podIPs: [ip],
    ports: [],
    deleting: false,
  };
}
const ns = (name: string, labels: Record<string, string> = {}): NamespaceModel => ({ name, uid: name, labels });

describe('memory cluster view (shared batching store)', () => {
  it('delivers one batch per tick, after the snapshot shows it', async () => {
    const view = createMemoryClusterView();
    const batches: { changes: readonly ModelChange[]; pods: number }[] = [];
    view.subscribe(['Pod'], (changes) => batches.push({ changes, pods: view.snapshot().pods.size }));
    for (let i = 0; i < 100; i++) view.set('Pod', pod(`p${i}`, `10.0.0.${i}`));
    expect(view.snapshot().pods.size).toBe(0); // nothing delivered yet
    await view.settled();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.changes).toHaveLength(100);
    expect(batches[0]!.pods).toBe(100);
    expect(batches[0]!.changes[0]).toMatchObject({ kind: 'Pod', key: 'default/p0', type: 'added' });
  });

  it('filters by kind and coalesces per key', async () => {
    const view = createMemoryClusterView();
    const pods: ModelChange[] = [];
    const nss: ModelChange[] = [];
    view.subscribe(['Pod'], (c) => pods.push(...c));
    view.subscribe(['Namespace'], (c) => nss.push(...c));
    view.set('Namespace', ns('a'));
    view.set('Pod', pod('x', '10.0.0.1'));
    view.set('Pod', pod('x', '10.0.0.2'));
    view.set('Pod', pod('gone', '10.0.0.3'));
    view.delete('Pod', 'default/gone');
    view.flush();
    expect(nss.map((c) => c.key)).toEqual(['a']);
    expect(pods).toEqual([{ kind: 'Pod', key: 'default/x', type: 'added', new: pod('x', '10.0.0.2') }]);
    // Update then revert inside one batch: no net change, nothing delivered.
    pods.length = 0;
    view.set('Pod', pod('x', '10.0.0.9'));
    view.set('Pod', pod('x', '10.0.0.2'));
    view.flush();
    expect(pods).toEqual([]);
    view.delete('Pod', 'default/x');
    view.flush();
    expect(pods).toEqual([{ kind: 'Pod', key: 'default/x', type: 'deleted', old: pod('x', '10.0.0.2') }]);
  });

  it('emits nothing for a deep-equal update and keeps the snapshot identical', async () => {
    const view = createMemoryClusterView();
    let calls = 0;
    view.subscribe(['Pod', 'Namespace'], () => calls++);
    view.set('Pod', pod('a', '10.0.0.1', { app: 'x' }));
    await view.settled();
    const s1 = view.snapshot();
    expect(view.snapshot()).toBe(s1); // O(1) while nothing changed
    view.set('Pod', pod('a', '10.0.0.1', { app: 'x' })); // new object, same content
    await view.settled();
    expect(calls).toBe(1);
    expect(view.snapshot()).toBe(s1);
    view.set('Namespace', ns('n1'));
    await view.settled();
    const s2 = view.snapshot();
    expect(s2).not.toBe(s1);
    expect(s2.pods).toBe(s1.pods); // untouched kinds keep their map
    expect(s2.namespaces.get('n1')).toEqual(ns('n1'));
  });

  it('snapshot maps are copies: later changes do not leak into an earlier snapshot', async () => {
    const view = createMemoryClusterView();
    view.set('Pod', pod('a', '10.0.0.1'));
    view.flush();
    const before = view.snapshot();
    view.set('Pod', pod('b', '10.0.0.2'));
    view.flush();
    expect(before.pods.has('default/b')).toBe(false);
    expect(view.snapshot().pods.has('default/b')).toBe(true);
  });

  it('keeps delivering to other subscribers when one throws', async () => {
    const errors: unknown[] = [];
    const view = createMemoryClusterView({ onListenerError: (e) => errors.push(e) });
    let got = 0;
    view.subscribe(['Pod'], () => {
      throw new Error('bad controller');
    });
    const off = view.subscribe(['Pod'], () => got++);
    view.set('Pod', pod('a', '10.0.0.1'));
    view.flush();
    off();
    view.set('Pod', pod('b', '10.0.0.2'));
    view.flush();
    expect(got).toBe(1);
    expect(errors).toHaveLength(2);
  });

  it('resolves whenSynced on demand', async () => {
    const view = createMemoryClusterView({ synced: false });
    let synced = false;
    void view.whenSynced().then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(synced).toBe(false);
    view.markSynced();
    await view.whenSynced();
    expect(synced).toBe(true);
  });
});
