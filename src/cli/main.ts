#!/usr/bin/env node
// The `kube-router` command. Subcommands are dispatched before any agent flag is parsed, so their own
// arguments (`kube-router lab up -- --run-firewall=false`) never meet the agent's parser.
//   kube-router [flags]            the agent (src/agent)
//   kube-router apiserver ...      src/apiserver (apiserverCommand)
//   kube-router lab ...            src/lab (labCommand)
//   kube-router explain FROM TO    src/explain (explainCommand): why a connection is allowed or denied
//   kube-router docs-flags         (hidden) markdown flag reference: docs/flags.md; --readme: README section

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger } from '../observe/logger.js';
import { renderFlagDocs, renderHelp, renderReadmeFlags } from './help.js';
import { FlagError, parseAgentArgs } from './parse.js';
import { versionLine } from './version.js';
import { errorFields, errorLine } from '../observe/errors.js';

/** Subcommands from other packages, loaded only when asked for so the agent starts without them. */
const SUBCOMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  apiserver: async () => (await import('../apiserver/index.js')).apiserverCommand(),
  lab: async () => (await import('../lab/index.js')).labCommand(),
  explain: async () => (await import('../explain/command.js')).explainCommand(),
};

function fail(message: string, code: number): number {
  process.stderr.write(`kube-router: ${message}\n`);
  return code;
}

async function runSubcommand(name: string, args: readonly string[]): Promise<number> {
  const cmd = await SUBCOMMANDS[name]!();
  cmd.name(`kube-router ${name}`);
  await cmd.parseAsync([...args], { from: 'user' });
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first !== undefined && first in SUBCOMMANDS) return runSubcommand(first, rest);
  if (first === 'docs-flags') {
    if (rest.length > 1 || (rest[0] !== undefined && rest[0] !== '--readme')) {
      return fail('usage: kube-router docs-flags [--readme]', 2);
    }
    process.stdout.write(rest[0] === '--readme' ? renderReadmeFlags() : renderFlagDocs());
    return 0;
  }

  let outcome;
  try {
    outcome = parseAgentArgs(argv);
  } catch (err) {
    if (err instanceof FlagError) return fail(errorLine(err), 2);
    throw err;
  }
  if (outcome.kind === 'help') {
    process.stdout.write(renderHelp());
    return 0;
  }
  if (outcome.kind === 'version') {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }

  const config = outcome.config;
  const log = createLogger({ verbosity: config.v });
  try {
    // Loaded here so -V, --help and flag errors answer without loading the controllers.
    if (config.cleanupConfig) {
      const { runCleanup } = await import('../agent/cleanup.js');
      const result = await runCleanup(config, log);
      return result.failed.length === 0 ? 0 : 1;
    }
    const { runAgent } = await import('../agent/agent.js');
    await runAgent(config, { log });
    return 0;
  } catch (err) {
    log.fatal(errorFields(err), 'kube-router-ts failed');
    return 1;
  }
}

// Run only as the entry point, so tests can import main() without starting anything.
function isEntryPoint(): boolean {
  try {
    // argv[1] may be the npm bin symlink; compare real paths.
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    // The agent may leave watch sockets open; once main() is done, nothing else is worth waiting for.
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`kube-router: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
