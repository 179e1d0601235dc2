// Optional snapshot of all objects to a JSON file, so restarting the lab's API server keeps the cluster.
// Written debounced (and once more on close) via write-to-temp + rename, so a crash leaves either the old
// or the new snapshot, never half of one.
import { promises as fs, readFileSync, existsSync } from 'node:fs';
import type { ResourceDef } from './resources.js';
import type { Store } from './store.js';
import { entryJSON } from './store.js';
import type { KubeObject } from './selectors.js';

interface Snapshot {
  version: 1;
  resourceVersion: number;
  objects: Record<string, KubeObject[]>;
}

function defKey(d: ResourceDef): string {
  return `${d.group || 'core'}/${d.resource}`;
}

/** Reads the snapshot; returns the resourceVersion it was taken at, or undefined if there is none. */
export function loadSnapshot(
  path: string,
  store: Store,
  onObject: (def: ResourceDef, obj: KubeObject) => void,
  log: (msg: string, obj?: object) => void,
): number | undefined {
  if (!existsSync(path)) return undefined;
  let snap: Snapshot;
  try {
    snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  } catch (e) {
    // Keep the bad file for inspection; start empty rather than refuse to serve.
    log('apiserver: data file unreadable, starting empty', { path, error: (e as Error).message });
    return undefined;
  }
  let maxRV = Number(snap.resourceVersion) || 0;
  for (const def of store.resources.keys()) {
    for (const obj of snap.objects?.[defKey(def)] ?? []) {
      if (!obj?.metadata?.name) continue;
      store.load(def, obj);
      onObject(def, obj);
      maxRV = Math.max(maxRV, Number(obj.metadata.resourceVersion) || 0);
    }
  }
  return maxRV;
}

export class SnapshotWriter {
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private readonly path: string,
    private readonly store: Store,
    private readonly log: (msg: string, obj?: object) => void,
    private readonly delayMs = 300,
  ) {}

  markDirty(): void {
    this.dirty = true;
    if (!this.timer) this.timer = setTimeout(() => void this.flush(), this.delayMs);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const text = this.serialize();
    this.writing = this.writing.then(async () => {
      const tmp = `${this.path}.tmp-${process.pid}`;
      try {
        await fs.writeFile(tmp, text);
        await fs.rename(tmp, this.path);
      } catch (e) {
        this.log('apiserver: writing data file failed', { path: this.path, error: (e as Error).message });
      }
    });
    return this.writing;
  }

  private serialize(): string {
    const parts: string[] = [];
    for (const [def, rs] of this.store.resources) {
      if (def.sink) continue;
      const items = [...rs.items.values()].map(entryJSON).join(',');
      parts.push(`${JSON.stringify(defKey(def))}:[${items}]`);
    }
    return `{"version":1,"resourceVersion":${this.store.rv},"objects":{${parts.join(',')}}}`;
  }
}
