// Parses `iptables-save -t <table>` output into chains and their rule lines (the `-A CHAIN` prefix
// stripped), as restore files write them, so desired and current rules compare as plain strings.

export interface SavedChain {
  readonly name: string;
  /** ACCEPT/DROP for built-in chains, '-' for user chains. */
  readonly policy: string;
  readonly rules: string[];
}

export interface SavedTable {
  readonly name: string;
  readonly chains: Map<string, SavedChain>;
}

export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let table: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = { name: line.slice(1), chains: new Map() };
      tables.set(table.name, table);
    } else if (line === 'COMMIT') {
      table = undefined;
    } else if (table && line.startsWith(':')) {
      const [name = '', policy = '-'] = line.slice(1).split(' ');
      table.chains.set(name, { name, policy, rules: [] });
    } else if (table && line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const spec = sp < 0 ? '' : rest.slice(sp + 1);
      let c = table.chains.get(chain);
      if (!c) {
        c = { name: chain, policy: '-', rules: [] };
        table.chains.set(chain, c);
      }
      c.rules.push(spec);
    }
  }
  return tables;
}
