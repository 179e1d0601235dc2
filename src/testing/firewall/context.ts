// A ControllerContext for tests: the in-memory cluster view, a quiet (or captured) logger, a registry.
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { HealthMonitor } from '../../observe/health.js';
import { MemoryLog } from '../observe.js';
import { createMemoryClusterView, type MemoryClusterView } from '../../watch/memory-view.js';
import type { ControllerContext } from '../../controllers/controller.js';
import type { FirewallOptions } from '../../controllers/firewall/controller.js';

export interface TestContext {
  readonly ctx: ControllerContext;
  readonly view: MemoryClusterView;
  readonly logs: MemoryLog;
  readonly health: HealthMonitor;
}

export function testContext(nodeName: string, view: MemoryClusterView = createMemoryClusterView()): TestContext {
  const logs = new MemoryLog();
  const log: Logger = pino({ level: 'debug' }, logs);
  const health = new HealthMonitor();
  return { ctx: { nodeName, cluster: view, log, metrics: new Registry(), health }, view, logs, health };
}

export function firewallOptions(nodeName: string, extra: Partial<FirewallOptions> = {}): FirewallOptions {
  const idx = Number(nodeName.replace(/\D/g, '') || '1');
  return {
    nodeName,
    podCIDRs: [`10.244.${idx}.0/24`],
    syncPeriodMs: 300_000,
    defaultDeny: false,
    serviceClusterIPRanges: ['10.96.0.0/12'],
    serviceExternalIPRanges: [],
    loadBalancerIPRanges: [],
    nodePortRange: { min: 30000, max: 32767 },
    enableIPv4: true,
    enableIPv6: false,
    ...extra,
  };
}
