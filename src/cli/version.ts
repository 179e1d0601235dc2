// The version comes from package.json so a release needs one edit. The file sits two levels up both
// from src/cli (tsx) and from dist/cli (built), so one relative URL serves both.

import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION: string = readVersion();

export function versionLine(): string {
  return `kube-router-ts version ${VERSION}, node ${process.version}`;
}
