// Message framing: the 19-byte header (marker, length, type) and a stream framer that cuts a TCP byte
// stream into messages, checking header fields before any body is looked at (RFC 4271 section 6.1).
import { BgpError } from './errors.js';
import {
  ERR_HEADER, HDR_BAD_LENGTH, HDR_BAD_TYPE, HDR_NOT_SYNCHRONIZED, HEADER_LEN, MAX_MESSAGE_LEN,
  MSG_KEEPALIVE, MSG_NOTIFICATION, MSG_OPEN, MSG_ROUTE_REFRESH, MSG_UPDATE,
} from './constants.js';

export function writeHeader(buf: Buffer, off: number, length: number, type: number): void {
  buf.fill(0xff, off, off + 16);
  buf.writeUInt16BE(length, off + 16);
  buf[off + 18] = type;
}

/** A whole message: header plus `body`. */
export function encodeMessage(type: number, body: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_LEN + body.length);
  writeHeader(buf, 0, buf.length, type);
  body.copy(buf, HEADER_LEN);
  return buf;
}

const MIN_LEN: Record<number, number> = {
  [MSG_OPEN]: 29, [MSG_UPDATE]: 23, [MSG_NOTIFICATION]: 21, [MSG_KEEPALIVE]: 19, [MSG_ROUTE_REFRESH]: 23,
};

function lengthError(len: number): BgpError {
  const data = Buffer.alloc(2);
  data.writeUInt16BE(len & 0xffff);
  return new BgpError(ERR_HEADER, HDR_BAD_LENGTH, `bad message length ${len}`, 'session-reset', data);
}

/** Validates the header at `off` (at least 19 bytes available). Returns the error, or undefined. */
export function checkHeader(buf: Buffer, off: number): BgpError | undefined {
  for (let i = 0; i < 16; i++) {
    if (buf[off + i] !== 0xff) return new BgpError(ERR_HEADER, HDR_NOT_SYNCHRONIZED, 'marker is not all ones');
  }
  const len = buf.readUInt16BE(off + 16);
  const type = buf[off + 18]!;
  const min = MIN_LEN[type];
  if (min === undefined) {
    return new BgpError(ERR_HEADER, HDR_BAD_TYPE, `unknown message type ${type}`, 'session-reset', Buffer.from([type]));
  }
  if (len < HEADER_LEN || len > MAX_MESSAGE_LEN || len < min) return lengthError(len);
  if (type === MSG_KEEPALIVE && len !== HEADER_LEN) return lengthError(len);
  if (type === MSG_ROUTE_REFRESH && len !== 23) return lengthError(len);
  return undefined;
}

export interface Frame {
  readonly type: number;
  /** The body (after the header); a view into the receive buffer, valid until the next push(). */
  readonly body: Buffer;
}

/**
 * Cuts a byte stream into messages. Bytes are kept in one growing buffer so a message split across TCP
 * segments costs one copy; complete messages are returned as views, with no copy.
 */
export class Framer {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  /** Appends a chunk and returns the complete frames, or a header error (after which the framer is dead). */
  push(chunk: Buffer): { frames: Frame[]; error?: BgpError } {
    const frames: Frame[] = [];
    if (this.failed) return { frames };
    const data = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (data.length - off >= HEADER_LEN) {
      const err = checkHeader(data, off);
      if (err) {
        this.failed = true;
        this.buf = Buffer.alloc(0);
        return { frames, error: err };
      }
      const len = data.readUInt16BE(off + 16);
      if (data.length - off < len) break;
      frames.push({ type: data[off + 18]!, body: data.subarray(off + HEADER_LEN, off + len) });
      off += len;
    }
    // Keep only the tail; copy it so the (possibly large) chunk it came from can be freed.
    this.buf = off === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(off));
    return { frames };
  }
}
