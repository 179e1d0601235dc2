// Writes the CNI config atomically (temp file in the same directory + rename) so the kubelet never reads
// a half-written file, and only when the content changes. Checks that the plugin binaries it names exist.
import { access, constants, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BRIDGE_NAME, buildCniConfig, renderCniConfig, requiredCniPlugins, type CniParams } from '../compile/cni.js';

export interface CniWriteResult {
  readonly written: boolean;
  readonly path: string;
  /** Plugin binaries found in none of the bin dirs. */
  readonly missingPlugins: readonly string[];
  /** Set when the existing file could not be parsed (it was kept as <file>.invalid). */
  readonly replacedInvalid?: string;
}

export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export async function findMissingPlugins(plugins: readonly string[], binDirs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const p of plugins) {
    let found = false;
    for (const d of binDirs) {
      try {
        await access(join(d, p), constants.X_OK);
        found = true;
        break;
      } catch {
        /* try the next dir */
      }
    }
    if (!found) missing.push(p);
  }
  return missing;
}

export async function syncCniFile(path: string, params: Omit<CniParams, 'listFormat'>, binDirs: readonly string[]): Promise<CniWriteResult> {
  let current: string | undefined;
  try {
    current = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  let existing: unknown;
  let replacedInvalid: string | undefined;
  if (current !== undefined && current.trim() !== '') {
    try {
      existing = JSON.parse(current);
    } catch (e) {
      // Unparseable: keep the operator's bytes aside rather than silently losing them, then write a fresh one.
      replacedInvalid = `${path}.invalid`;
      await writeFileAtomic(replacedInvalid, current);
      existing = undefined;
      void e;
    }
  }
  const config = buildCniConfig(existing, { ...params, listFormat: path.endsWith('.conflist') });
  const text = renderCniConfig(config);
  const written = text !== current;
  if (written) await writeFileAtomic(path, text);
  const missingPlugins = await findMissingPlugins(requiredCniPlugins(config), binDirs);
  return { written, path, missingPlugins, ...(replacedInvalid ? { replacedInvalid } : {}) };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * --cleanup-config: removes the CNI config when it is ours (a bridge plugin on kube-bridge, as the install
 * and the router write it); anything else at that path is an operator's and stays. Returns whether it removed.
 */
export async function removeCniFile(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  let conf: unknown;
  try {
    conf = JSON.parse(text);
  } catch {
    return false;
  }
  const plugins: unknown[] = isObj(conf) && Array.isArray(conf.plugins) ? conf.plugins : [conf];
  if (!plugins.some((p) => isObj(p) && p.type === 'bridge' && p.bridge === BRIDGE_NAME)) return false;
  await unlink(path);
  return true;
}
