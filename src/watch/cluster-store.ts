// Deep imports: the package index loads every generated API and model class, which the agent does not use.
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectKey, ResourceKind } from '../model/types.js';
import type { ClusterView } from './cluster-view.js';
import { kindSpecs, type KindSpec } from './kinds.js';
import { ALL_KINDS, ModelStore, objectKey } from './model-store.js';

export interface ClusterStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly log: Logger;
  readonly metrics: Registry;
  /** Kinds to watch (default all). A firewall-only agent needs no EndpointSlices. */
  readonly kinds?: readonly ResourceKind[];
  /** Restart backoff after a watch/list failure; default 1 s doubling to 30 s. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Default true. With false, call start(). */
  readonly autoStart?: boolean;
}

/** Where one kind's list+watch stands (for tests, debugging and `kube-router` status output). */
export interface WatchStatus {
  /** The resourceVersion a re-watch would resume from (last event or bookmark); "" before a list. */
  readonly resourceVersion: string;
  /** Completed lists: the initial one, plus one per 410 Gone (or store restart). */
  readonly lists: number;
  /** Watch requests made (each server-side close or error makes another). */
  readonly watches: number;
  readonly bookmarks: number;
  /** Watches refused or ended with 410 Gone (resourceVersion too old). */
  readonly expired: number;
}

export interface ClusterStore extends ClusterView {
  /** Starts the informers (idempotent; createClusterStore already did unless autoStart is false). */
  start(): void;
  /** Stops every informer and timer; the model stays readable. */
  stop(): Promise<void>;
  /** Kinds being watched. */
  readonly kinds: readonly ResourceKind[];
  watchStatus(): Partial<Record<ResourceKind, WatchStatus>>;
}

/** A watch that ends sooner than this without a single event counts as a failure for the re-watch backoff. */
const SHORT_WATCH_MS = 1000;

/**
 * client-node's Watch, asking for bookmarks and reporting what goes through it. ListWatch already resumes
 * from a BOOKMARK's resourceVersion and relists after 410 (an HTTP 410, or an ERROR event with a 410 Status
 * followed by the end of the stream); it re-watches at once when the server ends a stream. Here: the
 * `allowWatchBookmarks` it does not send, counters, and a backoff when the server keeps ending watches at
 * once (a hot reconnect loop otherwise).
 */
class InstrumentedWatch extends Watch {
  watches = 0;
  bookmarks = 0;
  expired = 0;
  private quickEnds = 0;

  constructor(
    kc: KubeConfig,
    private readonly hooks: {
      readonly stopped: () => boolean;
      readonly backoff: { readonly initialMs: number; readonly maxMs: number };
      readonly onExpired: (how: 'http' | 'event') => void;
      readonly onBookmark: (resourceVersion: string | undefined) => void;
    },
  ) {
    super(kc);
  }

  override async watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, raw?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.quickEnds > 0) {
      const delay = Math.min(this.hooks.backoff.maxMs, this.hooks.backoff.initialMs * 2 ** (this.quickEnds - 1));
      await new Promise((r) => setTimeout(r, delay));
    }
    if (this.hooks.stopped()) return new AbortController();
    this.watches++;
    const started = Date.now();
    let events = 0;
    return super.watch(
      path,
      { ...params, allowWatchBookmarks: true },
      (phase, obj, raw) => {
        events++;
        if (phase === 'BOOKMARK') {
          this.bookmarks++;
          this.hooks.onBookmark((obj as KubernetesObject | undefined)?.metadata?.resourceVersion);
        } else if (phase === 'ERROR' && (obj as { code?: unknown } | undefined)?.code === 410) {
          this.expired++;
          this.hooks.onExpired('event');
        }
        callback(phase, obj, raw);
      },
      (err) => {
        if (err === null || err === undefined) {
          this.quickEnds = events === 0 && Date.now() - started < SHORT_WATCH_MS ? this.quickEnds + 1 : 0;
        } else if ((err as { statusCode?: unknown }).statusCode === 410) {
          this.expired++;
          this.hooks.onExpired('http');
        }
        done(err);
      },
    );
  }
}

interface Metrics {
  readonly rejected: Counter<'kind' | 'reason'>;
  readonly restarts: Counter<'kind'>;
  readonly objects: Gauge<'kind'>;
}

/** Registers once per registry; a second store on the same registry shares the series. */
function metricsOn(reg: Registry): Metrics {
  const get = <T>(name: string, make: () => T): T => (reg.getSingleMetric(name) as T | undefined) ?? make();
  return {
    rejected: get(
      'kube_router_rejected_objects_total',
      () =>
        new Counter({
          name: 'kube_router_rejected_objects_total',
          help: 'Kubernetes objects rejected by normalization (the last good version, if any, is kept)',
          labelNames: ['kind', 'reason'],
          registers: [reg],
        }),
    ),
    restarts: get(
      'kube_router_watch_restarts_total',
      () =>
        new Counter({
          name: 'kube_router_watch_restarts_total',
          help: 'Informer restarts after a list or watch failure',
          labelNames: ['kind'],
          registers: [reg],
        }),
    ),
    objects: get(
      'kube_router_cluster_objects',
      () =>
        new Gauge({
          name: 'kube_router_cluster_objects',
          help: 'Objects in the agent cluster model, per kind',
          labelNames: ['kind'],
          registers: [reg],
        }),
    ),
  };
}

/** One informer, its restart policy and its rejection bookkeeping. */
class KindWatcher {
  private informer: ListWatch<KubernetesObject> | undefined;
  private watch: InstrumentedWatch | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private failing = false;
  private errors = 0;
  private stopped = true;
  synced = false;
  /** Completed lists (initial, after 410 Gone, after restart). */
  lists = 0;
  /** Last rejection reason per object, so each (object, reason) is logged and counted once. */
  private readonly rejected = new Map<ObjectKey, string>();
  private readonly warned = new Map<ObjectKey, string>();

  constructor(
    private readonly spec: KindSpec,
    private readonly kc: KubeConfig,
    private readonly store: ModelStore,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly backoff: { readonly initialMs: number; readonly maxMs: number },
    private readonly onSynced: () => void,
  ) {
    this.delayMs = backoff.initialMs;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const list = async () => {
      const result = await this.spec.list();
      this.lists++;
      this.log.debug({ kind: this.spec.kind, objects: result.items.length, resourceVersion: result.metadata?.resourceVersion }, 'list received');
      if (current()) this.reconcile(result.items);
      // The informer applies the list synchronously right after this resolves; flush after that, then
      // declare the kind synced, so whenSynced() waiters see the whole list in snapshot().
      if (!this.synced) {
        setImmediate(() => {
          if (this.stopped || this.synced) return;
          this.store.flush();
          this.synced = true;
          this.log.info({ kind: this.spec.kind, objects: this.store.size(this.spec.kind) }, 'initial list complete');
          this.onSynced();
        });
      }
      return result;
    };
    const watch: InstrumentedWatch = new InstrumentedWatch(this.kc, {
      stopped: (): boolean => !current(),
      backoff: this.backoff,
      onExpired: (how) =>
        this.log.info({ kind: this.spec.kind, how, resourceVersion: inf.latestResourceVersion() }, 'resourceVersion expired (410 Gone); re-listing, the model stays until the list reconciles it'),
      onBookmark: (rv) => this.log.debug({ kind: this.spec.kind, resourceVersion: rv }, 'bookmark'),
    });
    const inf: ListWatch<KubernetesObject> = new ListWatch<KubernetesObject>(this.spec.path, watch, list, false);
    this.watch = watch;
    // A stopped informer can still finish an in-flight list; only the current one may touch the model.
    const current = (): boolean => inf === this.informer && !this.stopped;
    inf.on('add', (o) => current() && this.upsert(o));
    inf.on('update', (o) => current() && this.upsert(o));
    inf.on('delete', (o) => current() && this.remove(o));
    inf.on('error', (err) => current() && this.onError(err));
    this.informer = inf;
    void this.run();
  }

  status(): WatchStatus {
    return {
      resourceVersion: this.informer?.latestResourceVersion() ?? '',
      lists: this.lists,
      watches: this.watch?.watches ?? 0,
      bookmarks: this.watch?.bookmarks ?? 0,
      expired: this.watch?.expired ?? 0,
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.informer?.stop();
  }

  private async run(): Promise<void> {
    const before = this.errors;
    try {
      await this.informer!.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    // start() resolves once the watch is connected (or failed, which onError has seen).
    if (this.errors === before && !this.stopped) {
      if (this.failing) this.log.info({ kind: this.spec.kind }, 'watch re-established');
      this.failing = false;
      this.delayMs = this.backoff.initialMs;
    }
  }

  private onError(err: unknown): void {
    // Aborting the watch on stop() surfaces as an error event; it is not a failure.
    if (this.stopped) return;
    this.errors++;
    if (this.retryTimer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
    this.metrics.restarts.inc({ kind: this.spec.kind });
    const info = { kind: this.spec.kind, err: describeError(err), retryInMs: delay, objectsKept: this.store.size(this.spec.kind) };
    // Log the first failure of a streak loudly; the retries of a server that stays down only at debug.
    if (!this.failing) this.log.warn(info, 'watch failed; keeping the model as it is and retrying');
    else this.log.debug(info, 'watch still failing');
    this.failing = true;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.stopped) void this.run();
    }, delay);
  }

  /**
   * Drops model objects absent from a fresh list. The informer reports deletions only for objects in its own
   * cache; after stop()/start() that cache is new while our model is not, so a re-list must reconcile here.
   * Runs synchronously before the informer applies the list, so removals and re-adds land in one batch.
   */
  private reconcile(items: readonly KubernetesObject[]): void {
    const present = new Set<ObjectKey>();
    for (const item of items) {
      const key = this.keyOf(item);
      if (key !== undefined) present.add(key);
    }
    const gone = [...this.store.keys(this.spec.kind)].filter((k) => !present.has(k));
    for (const key of gone) {
      this.rejected.delete(key);
      this.warned.delete(key);
      this.store.remove(this.spec.kind, key);
    }
  }

  private keyOf(raw: KubernetesObject): ObjectKey | undefined {
    const name = raw?.metadata?.name;
    if (typeof name !== 'string' || name === '') return undefined;
    return objectKey(this.spec.kind, raw.metadata?.namespace, name);
  }

  private upsert(raw: KubernetesObject): void {
    const kind = this.spec.kind;
    const key = this.keyOf(raw) ?? '<unnamed>';
    const r = this.spec.normalize(raw);
    slim(raw);
    if (!r.ok) {
      if (this.rejected.get(key) === r.reason) return;
      this.rejected.set(key, r.reason);
      this.metrics.rejected.inc({ kind, reason: r.code });
      const kept = this.store.has(kind, key);
      this.log.warn(
        { kind, key, reason: r.reason, code: r.code, keptLastGood: kept },
        kept ? 'object rejected; keeping its last good version' : 'object rejected; not in the model',
      );
      return;
    }
    if (this.rejected.delete(key)) this.log.info({ kind, key }, 'previously rejected object accepted');
    if (r.warnings.length > 0) {
      const text = r.warnings.join('; ');
      if (this.warned.get(key) !== text) {
        this.warned.set(key, text);
        this.log.warn({ kind, key, warnings: r.warnings }, 'object accepted with parts ignored');
      }
    } else this.warned.delete(key);
    this.store.upsert(kind, key, r.value);
  }

  private remove(raw: KubernetesObject): void {
    const key = this.keyOf(raw);
    if (key === undefined) return;
    this.rejected.delete(key);
    this.warned.delete(key);
    this.store.remove(this.spec.kind, key);
  }
}

/**
 * Shrinks a raw object to what the informer's own cache needs once we have normalized it. ListWatch keeps
 * every object it has seen, but only ever reads metadata.name, namespace and resourceVersion (to key the
 * cache, skip same-version updates, and report deletions after a re-list); our model holds everything else.
 * This halves the agent's steady-state memory on large clusters. The object is ours: the informer is private.
 */
function slim(raw: KubernetesObject): void {
  try {
    const md = raw.metadata;
    const o = raw as unknown as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'metadata') delete o[k];
    o['metadata'] = { name: md?.name, namespace: md?.namespace, resourceVersion: md?.resourceVersion };
  } catch {
    // A frozen object stays as it is: only memory is at stake.
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown; statusCode?: unknown }).statusCode ?? (err as { code?: unknown }).code;
    return code !== undefined ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}

/** Informer-backed ClusterView: list+watch per kind, normalized into the typed model. */
export function createClusterStore(opts: ClusterStoreOptions): ClusterStore {
  const kinds = [...new Set(opts.kinds ?? ALL_KINDS)];
  const log = opts.log.child({ component: 'cluster-store' });
  const metrics = metricsOn(opts.metrics);
  const store = new ModelStore({
    onListenerError: (err) => log.error({ err: describeError(err) }, 'cluster change listener threw'),
    onFlush: (s) => {
      for (const k of kinds) metrics.objects.set({ kind: k }, s.size(k));
    },
  });
  let resolveSynced!: () => void;
  const synced = new Promise<void>((resolve) => (resolveSynced = resolve));
  const specs = kindSpecs(opts.kubeConfig);
  const backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000 };
  const watchers: KindWatcher[] = kinds.map(
    (k) =>
      new KindWatcher(specs[k], opts.kubeConfig, store, log, metrics, backoff, () => {
        if (watchers.every((w) => w.synced)) resolveSynced();
      }),
  );
  if (kinds.length === 0) resolveSynced();
  const cs: ClusterStore = {
    kinds,
    snapshot: () => store.snapshot(),
    subscribe: (ks, listener) => store.subscribe(ks, listener),
    whenSynced: () => synced,
    watchStatus: () => Object.fromEntries(watchers.map((w, i) => [kinds[i], w.status()])),
    start: () => watchers.forEach((w) => w.start()),
    stop: async () => {
      await Promise.all(watchers.map((w) => w.stop()));
    },
  };
  if (opts.autoStart !== false) cs.start();
  return cs;
}
