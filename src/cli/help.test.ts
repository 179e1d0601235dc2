import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLAG_GROUPS, type FlagSpec } from './flag-spec.js';
import { FLAGS } from './flags.js';
import { renderFlagDocs, renderHelp, renderReadmeFlags } from './help.js';

const TABLE: readonly FlagSpec[] = FLAGS;
const ROOT = new URL('../../', import.meta.url);

/** The lines of --help under each "Group:" heading. */
function helpSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const heading = /^([A-Z][^:]*):$/.exec(line);
    if (heading && (FLAG_GROUPS as readonly string[]).includes(heading[1]!)) {
      current = heading[1]!;
      out.set(current, '');
    } else if (current) {
      out.set(current, `${out.get(current)}${line}\n`);
    }
  }
  return out;
}

describe('--help', () => {
  const help = renderHelp();
  const sections = helpSections(help);

  it('has every group, in order', () => {
    expect([...sections.keys()]).toEqual([...FLAG_GROUPS]);
  });

  it.each(TABLE.map((f) => [f.name, f.group] as const))('lists --%s under %s', (name, group) => {
    expect(sections.get(group)).toMatch(new RegExp(`--${name}(\\s|$)`, 'm'));
    for (const [other, body] of sections) if (other !== group) expect(body).not.toMatch(new RegExp(`--${name}\\s`));
  });

  it('shows defaults and marks unimplemented flags', () => {
    // One entry = the line naming the flag plus its indented continuation lines.
    const line = (name: string) => {
      const lines = sections.get(TABLE.find((f) => f.name === name)!.group)!.split('\n');
      const i = lines.findIndex((l) => new RegExp(`^ {2,6}(-., )?--${name}\\s`).test(l));
      let j = i + 1;
      while (j < lines.length && /^ {7,}\S/.test(lines[j]!)) j++;
      return lines.slice(i, j).join(' ').replace(/\s+/g, ' ');
    };
    expect(line('iptables-sync-period')).toContain('(default 5m)');
    expect(line('health-port')).toContain('(default 20244)');
    expect(line('service-cluster-ip-range')).toContain('(default 10.96.0.0/12)');
    expect(line('enable-bfd')).toContain('(not implemented yet)');
    expect(line('runtime-endpoint')).toContain('(not implemented yet)');
    expect(line('ipvs-sync-period')).not.toContain('implemented');
    expect(line('iptables-sync-period')).not.toContain('not implemented');
    expect(help).toContain('-v, --v int');
    expect(help).toContain('-V, --version');
    expect(help).toContain('-h, --help');
  });
});

describe('generated docs cannot drift', () => {
  it('docs/flags.md is the output of `kube-router docs-flags`', () => {
    const onDisk = readFileSync(new URL('docs/flags.md', ROOT), 'utf8');
    expect(onDisk, 'docs/flags.md is stale: run `node --import tsx src/cli/main.ts docs-flags > docs/flags.md`').toBe(renderFlagDocs());
  });

  it('the README flag section (between the markers) is generated too', () => {
    let readme: string;
    try {
      readme = readFileSync(new URL('README.md', ROOT), 'utf8');
    } catch {
      return; // no README in this tree
    }
    const start = readme.indexOf('<!-- flags:start -->');
    const end = readme.indexOf('<!-- flags:end -->');
    if (start < 0 && end < 0) return;
    expect(start, 'both markers must be present').toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const section = readme.slice(start + '<!-- flags:start -->\n'.length, end);
    expect(section, 'README flag section is stale: paste `kube-router docs-flags --readme` between the markers').toBe(
      renderReadmeFlags(),
    );
  });

  it('documents every flag with its default', () => {
    const docs = renderFlagDocs();
    for (const f of TABLE) expect(docs).toContain(`\`--${f.name}\``);
    expect(docs).toContain('| `--bgp-holdtime` | duration 3s..18h12m16s | `90s` |');
  });
});
