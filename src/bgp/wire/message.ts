// The one entry point from a framed message to a typed one. Never throws: a decode failure comes back as
// the BgpError to send in a NOTIFICATION.
import { BgpError } from './errors.js';
import { ERR_HEADER, HDR_BAD_TYPE, MSG_KEEPALIVE, MSG_NOTIFICATION, MSG_OPEN, MSG_ROUTE_REFRESH, MSG_UPDATE } from './constants.js';
import { decodeOpen, type OpenMessage } from './open.js';
import { decodeNotification, decodeRouteRefresh, type NotificationMessage, type RouteRefreshMessage } from './notification.js';
import { decodeUpdate, type DecodeResult, type UpdateContext, type UpdateMessage } from './update.js';

export type Message =
  | { readonly type: 'open'; readonly open: OpenMessage }
  | { readonly type: 'update'; readonly update: UpdateMessage }
  | { readonly type: 'notification'; readonly notification: NotificationMessage }
  | { readonly type: 'keepalive' }
  | { readonly type: 'route-refresh'; readonly refresh: RouteRefreshMessage };

export function decodeBody(type: number, body: Buffer, ctx: UpdateContext): DecodeResult<Message> {
  try {
    switch (type) {
      case MSG_OPEN: return { ok: true, value: { type: 'open', open: decodeOpen(body) } };
      case MSG_UPDATE: {
        const r = decodeUpdate(body, ctx);
        return r.ok ? { ok: true, value: { type: 'update', update: r.value } } : r;
      }
      case MSG_NOTIFICATION: return { ok: true, value: { type: 'notification', notification: decodeNotification(body) } };
      case MSG_KEEPALIVE: return { ok: true, value: { type: 'keepalive' } };
      case MSG_ROUTE_REFRESH: return { ok: true, value: { type: 'route-refresh', refresh: decodeRouteRefresh(body) } };
      default: return { ok: false, error: new BgpError(ERR_HEADER, HDR_BAD_TYPE, `type ${type}`, 'session-reset', Buffer.from([type])) };
    }
  } catch (e) {
    if (e instanceof BgpError) return { ok: false, error: e };
    return { ok: false, error: new BgpError(type === MSG_OPEN ? 2 : 3, 0, `decoder failure: ${String(e)}`) };
  }
}
