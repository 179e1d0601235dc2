// One TCP connection: framing, decoding and writing. Decode problems and socket errors are reported to the
// handler as data; nothing here throws into the event loop.
import type { Socket } from 'node:net';
import { BgpError } from './wire/errors.js';
import { Framer } from './wire/header.js';
import { decodeBody, type Message } from './wire/message.js';
import type { UpdateContext } from './wire/update.js';
import { ERR_UPDATE } from './wire/constants.js';

export interface ConnHandler {
  message(c: Connection, m: Message): void;
  decodeError(c: Connection, e: BgpError): void;
  closed(c: Connection, reason: string): void;
}

export class Connection {
  private readonly framer = new Framer();
  private done = false;
  bytesIn = 0;

  constructor(
    readonly socket: Socket,
    /** Who opened it: needed for collision resolution. */
    readonly initiator: 'local' | 'remote',
    public handler: ConnHandler,
    public ctx: UpdateContext,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.finish(`socket error: ${e.message}`));
    socket.on('close', () => this.finish('connection closed by peer'));
    socket.on('end', () => this.finish('connection closed by peer'));
  }

  get closed(): boolean { return this.done; }
  get localAddress(): string { return this.socket.localAddress ?? ''; }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.bytesIn += chunk.length;
    const { frames, error } = this.framer.push(chunk);
    for (const f of frames) {
      if (this.done) return;
      let r;
      try {
        r = decodeBody(f.type, f.body, this.ctx);
      } catch (e) {
        r = { ok: false as const, error: new BgpError(ERR_UPDATE, 0, `decoder failure: ${String(e)}`) };
      }
      try {
        if (r.ok) this.handler.message(this, r.value);
        else this.handler.decodeError(this, r.error);
      } catch (e) {
        // A bug above us must not kill the process; reset this session instead.
        if (!this.done) this.handler.decodeError(this, new BgpError(6, 8, `internal error: ${(e as Error).stack ?? e}`));
      }
    }
    if (error && !this.done) this.handler.decodeError(this, error);
  }

  write(buf: Buffer): void {
    if (!this.done && !this.socket.destroyed) this.socket.write(buf);
  }

  writeAll(bufs: readonly Buffer[]): void {
    if (this.done || this.socket.destroyed || bufs.length === 0) return;
    this.socket.cork();
    for (const b of bufs) this.socket.write(b);
    this.socket.uncork();
  }

  /** Stops reading and closes after pending writes (a NOTIFICATION still gets out). */
  close(): void {
    if (this.done) return;
    this.done = true;
    const s = this.socket;
    s.removeAllListeners('data');
    s.on('error', () => {});
    s.end();
    setTimeout(() => s.destroy(), 1000).unref();
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.handler.closed(this, reason);
  }
}
