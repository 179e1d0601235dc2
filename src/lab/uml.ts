// The lab inside a user-mode Linux kernel, for hosts whose kernel lacks IPVS, dummy links or ipip.
// linux.uml runs as a process in a host namespace of its own (`<prefix>uml`) with a tap device as its
// eth0, the host's / as its read-only root (hostfs) and the lab's state dir mounted read-write at the
// same path, so state.json, logs and the kubeconfig are where they would be on the host. Inside, the
// ordinary supervisor builds the lab. The host reaches it through socat: the control API on the usual
// control.sock, the API server on 127.0.0.1:<port> for kubectl. Everything the host side makes is
// journaled, so `down` removes it like any other lab.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { paths, type LabSpec } from './config.js';
import { ipBatch, must, procStartTime } from './sh.js';
import { journal } from './state.js';

const UML_HOST_IP = '100.64.250.1';
const UML_IP = '100.64.250.2';
const CONTROL_PORT = 7070;
const API_PORT = 6443;
const MODULES = [
  // First: without it, every legacy iptables socket option makes the kernel try request_module("bpfilter")
  // (a usermode modprobe that fails), ~0.3 s each inside UML: an `iptables-save` of two tables cost ~1.8 s,
  // 50 ms with it loaded. Its helper answers "not mine" and the kernel falls back to x_tables as before.
  'bpfilter',
  'veth', 'bridge', 'br_netfilter', 'tun', 'dummy', 'ipip', 'fou',
  'nf_conntrack', 'nf_nat', 'nf_reject_ipv4', 'nfnetlink_log',
  'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_sh', 'ip_vs_dh', 'ip_vs_mh', 'ip_vs_sed', 'ip_vs_nq',
  'ip_set', 'ip_set_hash_ip', 'ip_set_hash_net', 'ip_set_hash_ipport', 'ip_set_hash_ipportip', 'ip_set_hash_ipportnet',
  'ip_set_hash_netport', 'ip_set_list_set', 'ip_set_bitmap_port', 'xt_set',
  'ip_tables', 'iptable_filter', 'iptable_nat', 'iptable_mangle', 'iptable_raw', 'ipt_REJECT',
  'xt_MASQUERADE', 'xt_nat', 'xt_comment', 'xt_mark', 'xt_physdev', 'xt_ipvs', 'xt_conntrack', 'xt_addrtype',
  'xt_multiport', 'xt_NFLOG', 'xt_limit', 'xt_statistic', 'xt_tcpudp', 'xt_TCPMSS',
];

export function umlAvailable(): boolean {
  return existsSync('/usr/bin/linux.uml') && existsSync('/usr/lib/uml/modules');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** Directories the kernel's init covers with a tmpfs (the host's / is read-only inside). */
const TMPFS_DIRS = ['/run', '/tmp'];

/**
 * Host paths under a tmpfs dir that the supervisor still needs inside (the checkout when it lives in
 * /tmp, the state dir in /run): each is mounted again from the host. Minimal: a path under another is
 * dropped.
 */
export function hostPathsToRemount(paths: readonly string[]): string[] {
  const under = (p: string, d: string) => p === d || p.startsWith(d.endsWith('/') ? d : `${d}/`);
  const hidden = [...new Set(paths.filter((p) => p.startsWith('/') && TMPFS_DIRS.some((d) => under(p, d) && p !== d)))].sort();
  return hidden.filter((p) => !hidden.some((o) => o !== p && under(p, o)));
}

const LEGACY_IPTABLES = ['iptables', 'iptables-restore', 'iptables-save', 'ip6tables', 'ip6tables-restore', 'ip6tables-save'];

/**
 * A copy of the host's /etc/alternatives (every entry, so awk, editor ... still resolve inside) with the
 * iptables names pointing at the legacy binaries, in `dir` under the state dir: init bind-mounts it over
 * /etc/alternatives. Made here with no process at all; in UML the same took a cp and six ln.
 */
export function legacyAlternatives(dir: string, from = '/etc/alternatives'): void {
  mkdirSync(dir, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isSymbolicLink()) symlinkSync(readlinkSync(join(from, e.name)), join(dir, e.name));
    else if (e.isFile()) copyFileSync(join(from, e.name), join(dir, e.name));
  }
  for (const t of LEGACY_IPTABLES) {
    rmSync(join(dir, t), { force: true });
    symlinkSync(`/usr/sbin/${t.replace(/^(ip6?tables)/, '$1-legacy')}`, join(dir, t));
  }
}

/** PID 1 inside UML: kernel setup, then the supervisor; power off when it exits. */
function initScript(spec: LabSpec, supervisorArgv: readonly string[], cwd: string, moddir: string, alternatives: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // The state dir is always mounted (writable: state.json, logs); other hidden paths read-only.
  const remount = hostPathsToRemount([cwd, ...supervisorArgv.filter((a) => a.startsWith('/')).map((a) => dirname(a))])
    .filter((p) => p !== spec.stateDir && !p.startsWith(`${spec.stateDir}/`));
  // Every line below that is not a shell builtin starts a process, ~0.1-0.2 s each inside UML and all of it
  // before the supervisor can start: hence one mkdir, one ip -batch, the sysctl as a write to /proc, and the
  // alternatives dir made on the host (legacyAlternatives) instead of cp + six ln in here.
  return [
    '#!/bin/sh',
    'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root',
    // Every command the agents and the supervisor run, with its duration, in their logs (src/dataplane/exec.ts).
    ...(process.env['KRT_EXEC_TRACE'] ? ['export KRT_EXEC_TRACE=1'] : []),
    `mount -t proc proc /proc; mount -t sysfs sys /sys; ${TMPFS_DIRS.map((d) => `mount -t tmpfs tmp ${d}`).join('; ')}`,
    `mkdir -p /run/netns /run/krlab ${[spec.stateDir, ...remount].map(q).join(' ')}`,
    `mount -t hostfs none ${q(spec.stateDir)} -o ${q(spec.stateDir)}`,
    // The tmpfs mounts hide host paths the supervisor needs (a checkout in /tmp): mount them back.
    ...remount.map((p) => `mount -r -t hostfs none ${q(p)} -o ${q(p)} || echo "lab: cannot mount host ${p}"`),
    // One modprobe for all (each process start costs ~0.2 s in UML); one by one only if that fails, to name the culprit.
    `modprobe -a -d ${q(moddir)} ${MODULES.join(' ')} 2>/dev/null || for m in ${MODULES.join(' ')}; do modprobe -d ${q(moddir)} $m 2>/dev/null || echo "lab: modprobe $m failed"; done`,
    // The UML kernel has no nf_tables for IPv4: the iptables alternatives point at the legacy backend.
    `mount --bind ${q(alternatives)} /etc/alternatives`,
    'ip -batch - <<EOF',
    'link set lo up',
    'link set eth0 up',
    `addr add ${UML_IP}/30 dev eth0`,
    'EOF',
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    `cd ${q(cwd)} || { echo "lab: cannot enter ${cwd} inside the kernel"; poweroff -f; }`,
    // The time (ms since the epoch) ends the boot phase of bench/lab.ts.
    'echo "lab: kernel ready at $(date +%s%3N), starting the supervisor"',
    `${supervisorArgv.map(q).join(' ')} >> ${q(paths(spec.stateDir).supervisorLog)} 2>&1`,
    'echo "lab: supervisor exited ($?), powering off"',
    'poweroff -f',
    '',
  ].join('\n');
}

export interface UmlBoot {
  readonly apiHostPort: number;
  /** The kernel process (its exit means the lab inside is gone), with its start time. */
  readonly kernel: { readonly pid: number; readonly start?: number };
}

/**
 * Boots the lab's UML kernel and the host-side forwarders. Returns once they are started; the caller
 * waits for state.json like for a detached host supervisor.
 */
export async function bootUml(spec: LabSpec, supervisorArgv: readonly string[], cwd: string, memMB = 3072): Promise<UmlBoot> {
  const P = paths(spec.stateDir);
  const dir = join(spec.stateDir, 'uml');
  const ver = readdirSync('/usr/lib/uml/modules')[0];
  if (!ver) throw new Error('no UML kernel modules in /usr/lib/uml/modules (apt-get install user-mode-linux)');
  const moddir = join(dir, 'mod');
  mkdirSync(join(moddir, 'lib', 'modules'), { recursive: true });
  symlinkSync(`/usr/lib/uml/modules/${ver}`, join(moddir, 'lib', 'modules', ver));

  const apiHostPort = spec.apiPort || (await freePort());
  const inside: LabSpec = {
    ...spec,
    kernel: 'host',
    inside: {
      runDir: '/run/krlab',
      apiListen: { host: '0.0.0.0', port: API_PORT },
      controlListen: { host: UML_IP, port: CONTROL_PORT },
      publicApiUrl: `http://127.0.0.1:${apiHostPort}`,
    },
  };
  writeFileSync(join(spec.stateDir, 'spec.json'), JSON.stringify(inside, null, 2));
  const alternatives = join(dir, 'alternatives');
  legacyAlternatives(alternatives);
  const init = join(dir, 'init.sh');
  writeFileSync(init, initScript(spec, supervisorArgv, cwd, moddir, alternatives), { mode: 0o755 });

  const ns = `${spec.prefix}uml`;
  journal(spec.stateDir, { t: 'netns', name: ns });
  await must('ip', ['netns', 'add', ns]);
  await ipBatch(['link set lo up', 'tuntap add dev tap0 mode tap', `addr add ${UML_HOST_IP}/30 dev tap0`, 'link set tap0 up'], ns);

  const start = (argv: string[], log: string, what: string): { pid: number; start?: number } => {
    const fd = openSync(log, 'a');
    const child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    const pid = child.pid ?? -1;
    const st = procStartTime(pid);
    journal(spec.stateDir, { t: 'pid', pid, ...(st !== undefined ? { start: st } : {}), what });
    return { pid, ...(st !== undefined ? { start: st } : {}) };
  };
  const kernel = start(
    ['ip', 'netns', 'exec', ns, 'linux.uml', `mem=${memMB}M`, 'rootfstype=hostfs', 'rootflags=/', 'ro', `init=${init}`, 'eth0=tuntap,tap0', 'con0=fd:0,fd:1', 'con=null', 'quiet'],
    join(dir, 'console.log'),
    'uml kernel',
  );
  // Control API: the usual control.sock on the host, forwarded to the supervisor's TCP port in UML.
  start(['ip', 'netns', 'exec', ns, 'socat', `UNIX-LISTEN:${P.control},fork,unlink-early,backlog=128`, `TCP:${UML_IP}:${CONTROL_PORT}`], join(dir, 'forward.log'), 'uml control forwarder');
  const apiSock = join(dir, 'api.sock');
  start(['ip', 'netns', 'exec', ns, 'socat', `UNIX-LISTEN:${apiSock},fork,unlink-early,backlog=128`, `TCP:${UML_IP}:${API_PORT}`], join(dir, 'forward.log'), 'uml api forwarder');
  // kubectl on the host: 127.0.0.1 only, in the host's namespace (a listening socket, no interface change).
  start(['socat', `TCP-LISTEN:${apiHostPort},bind=127.0.0.1,fork,reuseaddr,backlog=128`, `UNIX-CONNECT:${apiSock}`], join(dir, 'forward.log'), 'host api forwarder');
  return { apiHostPort, kernel };
}
