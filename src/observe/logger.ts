// Structured JSON logs on stderr (stdout stays free for command output such as `docs-flags`).
// Verbosity follows kube-router's klog levels: -v 0 info, -v 1 debug (sync timings), -v 2+ trace (rule detail).

import { pino, type DestinationStream, type Level, type Logger } from 'pino';

export type { Logger } from 'pino';

export function levelFor(verbosity: number): Level {
  if (verbosity >= 2) return 'trace';
  if (verbosity === 1) return 'debug';
  return 'info';
}

export interface LoggerOptions {
  readonly verbosity: number;
  /** Defaults to a synchronous stderr writer so the last lines before an exit are never lost. */
  readonly destination?: DestinationStream;
  /** Fields on every line (e.g. the node name). */
  readonly base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: levelFor(opts.verbosity),
      base: { ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" reads better in `kubectl logs` and jq than pino's numeric 30.
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** The logger a controller gets: every line carries `controller`. */
export function controllerLogger(root: Logger, name: string): Logger {
  return root.child({ controller: name });
}
