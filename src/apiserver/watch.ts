// Watch streams: chunked JSON lines {type, object}. Resume from a resourceVersion replays the retained
// history; one older than the history gets an ERROR event with a 410 Expired Status and the stream ends
// (what client-go and client-node expect: they relist). No resourceVersion (or "0") starts with
// synthetic ADDED events for the current objects.
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
  timeoutSeconds?: number;
  table?: IncludeObject;
}

/** A slow reader that falls this far behind is cut off; it will re-watch from its last resourceVersion. */
const MAX_BUFFERED = 64 * 1024 * 1024;

export function serveWatch(
  store: Store,
  req: IncomingMessage,
  res: ServerResponse,
  w: WatchRequest,
  active: Set<() => void>,
): void {
  const rs = store.of(w.def);
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

  const watcher: Watcher = { ns: w.ns, match: w.match, deliver: (type, e) => push(line(type, e)) };
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;

  function finish(): void {
    if (closed) return;
    flush();
    closed = true;
    rs.watchers.delete(watcher);
    active.delete(finish);
    clearInterval(bookmarkTimer);
    clearTimeout(timeoutTimer);
    res.end();
  }
  active.add(finish);
  res.on('close', finish);

  if (w.since === undefined) {
    for (const e of rs.items.values()) if (matches(watcher, e.obj)) push(line('ADDED', e));
  } else {
    const events = store.expired(w.def, w.since) ? undefined : rs.eventsSince(w.since);
    if (!events) {
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${w.since} (${rs.oldestRV})`,
        reason: 'Expired',
        code: 410,
      };
      push(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
      finish();
      return;
    }
    for (const ev of events) dispatch(watcher, ev);
  }
  rs.watchers.add(watcher);

  if (w.bookmarks && !w.table) {
    bookmarkTimer = setInterval(() => {
      const obj = { kind: w.def.kind, apiVersion: apiVersionOf(w.def), metadata: { resourceVersion: String(store.rv) } };
      push(`{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`);
    }, w.bookmarkIntervalMs);
  }
  if (w.timeoutSeconds !== undefined && w.timeoutSeconds > 0) {
    timeoutTimer = setTimeout(finish, w.timeoutSeconds * 1000);
  }
}
