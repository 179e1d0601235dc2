// The IPVS table over one resident generic-netlink socket: batches of operations (one addon call per chunk,
// errors per operation) and a dump of every service with its destinations. Messages are built in
// netlink-codec.ts; the addon (native/) only sends and receives. One socket per process, in the process's
// own network namespace.
import { constants } from 'node:os';
import { KrtError } from '../../observe/errors.js';
import { loadGenlAddon, type GenlSocketAddon } from './native/addon.js';
import { decodeDest, decodeService, decodeServiceStats, encodeDumpDests, encodeDumpServices, encodeGetFamily, encodeOps, familyIdOf, isEnd, parseReplies, serviceFamily, type Reply } from './netlink-codec.js';
import type { IpvsOp, IpvsOpFailure, IpvsServiceEntry, IpvsServiceStats } from './types.js';

/** Requests per send: their acks must fit the socket's receive buffer. */
const CHUNK = 512;
const ERRNO_NAME = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** What an errno means for an IPVS command, in ipvsadm's words where it has them. */
function describe(op: IpvsOp, errno: number): string {
  const name = ERRNO_NAME.get(errno) ?? `errno ${errno}`;
  const why =
    errno === 3 ? 'no such service'
    : errno === 17 ? (op.op === 'add-service' ? 'service already exists' : 'destination already exists')
    : errno === 2 ? (op.op.endsWith('service') ? 'scheduler not found' : 'no such destination')
    : errno === 22 ? 'invalid argument'
    : errno === 97 || errno === 93 ? 'address family or protocol not supported by this kernel'
    : '';
  return why ? `${name} (${why})` : name;
}

export class IpvsNetlink {
  private seq = 1;
  private familyId = 0;

  private constructor(private readonly addon: GenlSocketAddon) {}

  /**
   * Opens the socket and resolves the IPVS family; an Error says why it cannot (no addon, no ip_vs).
   * `addon`: the socket half (tests pass a fake kernel).
   */
  static open(addon: GenlSocketAddon | Error = loadGenlAddon()): IpvsNetlink | Error {
    if (addon instanceof Error) return addon;
    const nl = new IpvsNetlink(addon);
    try {
      nl.connect();
    } catch (e) {
      return new Error(`IPVS over netlink unavailable: ${(e as Error).message}`);
    }
    return nl;
  }

  private connect(): void {
    this.addon.open();
    const seq = this.seq++;
    const replies = parseReplies(this.addon.exchange(encodeGetFamily(seq)));
    const end = replies.find((r) => isEnd(r) && r.seq === seq);
    if (end?.error) throw new Error(`resolving generic netlink family IPVS: ${ERRNO_NAME.get(-end.error) ?? -end.error} (is the ip_vs module loaded?)`);
    const id = familyIdOf(replies);
    if (id === undefined) throw new Error('resolving generic netlink family IPVS: no family id in the reply');
    this.familyId = id;
  }

  /** exchange(), reopening the socket once if an earlier failure closed it. */
  private exchange(buf: Buffer): Buffer {
    try {
      try {
        return this.addon.exchange(buf);
      } catch (e) {
        if (!/Bad file descriptor/.test((e as Error).message)) throw e;
        this.connect();
        return this.addon.exchange(buf);
      }
    } catch (e) {
      throw e instanceof KrtError ? e : new KrtError('KRT_IPVS_NETLINK', `IPVS netlink socket: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Runs every operation, in order; a failed one does not stop the rest (a destination of a service that
   * failed to be added fails too, by itself). Yields to the event loop between chunks. Returns the failures.
   * Throws only when the socket itself fails (then which operations ran is unknown).
   */
  async apply(ops: readonly IpvsOp[]): Promise<IpvsOpFailure[]> {
    const failures: IpvsOpFailure[] = [];
    for (let from = 0; from < ops.length; from += CHUNK) {
      const chunk = ops.slice(from, from + CHUNK);
      // Sequence numbers stay below 2^31 and consecutive within a chunk.
      if (this.seq > 0x7fff0000) this.seq = 1;
      const { buf, seqs, invalid } = encodeOps(this.familyId, this.seq, chunk);
      for (const [i, message] of invalid) failures.push({ index: from + i, op: chunk[i]!, message });
      const sent = seqs.filter((s) => s !== undefined).length;
      this.seq += sent;
      if (sent > 0) {
        const errs = new Map<number, number>();
        for (const r of parseReplies(this.exchange(buf))) if (isEnd(r) && r.error) errs.set(r.seq, -r.error);
        seqs.forEach((s, i) => {
          const errno = s !== undefined ? errs.get(s) : undefined;
          if (errno !== undefined) failures.push({ index: from + i, op: chunk[i]!, message: describe(chunk[i]!, errno) });
        });
      }
      if (from + CHUNK < ops.length) await new Promise((r) => setImmediate(r));
    }
    return failures.sort((a, b) => a.index - b.index);
  }

  /** Every service with its destinations (one dump for the services, one per service for its destinations). */
  async dump(): Promise<IpvsServiceEntry[]> {
    const out: IpvsServiceEntry[] = [];
    let n = 0;
    for (const r of this.dumpServices()) {
      const s = r.attrs ? decodeService(r) : undefined;
      if (!s) continue;
      const dseq = this.seq++;
      const dr = parseReplies(this.exchange(encodeDumpDests(this.familyId, dseq, s)));
      const dend = dr.find(isEnd);
      // The service may have gone between the two dumps (another writer): then it is simply not there.
      if (dend?.error === -3) continue;
      if (dend?.error) throw new KrtError('KRT_IPVS_NETLINK', `IPVS destination dump: ${ERRNO_NAME.get(-dend.error) ?? -dend.error}`);
      const fam = serviceFamily(s);
      out.push({ ...s, dests: dr.flatMap((x) => (x.attrs ? [decodeDest(x, fam)].filter((d) => d !== undefined) : [])) });
      if (++n % 256 === 0) await new Promise((res) => setImmediate(res));
    }
    return out;
  }

  /** Every service's counters and rates: one service dump (the kernel sends them with each service). */
  async stats(): Promise<IpvsServiceStats[]> {
    const out: IpvsServiceStats[] = [];
    for (const r of this.dumpServices()) {
      const s = r.attrs ? decodeService(r) : undefined;
      const stats = s && decodeServiceStats(r);
      if (!s || !stats) continue;
      // The identity only, as the ipvsadm listing gives it.
      out.push({ service: s.fwmark !== undefined ? { fwmark: s.fwmark, family: s.family } : { protocol: s.protocol, address: s.address, port: s.port }, stats });
    }
    return out;
  }

  /** The replies of one service dump (services with their counters); a kernel error throws. */
  private dumpServices(): Reply[] {
    const replies = parseReplies(this.exchange(encodeDumpServices(this.familyId, this.seq++)));
    const end = replies.find(isEnd);
    if (end?.error) throw new KrtError('KRT_IPVS_NETLINK', `IPVS service dump: ${ERRNO_NAME.get(-end.error) ?? -end.error}`);
    return replies;
  }

  close(): void {
    this.addon.close();
  }
}
