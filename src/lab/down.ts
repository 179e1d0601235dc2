// `lab down`: asks the supervisor to stop, then removes every namespace, process and file the journal
// says the lab made, and nothing else. Idempotent, and works when the supervisor died or `up` crashed.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { paths, type LabLocation } from './config.js';
import { control } from './control.js';
import { alive, ipBatch, killTree, netnsList, netnsPids, sleep } from './sh.js';
import { readJournal, readState } from './state.js';

export interface DownReport {
  readonly namespaces: number;
  readonly processes: number;
  readonly removedStateDir: boolean;
  readonly ms: number;
}

export async function downLab(loc: LabLocation, log: (m: string) => void = () => undefined): Promise<DownReport> {
  const t0 = Date.now();
  const P = paths(loc.stateDir);
  const state = readState(loc.stateDir);
  const entries = readJournal(loc.stateDir);
  if (existsSync(P.control)) {
    try {
      await control(P.control, 'POST', '/stop', undefined, 30_000);
    } catch {
      /* supervisor gone: clean up after it */
    }
  }
  let killed = 0;
  const sup = state?.supervisor;
  // A UML lab's supervisor pid belongs to the UML kernel: the host stops that kernel instead (journal).
  if (sup && sup.pid !== process.pid && state?.kernel !== 'uml') {
    // The detached supervisor exits by itself after /stop; give it a moment, then make sure.
    for (let i = 0; i < 100 && alive(sup.pid, sup.start); i++) await sleep(50);
    if (alive(sup.pid, sup.start)) {
      await killTree(sup.pid, sup.start);
      killed++;
    }
  }
  for (const e of entries) {
    if (e.t === 'pid' && !e.inUml && alive(e.pid, e.start)) {
      await killTree(e.pid, e.start, 1000);
      killed++;
    }
  }
  const recorded = new Set(entries.filter((e) => e.t === 'netns' && !e.inUml).map((e) => (e as { name: string }).name));
  const present = new Set(await netnsList());
  const doomed = [...recorded].filter((n) => present.has(n));
  // Whatever still runs inside a lab namespace was started by the lab (pods, agents, forwarders).
  const pids = (await Promise.all(doomed.map((n) => netnsPids(n)))).flat();
  await Promise.all(pids.map((pid) => killTree(pid, undefined, 1000)));
  killed += pids.length;
  // Pods first, nodes and hub last; one `ip -batch` keeps this fast for 150 pods.
  const order = [...doomed.filter((n) => n.startsWith(`${loc.prefix}p-`)), ...doomed.filter((n) => !n.startsWith(`${loc.prefix}p-`))];
  try {
    await ipBatch(order.map((n) => `netns delete ${n}`));
  } catch (e) {
    // One failure aborts a batch; fall back to one at a time so everything possible is removed.
    log(`batch delete failed (${String(e)}); deleting one by one`);
    for (const n of order) await ipBatch([`netns delete ${n}`]).catch((err) => log(String(err)));
  }
  let removedStateDir = false;
  const created = entries.find((e) => e.t === 'created') as { stateDir: boolean } | undefined;
  if (existsSync(loc.stateDir)) {
    if (created?.stateDir !== false) {
      rmSync(loc.stateDir, { recursive: true, force: true });
      removedStateDir = true;
    } else {
      // The directory existed before the lab: remove only what the lab puts there.
      for (const f of readdirSync(loc.stateDir)) {
        if (['state.json', 'state.json.tmp', 'journal', 'kubeconfig', 'control.sock', 'api.sock', 'supervisor.log', 'spec.json', 'pod-agent.mjs', 'nodes', 'pods', 'bin', 'uml', 'failed'].includes(f)) {
          rmSync(join(loc.stateDir, f), { recursive: true, force: true });
        }
      }
    }
  }
  return { namespaces: doomed.length, processes: killed, removedStateDir, ms: Date.now() - t0 };
}
