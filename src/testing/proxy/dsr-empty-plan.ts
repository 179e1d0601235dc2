// Run inside a node's network namespace (`ip netns exec NS node --import tsx this-file`) by
// dsr/applier.here.kernel.test.ts: one DsrApplier on execHost (the agent's own runner, so the applier may
// answer its reads from /proc and rtnetlink instead of processes) applies an empty DSR plan, as a
// restarted proxy's first sync does on a node without DSR services. Prints the report as JSON.
import pino from 'pino';
import { execHost } from '../../dataplane/exec.js';
import { DsrApplier } from '../../controllers/proxy/dsr/applier.js';

const a = new DsrApplier({ exec: execHost, backend: 'legacy', log: pino({ level: 'silent' }), netns: { netnsDirs: ['/nonexistent-krt-dsr'], procRoot: '/nonexistent-krt-dsr' } });
const plan = { marks: [], tcpMss: 1440, bridgeRoutes: [], pods: [] };
await a.prepare(plan, { full: true, podCIDRs: ['10.244.0.0/24'] });
const report = await a.finish(plan, { podCIDRs: ['10.244.0.0/24'] });
console.log(JSON.stringify(report));
