// Where the applier's IPVS operations go and where every IPVS read comes from (the applier's full syncs,
// the UDP drain check, the service metrics): a resident generic-netlink socket (src/dataplane/ipvs/netlink.ts)
// when the addon loads and the commands run in this process's own network namespace, else `ipvsadm -R` /
// `-S -n` / `-L -n --exact --stats|--rate` through the applier's Exec (the fallback, and what tests pointing
// the Exec into another namespace get). Same operations, same result; netlink saves a
// process spawn per batch and several round trips per operation.
import { runsHere, type Exec } from '../../../dataplane/exec.js';
import { ipvsadmLine, parseIpvsadmSave, parseIpvsadmStats } from '../../../dataplane/ipvs/ipvsadm.js';
import { IpvsNetlink } from '../../../dataplane/ipvs/netlink.js';
import type { IpvsOp, IpvsServiceEntry, IpvsServiceStats } from '../../../dataplane/ipvs/types.js';
import { KrtError } from '../../../observe/errors.js';

export type IpvsWriterName = 'netlink' | 'ipvsadm';

export interface IpvsWriter {
  readonly name: IpvsWriterName;
  /** Every IPVS service with its destinations. */
  read(): Promise<IpvsServiceEntry[]>;
  /** Every IPVS service's counters and rates (the service metrics). */
  stats(): Promise<IpvsServiceStats[]>;
  /** Applies the operations in order; throws when any failed (which ones: in the message). */
  write(ops: readonly IpvsOp[]): Promise<void>;
}

export function ipvsadmWriter(exec: Exec): IpvsWriter {
  return {
    name: 'ipvsadm',
    read: async () => parseIpvsadmSave((await exec('ipvsadm', ['-S', '-n'])).stdout),
    stats: async () => {
      const [s, r] = await Promise.all([exec('ipvsadm', ['-L', '-n', '--exact', '--stats']), exec('ipvsadm', ['-L', '-n', '--exact', '--rate'])]);
      return parseIpvsadmStats(s.stdout, r.stdout);
    },
    write: async (ops) => {
      if (ops.length) await exec('ipvsadm', ['-R'], { input: ops.map(ipvsadmLine).join('\n') + '\n' });
    },
  };
}

export function netlinkWriter(nl: IpvsNetlink): IpvsWriter {
  return {
    name: 'netlink',
    read: () => nl.dump(),
    stats: () => nl.stats(),
    write: async (ops) => {
      const failed = await nl.apply(ops);
      if (failed.length === 0) return;
      const shown = failed.slice(0, 5).map((f) => `${ipvsadmLine(f.op)}: ${f.message}`);
      throw new KrtError('KRT_IPVS_NETLINK', `IPVS over netlink: ${failed.length} of ${ops.length} operations failed: ${shown.join('; ')}${failed.length > 5 ? '; ...' : ''}`);
    },
  };
}

export interface WriterChoice {
  readonly writer: IpvsWriter;
  /** Why ipvsadm is used (undefined: netlink). */
  readonly fallbackReason?: string;
}

let shared: IpvsNetlink | Error | undefined;

/**
 * netlink when it can be had, else ipvsadm with the reason. KRT_IPVS_WRITER=ipvsadm forces the fallback
 * (tests, or a kernel whose netlink interface misbehaves). One socket per process, opened on first use.
 */
export function chooseIpvsWriter(exec: Exec, env: NodeJS.ProcessEnv = process.env): WriterChoice {
  if (env['KRT_IPVS_WRITER'] === 'ipvsadm') return { writer: ipvsadmWriter(exec), fallbackReason: 'KRT_IPVS_WRITER=ipvsadm' };
  if (!runsHere(exec)) return { writer: ipvsadmWriter(exec), fallbackReason: 'commands run outside this process (a test or lab Exec)' };
  shared ??= IpvsNetlink.open();
  if (shared instanceof Error) return { writer: ipvsadmWriter(exec), fallbackReason: shared.message };
  return { writer: netlinkWriter(shared) };
}
