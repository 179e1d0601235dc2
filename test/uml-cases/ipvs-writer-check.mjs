// Runs inside user-mode Linux (test/ipvs-writer.uml.test.ts boots it): every field the proxy's IPVS writers
// write, written over netlink and with the ipvsadm -R fallback, read back with `ipvsadm -S -n` and the
// netlink dump. Plain JS against dist/ (tsx would cost seconds in UML). Writes its findings as JSON to argv[2].
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { execHost } from '../../dist/dataplane/exec.js';
import { parseIpvsadmSave } from '../../dist/dataplane/ipvs/ipvsadm.js';
import { IpvsNetlink } from '../../dist/dataplane/ipvs/netlink.js';
import { ipvsadmWriter, netlinkWriter } from '../../dist/controllers/proxy/apply/ipvs-writer.js';
import { diffIpvs, kernelTable } from '../../dist/controllers/proxy/apply/ipvs-table.js';

const out = {};
const canon = (entries) =>
  entries
    .map((e) => ({ ...e, dests: [...e.dests].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const saveNow = () => canon(parseIpvsadmSave(execFileSync('ipvsadm', ['-S', '-n'], { encoding: 'utf8' })));

const tcp = { protocol: 'tcp', address: '10.96.0.10', port: 80 };
const udp = { protocol: 'udp', address: '10.96.0.10', port: 53 };
const sctp = { protocol: 'sctp', address: '192.0.2.7', port: 3868 };
const v6 = { protocol: 'tcp', address: 'fd00:10:96::a', port: 443 };
const mark4 = { fwmark: 4242, family: 4 };
const mark6 = { fwmark: 7, family: 6 };
const services = [
  { ...tcp, scheduler: 'rr', flags: [] },
  { ...udp, scheduler: 'sh', flags: ['sh-fallback', 'sh-port'], persistenceSeconds: 10800, onePacket: true },
  { ...sctp, scheduler: 'mh', flags: ['mh-port'], persistenceSeconds: 60, persistenceNetmask: 24 },
  { ...v6, scheduler: 'lc', flags: ['flag-3'], persistenceSeconds: 5, persistenceNetmask: 64 },
  { ...mark4, scheduler: 'wrr', flags: [] },
  { ...mark6, scheduler: 'dh', flags: [] },
];
const dests = {
  tcp: [{ address: '10.244.1.5', port: 8080, weight: 1, method: 'm' }, { address: '10.244.2.9', port: 80, weight: 3, method: 'i', upperThreshold: 100, lowerThreshold: 10 }],
  udp: [{ address: '10.244.1.5', port: 53, weight: 0, method: 'm' }, { address: '10.244.3.1', port: 53, weight: 65535, method: 'g' }],
  sctp: [{ address: '10.244.1.7', port: 3868, weight: 2, method: 'm' }],
  v6: [{ address: 'fd00:244::1:5', port: 8443, weight: 7, method: 'm' }, { address: 'fd00:244::2:5', port: 443, weight: 1, method: 'i' }],
  // A fwmark service's tunnel real server keeps its port (DSR names endpoints by it), with either writer.
  mark4: [{ address: '10.244.1.5', port: 0, weight: 1, method: 'g' }, { address: '10.244.2.9', port: 80, weight: 2, method: 'i' }],
  mark6: [{ address: 'fd00:244::3:5', port: 0, weight: 4, method: 'm' }],
};
const ids = { tcp, udp, sctp, v6, mark4, mark6 };
const addOps = [
  ...services.map((service) => ({ op: 'add-service', service })),
  ...Object.entries(dests).flatMap(([k, ds]) => ds.map((dest) => ({ op: 'add-dest', service: ids[k], dest }))),
];
const expected = canon(services.map((s, i) => ({ ...s, dests: Object.values(dests)[i] })));
// Edits: scheduler and flags changed, persistence off; a weight, a method and thresholds changed; one dest and one service gone.
const editOps = [
  { op: 'edit-service', service: { ...tcp, scheduler: 'sh', flags: ['sh-port'], persistenceSeconds: 300 } },
  { op: 'edit-service', service: { ...udp, scheduler: 'rr', flags: [] } },
  { op: 'edit-dest', service: tcp, dest: { address: '10.244.2.9', port: 80, weight: 0, method: 'm' } },
  { op: 'edit-dest', service: v6, dest: { address: 'fd00:244::1:5', port: 8443, weight: 9, method: 'm', upperThreshold: 5 } },
  { op: 'del-dest', service: udp, dest: { address: '10.244.3.1', port: 53 } },
  { op: 'del-service', service: mark4 },
];
const edited = canon(
  expected
    .filter((e) => e.fwmark !== 4242)
    .map((e) => {
      if (e.protocol === 'tcp' && e.port === 80) return { ...tcp, scheduler: 'sh', flags: ['sh-port'], persistenceSeconds: 300, dests: [dests.tcp[0], { address: '10.244.2.9', port: 80, weight: 0, method: 'm' }] };
      if (e.protocol === 'udp') return { ...udp, scheduler: 'rr', flags: [], dests: [dests.udp[0]] };
      if (e.port === 443) return { ...e, dests: [{ address: 'fd00:244::1:5', port: 8443, weight: 9, method: 'm', upperThreshold: 5 }, dests.v6[1]] };
      return e;
    }),
);
out.expected = expected;
out.edited = edited;
// `ipvsadm -S` does not print thresholds: compared with the netlink dump only.
const noThresholds = (entries) => canon(entries.map((e) => ({ ...e, dests: e.dests.map(({ upperThreshold: _u, lowerThreshold: _l, ...d }) => d) })));
out.expectedSave = noThresholds(expected);
out.editedSave = noThresholds(edited);

// DSR as the applier diffs it: a fwmark service (mark 123) with tunnel real servers, one of them found in
// masquerade, beside a fwmark service that is not ours (999). After one write the read-back diff is empty.
const dsrPlan = new Map([['fwmark/123', {
  fwmark: 123, protocol: 'tcp', address: '192.0.2.20', port: 80, scheduler: 'rr', flags: [],
  realServers: [{ address: '10.244.0.7', port: 80, weight: 1, forward: 'tunnel' }, { address: '10.244.1.5', port: 80, weight: 1, forward: 'tunnel' }],
  service: { namespace: 'default', name: 'dsr', port: 'http', via: 'externalIP' },
}]]);
const dsrOpts = { owned: (k) => k.fwmark === 123, graceful: false, keepDraining: new Set() };
async function dsrSettles(writer) {
  execFileSync('ipvsadm', ['-C']);
  execFileSync('ipvsadm', ['-R'], { input: '-A -f 123 -s rr\n-a -f 123 -r 10.244.1.5:80 -m -w 1\n-A -f 999 -s rr\n-a -f 999 -r 10.244.9.9:80 -i -w 1\n' });
  const first = diffIpvs(dsrPlan, kernelTable(await writer.read()), dsrOpts);
  await writer.write(first.ops);
  const second = diffIpvs(dsrPlan, kernelTable(await writer.read()), dsrOpts);
  const save = execFileSync('ipvsadm', ['-S', '-n'], { encoding: 'utf8' }).trim().split('\n').sort();
  return { firstOps: first.ops.map((o) => o.op).sort(), secondOps: second.ops, save };
}

const nl = IpvsNetlink.open();
if (nl instanceof Error) {
  out.openError = nl.message;
} else {
  const w = netlinkWriter(nl);
  execFileSync('ipvsadm', ['-C']);
  out.netlink = { afterAdd: {}, afterEdit: {} };
  await w.write(addOps);
  out.netlink.afterAdd = { save: saveNow(), dump: canon(await w.read()) };
  // Statistics: one SYN to the TCP service (its VIP on lo; the socket is gone before a retransmit) is
  // counted; both readers give the same totals for every service (rates move between reads: left out).
  execFileSync('ip', ['addr', 'add', '10.96.0.10/32', 'dev', 'lo']);
  await new Promise((res) => {
    const s = connect({ host: '10.96.0.10', port: 80, timeout: 500 });
    const done = () => (s.destroy(), res());
    s.on('timeout', done).on('error', done).on('connect', done);
  });
  // The kernel folds its per-CPU counters into what both readers see every 2 s (the rate estimator's tick).
  await new Promise((res) => setTimeout(res, 2500));
  const totals = (entries) => canon(entries.map(({ service, stats: { conns, inPkts, outPkts, inBytes, outBytes } }) => ({ ...service, conns, inPkts, outPkts, inBytes, outBytes, dests: [] })));
  out.netlink.stats = { netlink: totals(await w.stats()), ipvsadm: totals(await ipvsadmWriter(execHost).stats()) };
  await w.write(editOps);
  out.netlink.afterEdit = { save: saveNow(), dump: canon(await w.read()) };
  // Errors per operation: the duplicate and the missing service fail, the operations around them run.
  const failures = await nl.apply([
    { op: 'add-dest', service: tcp, dest: { address: '10.244.9.1', port: 80, weight: 1, method: 'm' } },
    { op: 'add-service', service: services[0] },
    { op: 'del-dest', service: { ...tcp, port: 81 }, dest: { address: '10.244.1.5', port: 8080 } },
    { op: 'add-service', service: { ...tcp, port: 82, scheduler: 'nosuchsched', flags: [] } },
    { op: 'add-dest', service: tcp, dest: { address: '10.244.9.2', port: 80, weight: 1, method: 'm' } },
  ]);
  out.netlink.failures = failures.map((f) => ({ index: f.index, message: f.message }));
  out.netlink.afterFailures = saveNow().find((e) => e.protocol === 'tcp' && e.port === 80)?.dests.map((d) => d.address);
  // A batch bigger than one send (512 requests).
  execFileSync('ipvsadm', ['-C']);
  const many = [];
  for (let i = 0; i < 300; i++) {
    const s = { protocol: 'tcp', address: `10.97.${i >> 8}.${i & 255}`, port: 80 };
    many.push({ op: 'add-service', service: { ...s, scheduler: 'rr', flags: [] } });
    for (let j = 0; j < 3; j++) many.push({ op: 'add-dest', service: s, dest: { address: `10.245.${i >> 8}.${i & 255}`, port: 8000 + j, weight: 1, method: 'm' } });
  }
  await w.write(many);
  out.netlink.bigBatch = { ops: many.length, services: (await w.read()).length, dests: saveNow().reduce((n, e) => n + e.dests.length, 0) };
  out.netlink.dsr = await dsrSettles(w);
}

// The fallback writer: the same operations as ipvsadm -R lines.
execFileSync('ipvsadm', ['-C']);
const adm = ipvsadmWriter(execHost);
out.ipvsadm = {};
try {
  await adm.write(addOps);
  out.ipvsadm.afterAdd = saveNow();
  await adm.write(editOps);
  out.ipvsadm.afterEdit = saveNow();
  out.ipvsadm.dsr = await dsrSettles(adm);
} catch (e) {
  out.ipvsadm.error = e.message;
}
execFileSync('ipvsadm', ['-C']);
writeFileSync(process.argv[2], JSON.stringify(out, null, 1));
