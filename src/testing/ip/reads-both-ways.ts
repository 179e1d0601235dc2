// Run inside a network namespace (`ip netns exec NS node --import tsx this-file`) by
// src/dataplane/ip/ip-here.kernel.test.ts: each read of dataplane/ip/ip.ts twice, once on execHost (answered
// over rtnetlink) and once on a runner that is not execHost (the `ip` process), printed as JSON side by side.
import { execHost, type Exec } from '../../dataplane/exec.js';
import { routeStateHere, showAddresses, showLinksDetailed, showRoutes, showRules, type IpLinkDetail } from '../../dataplane/ip/ip.js';

const viaIp: Exec = (cmd, args, opts) => execHost(cmd, args, opts);
const proto = Number(process.argv[2] ?? 17);
const table = Number(process.argv[3] ?? 77);

const both = async <T>(read: (e: Exec) => Promise<T>) => ({ here: await read(execHost), ip: await read(viaIp) });
const routeStateByIp = async (f: 4 | 6) => {
  const out = (await viaIp('ip', ['-j', '-d', `-${f}`, '-batch', '-'], { input: `route show table all proto ${proto}\nlink show\n` })).stdout;
  const [routes, links] = out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>[]);
  return { routes: routes!, links: links! };
};
/** What the readers use of a link detail (ip prints much more). */
const detail = (l: IpLinkDetail) => ({ ifname: l.ifname, kind: l.linkinfo?.info_kind, local: l.linkinfo?.info_data?.local, remote: l.linkinfo?.info_data?.remote });

const result = {
  addresses: await both(showAddresses),
  links: await both(async (e) => (await showLinksDetailed(e)).map(detail)),
  rules4: await both((e) => showRules(e, 4)),
  rules6: await both((e) => showRules(e, 6)),
  main4: await both((e) => showRoutes(e, 4, proto)),
  main6: await both((e) => showRoutes(e, 6, proto)),
  table4: await both((e) => showRoutes(e, 4, proto, table)),
  missingTable: await both((e) => showRoutes(e, 4, proto, 4242)),
  state4: { here: routeStateHere(execHost, 4, proto, true), ip: await routeStateByIp(4) },
  state6: { here: routeStateHere(execHost, 6, proto, false), ip: await routeStateByIp(6) },
};
console.log(JSON.stringify(result));
