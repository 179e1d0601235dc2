// Runs inside user-mode Linux (test/proxy-ipv6.uml.test.ts boots it): the service proxy's controller, as the
// agent runs it under --enable-ipv6, on a dual-stack node in the root namespace, fed a dual-stack Service
// through the model's normalizers. A client and two backends in network namespaces send and answer real
// TCP and UDP over IPv6 (and one IPv4 request). Records what the clients saw and what the kernel holds at
// each step; the test asserts. Plain JS against dist/ (tsx would cost seconds in UML). Writes JSON to argv[2].
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { defaultConfig } from '../../dist/cli/parse.js';
import { createProxyController } from '../../dist/controllers/proxy/controller.js';
import { proxyOptionsFrom } from '../../dist/controllers/proxy/options.js';
import { normalizeEndpointSlice, normalizeNode, normalizeService } from '../../dist/model/normalize/index.js';
import { createMemoryClusterView } from '../../dist/watch/memory-view.js';
import { modelKey } from '../../dist/watch/model-store.js';

const outFile = process.argv[2];
const dir = process.argv[3];
const out = { steps: {} };
const sh = (cmd, args, input) => execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] });
const shOk = (cmd, args) => {
  try {
    return sh(cmd, args);
  } catch (e) {
    return `ERROR ${e.stderr || e.message}`;
  }
};
const children = [];
const t0 = Date.now();
const mark = (what) => console.error(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

const NODE = 'uml-node';
const NODE_V4 = '192.168.1.1';
const NODE_V6 = 'fd00:1::1';
const CLIENT_V6 = 'fd00:1::2';
const VIP4 = '10.96.0.10';
const VIP6 = 'fd00:10:96::a';
const B = [
  { name: 'b1', v4: '10.244.1.2', gw4: '10.244.1.1', v6: 'fd00:244:1::2', gw6: 'fd00:244:1::1' },
  { name: 'b2', v4: '10.244.2.2', gw4: '10.244.2.1', v6: 'fd00:244:2::2', gw6: 'fd00:244:2::1' },
];

// One client link and one routed link per backend, addresses without DAD (usable at once).
function topology() {
  const lines = [];
  const link = (ns, host, peer, hostV4, peerV4, hostV6, peerV6) => {
    sh('ip', ['netns', 'add', ns]);
    lines.push(
      `link add ${host} type veth peer name ${peer} netns ${ns}`,
      `link set ${host} up`,
      `addr add ${hostV4}/24 dev ${host}`,
      `addr add ${hostV6}/64 dev ${host} nodad`,
    );
    return [
      'link set lo up', `link set ${peer} up`, `addr add ${peerV4}/24 dev ${peer}`, `addr add ${peerV6}/64 dev ${peer} nodad`,
      `route add default via ${hostV4}`, `route add default via ${hostV6}`,
    ];
  };
  const inside = { client: link('client', 'c0', 'eth0', NODE_V4, '192.168.1.2', NODE_V6, CLIENT_V6) };
  for (const b of B) inside[b.name] = link(b.name, `v${b.name}`, 'eth0', b.gw4, b.v4, b.gw6, b.v6);
  sh('ip', ['-batch', '-'], lines.join('\n') + '\n');
  for (const [ns, l] of Object.entries(inside)) sh('ip', ['-n', ns, '-batch', '-'], l.join('\n') + '\n');
}

// A backend answers every TCP connection and UDP datagram on 8080 with its name and the source it saw.
const SERVER = `
const net = require('net'), dgram = require('dgram'), name = process.argv[1];
const src = (a) => a.replace(/^::ffff:/, '');
net.createServer((s) => s.end(name + ' ' + src(s.remoteAddress) + '\\n')).listen(8080, '::');
const u = dgram.createSocket({ type: 'udp6' });
u.on('message', (m, r) => u.send(name + ' ' + src(r.address) + '\\n', r.port, r.address));
u.bind(8080, '::', () => console.log('ready'));
`;

// A client: each target once, in order, each from a fresh socket (a new IPVS connection); answers or errors.
const CLIENT = `
const net = require('net'), dgram = require('dgram');
const targets = JSON.parse(process.argv[1]);
const one = (t) => new Promise((res) => {
  const done = (v) => { clearTimeout(timer); res(v); };
  const timer = setTimeout(() => { try { s.destroy?.(); s.close?.(); } catch {} done('timeout'); }, 3000);
  let s;
  if (t.proto === 'tcp') {
    let buf = '';
    s = net.connect({ host: t.host, port: t.port });
    s.on('data', (d) => (buf += d));
    s.on('end', () => done(buf.trim()));
    s.on('error', (e) => done('error ' + e.code));
  } else {
    s = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
    s.on('message', (m) => { s.close(); done(String(m).trim()); });
    s.on('error', (e) => done('error ' + e.code));
    s.send('hi', t.port, t.host);
  }
});
(async () => { const r = []; for (const t of targets) r.push(await one(t)); console.log(JSON.stringify(r)); })();
`;

function startBackend(b) {
  return new Promise((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', b.name, process.execPath, '-e', SERVER, b.name], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(p);
    p.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    p.on('exit', (c) => reject(new Error(`backend ${b.name} exited ${c}`)));
  });
}

/** Requests from a namespace, or from the node itself (ns undefined). */
const request = (ns, targets) =>
  JSON.parse(ns ? sh('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, JSON.stringify(targets)]) : sh(process.execPath, ['-e', CLIENT, JSON.stringify(targets)]));
const times = (n, t) => Array.from({ length: n }, () => t);

/** Output lines; none when the tool failed because the thing is gone (e.g. no kube-dummy-if after cleanup). */
const lines = (text) => (text.startsWith('ERROR') ? [] : text.split('\n').filter(Boolean));

function kernel() {
  return {
    dummy: lines(shOk('ip', ['-o', 'addr', 'show', 'dev', 'kube-dummy-if'])).map((l) => l.split(/\s+/).slice(2, 4).join(' ')),
    // Every IPv6 route in table local that names a service address (any link: a leaked one too).
    localRoutes6: lines(shOk('ip', ['-6', 'route', 'show', 'table', 'local'])).filter((l) => l.includes(VIP6)),
    ipvs: shOk('ipvsadm', ['-S', '-n']).split('\n').filter(Boolean),
    nat6: shOk('ip6tables-legacy-save', ['-t', 'nat']).split('\n').filter((l) => l.startsWith('-A') || l.startsWith(':KUBE')),
    nat4: shOk('iptables-legacy-save', ['-t', 'nat']).split('\n').filter((l) => l.startsWith('-A') || l.startsWith(':KUBE')),
    filter6: shOk('ip6tables-legacy-save', ['-t', 'filter']).split('\n').filter((l) => l.startsWith('-A') || l.startsWith(':KUBE')),
    sets: shOk('ipset', ['list', '-n']).split('\n').filter(Boolean).sort(),
    svipPrt6: shOk('ipset', ['list', 'inet6:kube-router-svip-prt']).split('\n').filter((l) => /^[0-9a-f:]+,/.test(l)).sort(),
    forwarding6: shOk('sysctl', ['-n', 'net.ipv6.conf.all.forwarding']).trim(),
  };
}

const log = pino({ level: 'debug' }, createWriteStream(join(dir, 'agent.log')));
const view = createMemoryClusterView();
const health = { register() {}, beat() {}, problem(name, reason) { out.problems = [...(out.problems ?? []), reason]; }, degraded() {} };
const metrics = new Registry();
const ctx = { nodeName: NODE, cluster: view, log, metrics, health };
const model = (r) => {
  if (!r.ok) throw new Error(`model: ${JSON.stringify(r)}`);
  return r.value;
};

const node = (podCIDRs) => model(normalizeNode({
  metadata: { name: NODE, uid: 'n1' },
  spec: { podCIDRs },
  status: { addresses: [{ type: 'InternalIP', address: NODE_V4 }, { type: 'InternalIP', address: NODE_V6 }], conditions: [{ type: 'Ready', status: 'True' }] },
}));
// As the lab API server allocates a RequireDualStack service with both ranges (src/apiserver/kinds/service.ts).
const service = model(normalizeService({
  metadata: { name: 'web', namespace: 'default', uid: 's1', annotations: { 'kube-router.io/service.hairpin': '' } },
  spec: {
    type: 'NodePort', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'], clusterIP: VIP6, clusterIPs: [VIP6, VIP4],
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30080 }, { name: 'dns', port: 53, targetPort: 8080, protocol: 'UDP', nodePort: 30053 }],
  },
}));
const slice = (family) => model(normalizeEndpointSlice({
  metadata: { name: `web-${family}`, namespace: 'default', uid: `e${family}`, labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: family,
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 8080, protocol: 'UDP' }],
  endpoints: B.map((b) => ({ addresses: [family === 'IPv6' ? b.v6 : b.v4], conditions: { ready: true }, nodeName: NODE })),
}));

async function synced(ctl, after) {
  for (let i = 0; i < 600 && ctl.syncs <= after; i++) await new Promise((r) => setTimeout(r, 50));
  if (ctl.syncs <= after) throw new Error('no sync');
}

let ctl;
try {
  mark('start');
  topology();
  mark('topology');
  await Promise.all(B.map(startBackend));
  mark('backends');
  // The backends' pod CIDRs are this node's: pod traffic keeps the client's address (no masquerade).
  view.set('Node', node(['10.244.0.0/16', 'fd00:244::/32']));
  view.set('Service', service);
  view.set('EndpointSlice', slice('IPv6'));
  view.set('EndpointSlice', slice('IPv4'));
  const config = {
    ...defaultConfig(),
    enableIpv6: true,
    serviceClusterIpRange: ['10.96.0.0/12', 'fd00:10:96::/112'],
    ipvsSyncPeriodMs: 3_600_000,
    // > 0 turns the per-service IPVS metrics on (the agent, not the controller, serves the port).
    metricsPort: 20245,
  };
  ctl = createProxyController(ctx, proxyOptionsFrom(config, NODE), { backend: 'legacy' });
  let t = Date.now();
  // start() resolves after the first successful sync; a sync that keeps failing is reported, not waited out.
  await Promise.race([ctl.start(), new Promise((_, rej) => setTimeout(() => rej(new Error(`the controller did not start in 60 s: ${JSON.stringify(out.problems ?? [])}`)), 60_000))]);
  out.startMs = Date.now() - t;
  mark('controller started');
  out.steps.served = kernel();

  const cip6 = { host: VIP6 }, np6 = { host: NODE_V6 };
  t = Date.now();
  out.steps.served.answers = request('client', [
    ...times(4, { ...cip6, proto: 'tcp', port: 80 }),
    ...times(4, { ...cip6, proto: 'udp', port: 53 }),
    ...times(4, { ...np6, proto: 'tcp', port: 30080 }),
    ...times(4, { ...np6, proto: 'udp', port: 30053 }),
    { host: VIP4, proto: 'tcp', port: 80 },
    // The VIP firewall: a port the service does not serve is refused.
    { ...cip6, proto: 'tcp', port: 81 },
  ]);
  // Hairpin: b1 through its own service; the request IPVS gives back to b1 arrives from the VIP.
  out.steps.served.hairpin = request('b1', times(2, { ...cip6, proto: 'tcp', port: 80 }));
  // From the node itself: the VIP's local route gives the node's address as the source, not the VIP.
  out.steps.served.fromNode = request(undefined, [{ ...cip6, proto: 'tcp', port: 80 }]);
  out.trafficMs = Date.now() - t;
  // The per-service metrics of the IPv6 virtual servers, read from IPVS as a scrape does (the kernel folds
  // its per-CPU counters into the totals every 2 s).
  await new Promise((r) => setTimeout(r, 2500));
  out.steps.served.metrics = (await metrics.metrics()).split('\n').filter((l) => l.startsWith('kube_router_service_total_connections') && l.includes('fd00:'));
  mark('traffic');

  // The backends' pods now count as another node's: traffic from outside this node's pods is masqueraded.
  let before = ctl.syncs;
  view.set('Node', node(['10.245.0.0/24', 'fd00:245::/64']));
  await synced(ctl, before);
  out.steps.masquerade = kernel();
  mark('masquerade synced');
  out.steps.masquerade.answers = request('client', [...times(2, { ...cip6, proto: 'tcp', port: 80 }), ...times(2, { ...np6, proto: 'udp', port: 30053 })]);

  before = ctl.syncs;
  view.delete('EndpointSlice', modelKey('EndpointSlice', { namespace: 'default', name: 'web-IPv6' }));
  view.delete('EndpointSlice', modelKey('EndpointSlice', { namespace: 'default', name: 'web-IPv4' }));
  view.delete('Service', modelKey('Service', service));
  await synced(ctl, before);
  out.steps.deleted = kernel();
  mark('deleted synced');
  out.steps.deleted.answers = request('client', [{ ...cip6, proto: 'tcp', port: 80 }]);

  await ctl.stop();
  await ctl.cleanup();
  out.steps.cleaned = kernel();
  mark('cleaned');
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  for (const c of children) c.kill();
  writeFileSync(outFile, JSON.stringify(out, null, 1));
  log.flush?.();
  setTimeout(() => process.exit(0), 200);
}
