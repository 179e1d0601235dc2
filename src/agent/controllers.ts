// Which code runs for each controller the agent can start. The agent only knows the Controller contract
// (src/controllers/controller.ts); each controller package provides a factory, registered in FACTORIES.
// Until a controller is registered the agent runs a placeholder that says so in the log and does nothing,
// so a missing controller is never mistaken for a working one.

import type { Controller, ControllerContext, ControllerName } from '../controllers/controller.js';
import type { AgentConfig } from '../cli/flags.js';
import { BUILTIN_FACTORIES } from './builtin.js';

/** A controller as the agent drives it; `cleanup` undoes everything it ever programmed (--cleanup-config). */
export type AgentController = Controller & { cleanup?(): Promise<void> };

export type ControllerFactory = (ctx: ControllerContext, config: AgentConfig) => AgentController | Promise<AgentController>;

export type FactoryTable = Readonly<Partial<Record<ControllerName, ControllerFactory>>>;

/** kube-router's start order: routes and CNI first (pods need them), then the proxy, the firewall last. */
export const START_ORDER: readonly ControllerName[] = ['router', 'proxy', 'firewall'];

/** What each controller would do, for the placeholder's log line. */
const DUTY: Readonly<Record<ControllerName, string>> = {
  firewall: 'NetworkPolicies are NOT enforced on this node',
  router: 'pod routes, BGP and the CNI config are NOT managed on this node',
  proxy: 'Services (IPVS) are NOT programmed on this node',
};

// The shipped controllers are listed in builtin.ts (INTEGRATOR: plug new ones in there); registerController()
// adds or replaces one at run time.
const FACTORIES = new Map<ControllerName, ControllerFactory>(
  Object.entries(BUILTIN_FACTORIES) as [ControllerName, ControllerFactory][],
);

export function registerController(name: ControllerName, factory: ControllerFactory): void {
  FACTORIES.set(name, factory);
}

/** The registered factories (a copy); runAgent uses this unless given its own table. */
export function registeredFactories(): FactoryTable {
  return Object.fromEntries(FACTORIES);
}

export function isPlaceholder(table: FactoryTable, name: ControllerName): boolean {
  return table[name] === undefined;
}

/** A controller that only reports that it is missing. It never registers with health: it has nothing to beat for. */
export function placeholderController(ctx: ControllerContext, name: ControllerName): AgentController {
  return {
    name,
    async start() {
      ctx.log.warn(`the ${name} controller is not implemented yet: ${DUTY[name]}`);
    },
    async stop() {},
    async cleanup() {
      ctx.log.info(`the ${name} controller is not implemented yet; nothing to clean up`);
    },
  };
}

export async function createController(
  table: FactoryTable,
  name: ControllerName,
  ctx: ControllerContext,
  config: AgentConfig,
): Promise<AgentController> {
  const factory = table[name];
  return factory ? factory(ctx, config) : placeholderController(ctx, name);
}
