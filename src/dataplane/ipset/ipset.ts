// ipset text formats: parse `ipset save`, and build one `ipset restore` batch from a desired/current
// diff. Small changes become add/del lines; large ones fill a temporary set and `swap` it in, so a
// rule matching the set never sees it half-filled.

export type SetType = 'hash:ip' | 'hash:net' | 'hash:ip,port';
export type SetFamily = 'inet' | 'inet6';

export interface SetSpec {
  readonly name: string;
  readonly type: SetType;
  readonly family: SetFamily;
  /** Entries exactly as `ipset save` prints them ("10.0.0.1", "10.0.0.0/8 nomatch", "10.0.0.1,tcp:80"). */
  readonly entries: readonly string[];
}

export interface SavedSet {
  readonly name: string;
  readonly type: string;
  readonly family: SetFamily;
  readonly maxelem: number;
  readonly entries: Set<string>;
}

export function parseIpsetSave(text: string, keep: (name: string) => boolean = () => true): Map<string, SavedSet> {
  const sets = new Map<string, SavedSet>();
  for (const line of text.split('\n')) {
    if (line.startsWith('create ')) {
      const parts = line.split(' ');
      const name = parts[1] ?? '';
      if (!keep(name)) continue;
      const fi = parts.indexOf('family');
      const mi = parts.indexOf('maxelem');
      sets.set(name, {
        name,
        type: parts[2] ?? '',
        family: parts[fi + 1] === 'inet6' ? 'inet6' : 'inet',
        maxelem: mi > 0 ? Number(parts[mi + 1]) : 65536,
        entries: new Set(),
      });
    } else if (line.startsWith('add ')) {
      const sp = line.indexOf(' ', 4);
      const set = sets.get(line.slice(4, sp));
      if (set) set.entries.add(line.slice(sp + 1).trim());
    }
  }
  return sets;
}

/** Room to grow without a recreate; the kernel default is 65536. */
export function maxelemFor(count: number): number {
  let m = 65536;
  while (m < count * 2) m *= 2;
  return m;
}

function createLine(name: string, type: string, family: SetFamily, maxelem: number): string {
  return `create ${name} ${type} family ${family} hashsize 1024 maxelem ${maxelem}`;
}

export interface SetDiffStats {
  created: number;
  swapped: number;
  added: number;
  deleted: number;
}

/**
 * A set that does not exist yet: its `create` line to `createOut`, its `add` lines to `addOut` (the same
 * array, or another batch that may run later, e.g. beside a rule restore once the set exists). A separate
 * `addOut` starts with the create line again (a no-op under -exist): `ipset restore` batches adds only to
 * a set it created itself, and sends one netlink message per line otherwise (40,000 entries: 560 ms
 * against 370).
 */
export function createSet(
  createOut: string[],
  addOut: string[],
  spec: Pick<SetSpec, 'name' | 'type' | 'family'>,
  target: ReadonlySet<string>,
  stats: SetDiffStats,
): 'created' {
  const create = createLine(spec.name, spec.type, spec.family, maxelemFor(target.size));
  createOut.push(create);
  if (addOut !== createOut) addOut.push(create);
  for (const e of target) addOut.push(`add ${spec.name} ${e}`);
  stats.created++;
  stats.added += target.size;
  return 'created';
}

/**
 * Appends to `out` the lines that take set `name` from `current` entries (undefined: the set does not
 * exist) to `target`. Small changes are add/del lines; large ones fill `tmpName` and `swap` it in, so a
 * rule matching the set never sees it half-filled. Returns how the set was changed.
 */
export function setTransition(
  out: string[],
  spec: Pick<SetSpec, 'name' | 'type' | 'family'>,
  current: ReadonlySet<string> | undefined,
  currentMaxelem: number,
  target: ReadonlySet<string>,
  tmpName: string,
  stats: SetDiffStats,
): 'created' | 'swapped' | 'edited' | 'none' {
  const wantMax = maxelemFor(target.size);
  if (!current) return createSet(out, out, spec, target, stats);
  const adds: string[] = [];
  const dels: string[] = [];
  for (const e of target) if (!current.has(e)) adds.push(e);
  for (const e of current) if (!target.has(e)) dels.push(e);
  if (adds.length === 0 && dels.length === 0) return 'none';
  const big = adds.length + dels.length > 64 && adds.length + dels.length > target.size / 2;
  if (big || currentMaxelem < target.size) {
    // The batch runs with -exist, so a TMP set left by a crashed run is reused after a flush.
    out.push(createLine(tmpName, spec.type, spec.family, wantMax), `flush ${tmpName}`);
    for (const e of target) out.push(`add ${tmpName} ${e}`);
    out.push(`swap ${tmpName} ${spec.name}`, `destroy ${tmpName}`);
    stats.swapped++;
    stats.added += target.size;
    return 'swapped';
  }
  for (const e of adds) out.push(`add ${spec.name} ${e}`);
  for (const e of dels) out.push(`del ${spec.name} ${e}`);
  stats.added += adds.length;
  stats.deleted += dels.length;
  return 'edited';
}

/** Lines that turn `current` (undefined: missing) into `spec` in one step; see setTransition. */
export function setRestoreLines(
  out: string[],
  spec: SetSpec,
  current: SavedSet | undefined,
  tmpName: string,
  stats: SetDiffStats,
): 'created' | 'swapped' | 'edited' | 'none' {
  return setTransition(out, spec, current?.entries, current?.maxelem ?? 0, new Set(spec.entries), tmpName, stats);
}
