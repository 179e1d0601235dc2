// The agent's public surface.
export { enabledControllers, resolveNodeName, runAgent, warnIneffectiveFlags, type AgentDeps } from './agent.js';
export { runCleanup, type CleanupResult } from './cleanup.js';
export { emptyClusterView, informerClusterStore, type ClusterStore, type ClusterStoreFactory } from './cluster.js';
export {
  createController,
  placeholderController,
  registerController,
  registeredFactories,
  START_ORDER,
  type AgentController,
  type ControllerFactory,
  type FactoryTable,
} from './controllers.js';
