// `kube-router lab ...`: a whole multi-node kube-router-ts cluster on one machine. The library surface the
// tests and benches use; the command tree (labCommand) is command.ts, which the CLI owner mounts under
// dist/cli/main.js and src/lab/main.ts runs standalone.
export { labCommand } from './command.js';
export { Lab, type UpOptions } from './lab.js';
export { runConformance, loadCases, expectedMatrix, type ConformanceReport, type ConformanceOptions } from './conformance.js';
export { downLab } from './down.js';
