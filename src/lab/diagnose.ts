// What a lab that failed to come up leaves behind, gathered into one message: the step it reached
// (the supervisor's last log line, or the kernel's when the supervisor never started) and the tail of
// every log that can say why. Read before `down` removes the state dir.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from './config.js';

function tail(file: string, lines: number): string[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
  return text ? text.split('\n').slice(-lines) : [];
}

/** The logs of a lab's state dir, newest lines last; empty when there is nothing to show. */
export function labFailureReport(stateDir: string, lines = 12): string {
  const P = paths(stateDir);
  const sections: [string, string[]][] = [
    ['supervisor log', tail(P.supervisorLog, lines)],
    ['user-mode Linux console', tail(join(stateDir, 'uml', 'console.log'), lines)],
  ];
  const nodesDir = join(stateDir, 'nodes');
  if (existsSync(nodesDir)) {
    for (const node of readdirSync(nodesDir).sort()) sections.push([`agent ${node}`, tail(P.nodeLog(node), lines)]);
  }
  const shown = sections.filter(([, l]) => l.length > 0);
  // The step reached: the newest line of the first log that has any, other than the failure itself.
  const step = shown[0]?.[1].filter((l) => !/\bfailed: /.test(l)).at(-1);
  return [
    ...(step ? [`last step: ${step}`] : []),
    ...shown.map(([what, l]) => `--- ${what} (last ${l.length} lines) ---\n${l.join('\n')}`),
  ].join('\n');
}
