// An agent restarted under traffic (the --full tier of test/lab-proxy.uml.test.ts): the proxy's state is
// the kernel's (IPVS, kube-dummy-if, its chains), so a stopped agent leaves it serving and a new one adopts
// it without a rewrite. Established connections must survive and new ones must keep being served.
import type { Lab } from '../../src/lab/index.js';
import { labSh } from '../lab-helpers.js';

/**
 * Stops the agent of `node` (SIGTERM, as a rollout does) and starts it again with the same command line
 * and environment (`envChanges` set on top, null removes), detached, inside the node's namespace. Returns
 * when the new process runs.
 */
export async function restartAgent(lab: Lab, node: string, envChanges: Record<string, string | null> = {}): Promise<{ oldPid: number; newPid: number }> {
  const js = `
const fs = require('fs'), cp = require('child_process');
const pid = Number(cp.execFileSync('pgrep', ['-f', '--', '--hostname-override=${node}( |$)']).toString().trim().split('\\n')[0]);
const cmd = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').filter(Boolean);
const env = Object.fromEntries(fs.readFileSync('/proc/' + pid + '/environ', 'utf8').split('\\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
for (const [k, v] of Object.entries(${JSON.stringify(envChanges)})) { if (v === null) delete env[k]; else env[k] = v; }
const cwd = fs.readlinkSync('/proc/' + pid + '/cwd');
const log = fs.readlinkSync('/proc/' + pid + '/fd/1');
process.kill(pid, 'SIGTERM');
const gone = () => { try { process.kill(pid, 0); return false; } catch { return true; } };
const t0 = Date.now();
(function wait() {
  if (!gone() && Date.now() - t0 < 30000) return setTimeout(wait, 50);
  const out = fs.openSync(log, 'a');
  const c = cp.spawn(cmd[0], cmd.slice(1), { env, cwd, detached: true, stdio: ['ignore', out, out] });
  c.unref();
  console.log(pid + ' ' + c.pid);
})();`;
  const out = (await labSh(lab, node, `node -e '${js.replace(/'/g, `'\\''`)}'`)).trim().split(/\s+/);
  return { oldPid: Number(out[0]), newPid: Number(out[1]) };
}
