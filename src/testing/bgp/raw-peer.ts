// A scripted peer over a plain TCP socket: sends exact bytes, collects decoded replies. Used to feed our
// speaker well-formed and malformed messages no real daemon would send.
import net from 'node:net';
import { Framer } from '../../bgp/wire/header.js';
import { decodeBody, type Message } from '../../bgp/wire/message.js';

export class RawPeer {
  readonly received: Message[] = [];
  closed = false;
  private framer = new Framer();
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      for (const f of this.framer.push(d).frames) {
        const r = decodeBody(f.type, f.body, { as4: true, ebgp: false, peerAsn: 0, families: new Set(['ipv4-unicast', 'ipv6-unicast']) });
        if (r.ok) this.received.push(r.value);
      }
    });
    sock.on('close', () => { this.closed = true; });
    sock.on('error', () => {});
  }

  static connect(host: string, port: number, localAddress: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  send(b: Buffer): void { this.sock.write(b); }

  notifications(): string[] {
    return this.received.flatMap((m) => (m.type === 'notification' ? [`${m.notification.code}/${m.notification.subcode}`] : []));
  }

  close(): void { this.sock.destroy(); }
}
