// One node's routing controller as its own process, started inside the node's netns by kernel tests
// that need the real BGP speaker (sockets bind in the caller's namespace):
//   ip netns exec <ns> npx tsx node-agent.ts <cluster.json> <nodeName> <status.json> '<RouterOptions JSON>'
// Writes its status (problem, peers, advertisements) to status.json every 200 ms; SIGTERM stops it
// the way the agent stops (graceful BGP stop when --bgp-graceful-restart).
import { writeFileSync, renameSync } from 'node:fs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createRouterController } from '../../controllers/router/controller.js';
import { routerDefaults } from '../../controllers/router/options.js';
import { fileClusterView } from './file-cluster.js';
import { RecordingHealth } from './harness.js';

const [clusterPath, nodeName, statusPath, optsJson] = process.argv.slice(2);
if (!clusterPath || !nodeName || !statusPath) {
  process.stderr.write('usage: node-agent.ts <cluster.json> <nodeName> <status.json> [optsJson]\n');
  process.exit(2);
}
const cluster = fileClusterView(clusterPath);
const health = new RecordingHealth();
const log = pino({ level: process.env.KRT_LOG ?? 'warn', base: { node: nodeName } }, pino.destination(2));
const controller = createRouterController(
  { nodeName, cluster, log, metrics: new Registry(), health },
  routerDefaults(JSON.parse(optsJson ?? '{}'), {}),
  { iptablesBackend: 'nft' },
);
const writeStatus = () => {
  const s = { ...controller.status(), beats: health.beats, healthProblem: health.problem_ ?? null, pid: process.pid };
  writeFileSync(`${statusPath}.tmp`, JSON.stringify(s));
  renameSync(`${statusPath}.tmp`, statusPath);
};
const timer = setInterval(writeStatus, 200);
process.on('SIGTERM', () => {
  clearInterval(timer);
  cluster.close();
  controller.stop().finally(() => process.exit(0));
});
controller.start().then(writeStatus, (e: unknown) => {
  log.error({ err: (e as Error).message }, 'router controller failed to start');
  process.exit(1);
});
