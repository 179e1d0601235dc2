// Watch streams: chunked JSON lines {type, object}. Resume from a resourceVersion replays the retained
// history; one older than the history (or compacted away) gets 410 Expired, either as an ERROR event in a
// 200 stream that then ends (what kube-apiserver's watch cache does) or as an HTTP 410 Status response
// (`expiredWatch: 'http'`); client-go and client-node relist on both. No resourceVersion (or "0") starts
// with synthetic ADDED events for the current objects. Every open watch is registered in a WatchControl so
// the server (and its tests) can close them, expire them (ERROR 410 mid-stream) or hold new ones back.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDef } from './resources.js';
import { apiVersionOf } from './resources.js';
import type { Matcher } from './selectors.js';
import { type Entry, type EventType, type Store, type Watcher, dispatch, entryJSON, matches } from './store.js';
import { TABLE_CONTENT_TYPE, tableJSON, type IncludeObject } from './table.js';

export interface WatchRequest {
  def: ResourceDef;
  ns?: string;
  match?: Matcher;
  /** Parsed resourceVersion; undefined for "" / "0" / absent. */
  since?: number;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  /** The client's timeoutSeconds; without it the server's own limit (WatchControl.minRequestTimeoutMs) applies. */
  timeoutSeconds?: number;
  table?: IncludeObject;
}

/** One open watch stream, as the WatchControl sees it. */
export interface OpenWatch {
  readonly def: ResourceDef;
  /** Ends the stream cleanly (a bookmark first when the client allowed them), as a server-side timeout does. */
  close(): void;
  /** Sends an ERROR event with a 410 Expired Status, then ends the stream. */
  expire(): void;
}

/** The server's hold on its watch streams: registry of open ones, closing/expiring them, holding new ones. */
export class WatchControl {
  readonly open = new Set<OpenWatch>();
  private held: (() => void)[] | undefined;

  constructor(
    /** How a watch from an expired resourceVersion is refused. */
    readonly expiredAs: 'event' | 'http' = 'event',
    /**
     * A watch without timeoutSeconds ends after a random time in [this, 2 * this], as kube-apiserver's
     * --min-request-timeout does (1800 s there); 0 means never.
     */
    readonly minRequestTimeoutMs = 1_800_000,
  ) {}

  /** Ends matching open watches (resource: plural name, e.g. "pods"; all when absent); returns how many. */
  close(resource?: string): number {
    return this.each(resource, (w) => w.close());
  }

  /** ERROR 410 into matching open watches, then ends them; returns how many. */
  expire(resource?: string): number {
    return this.each(resource, (w) => w.expire());
  }

  private each(resource: string | undefined, fn: (w: OpenWatch) => void): number {
    const ws = [...this.open].filter((w) => resource === undefined || w.def.resource === resource);
    ws.forEach(fn);
    return ws.length;
  }

  /** New watch requests wait (unanswered) until release(): the test hook for a client that misses events. */
  hold(): void {
    this.held ??= [];
  }

  release(): number {
    const held = this.held ?? [];
    this.held = undefined;
    for (const start of held) start();
    return held.length;
  }

  /** Runs `start` now, or on release() while held. */
  admit(start: () => void): void {
    if (this.held) this.held.push(start);
    else start();
  }

  timeoutMs(timeoutSeconds: number | undefined): number | undefined {
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) return timeoutSeconds * 1000;
    if (this.minRequestTimeoutMs <= 0) return undefined;
    return Math.round(this.minRequestTimeoutMs * (1 + Math.random()));
  }
}

/** A slow reader that falls this far behind is cut off; it will re-watch from its last resourceVersion. */
const MAX_BUFFERED = 64 * 1024 * 1024;

function expiredStatus(since: number, oldest: number): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version: ${since} (${oldest})`,
    reason: 'Expired',
    code: 410,
  };
}

export function serveWatch(store: Store, req: IncomingMessage, res: ServerResponse, w: WatchRequest, control: WatchControl): void {
  const rs = store.of(w.def);
  const expired = w.since !== undefined && store.expired(w.def, w.since);
  if (expired && control.expiredAs === 'http') {
    const body = JSON.stringify(expiredStatus(w.since!, rs.oldestRV));
    res.writeHead(410, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache, private' });
    res.end(body);
    return;
  }
  res.writeHead(200, {
    'Content-Type': w.table ? TABLE_CONTENT_TYPE : 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  req.socket.setNoDelay(true);

  let pending: string[] = [];
  let scheduled = false;
  let closed = false;
  const flush = () => {
    scheduled = false;
    if (closed || pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    res.write(chunk);
    if (res.writableLength > MAX_BUFFERED) finish();
  };
  const push = (line: string) => {
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const line = (type: EventType, e: Entry) =>
    w.table
      ? `{"type":"${type}","object":${tableJSON(w.def, [e], { resourceVersion: e.obj.metadata.resourceVersion }, w.table)}}\n`
      : `{"type":"${type}","object":${entryJSON(e)}}\n`;
  const bookmarks = w.bookmarks && !w.table;
  const bookmark = () => {
    const obj = { kind: w.def.kind, apiVersion: apiVersionOf(w.def), metadata: { resourceVersion: String(store.rv) } };
    push(`{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`);
  };
  const error410 = (since: number) => push(`{"type":"ERROR","object":${JSON.stringify(expiredStatus(since, rs.oldestRV))}}\n`);

  const watcher: Watcher = { ns: w.ns, match: w.match, deliver: (type, e) => push(line(type, e)) };
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  const handle: OpenWatch = {
    def: w.def,
    // kube-apiserver sends a last bookmark before a watch times out, so the client resumes from there.
    close: () => {
      if (!closed && bookmarks) bookmark();
      finish();
    },
    expire: () => {
      if (!closed) error410(store.rv);
      finish();
    },
  };

  function finish(): void {
    if (closed) return;
    flush();
    closed = true;
    rs.watchers.delete(watcher);
    control.open.delete(handle);
    clearInterval(bookmarkTimer);
    clearTimeout(timeoutTimer);
    res.end();
  }
  control.open.add(handle);
  res.on('close', finish);

  if (w.since === undefined) {
    for (const e of rs.items.values()) if (matches(watcher, e.obj)) push(line('ADDED', e));
  } else {
    const events = expired ? undefined : rs.eventsSince(w.since);
    if (!events) {
      error410(w.since);
      finish();
      return;
    }
    for (const ev of events) dispatch(watcher, ev);
  }
  rs.watchers.add(watcher);

  if (bookmarks) bookmarkTimer = setInterval(bookmark, w.bookmarkIntervalMs);
  const timeout = control.timeoutMs(w.timeoutSeconds);
  if (timeout !== undefined) timeoutTimer = setTimeout(handle.close, timeout);
}
