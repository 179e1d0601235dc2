// A ClusterView read from a JSON file and re-read when it changes: lets per-namespace agent processes
// (which need their own process to bind BGP sockets in their netns) share one test-controlled cluster.
import { readFileSync, unwatchFile, watchFile, writeFileSync, renameSync } from 'node:fs';
import type { ClusterView } from '../../watch/cluster-view.js';
import type { ClusterSnapshot, ModelChange, NodeModel, ResourceKind, ServiceModel, EndpointSliceModel } from '../../model/types.js';

export interface ClusterFile {
  readonly nodes: readonly NodeModel[];
  readonly services?: readonly ServiceModel[];
  readonly endpointSlices?: readonly EndpointSliceModel[];
}

export function writeClusterFile(path: string, c: ClusterFile): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(c));
  renameSync(`${path}.tmp`, path);
}

function toSnapshot(c: ClusterFile): ClusterSnapshot {
  return {
    nodes: new Map(c.nodes.map((n) => [n.name, n])),
    services: new Map((c.services ?? []).map((s) => [`${s.namespace}/${s.name}`, s])),
    endpointSlices: new Map((c.endpointSlices ?? []).map((s) => [`${s.namespace}/${s.name}`, s])),
    namespaces: new Map(), pods: new Map(), policies: new Map(),
  };
}

export function fileClusterView(path: string, pollMs = 100): ClusterView & { close(): void } {
  let text = readFileSync(path, 'utf8');
  let snap = toSnapshot(JSON.parse(text) as ClusterFile);
  const listeners = new Set<{ kinds: readonly ResourceKind[]; fn: (c: readonly ModelChange[]) => void }>();
  watchFile(path, { interval: pollMs }, () => {
    let next: string;
    try {
      next = readFileSync(path, 'utf8');
      if (next === text) return;
      snap = toSnapshot(JSON.parse(next) as ClusterFile);
      text = next;
    } catch {
      return; // mid-write or broken: keep the last good snapshot
    }
    // Coarse change feed: one "updated" per kind is enough for a level-triggered controller.
    for (const l of listeners) {
      const changes = l.kinds.map((kind) => ({ kind, key: '*', type: 'updated' }) as ModelChange);
      l.fn(changes);
    }
  });
  return {
    snapshot: () => snap,
    subscribe(kinds, fn) {
      const l = { kinds, fn };
      listeners.add(l);
      return () => listeners.delete(l);
    },
    whenSynced: async () => undefined,
    close: () => unwatchFile(path),
  };
}
