// Files under deploy/ that are derived, not written by hand, so they cannot drift from their sources:
//  - the variant manifests (firewall-only, proxy-only, advertise-routes), from deploy/all.yaml
//  - the Helm chart's values.yaml `flags:` block and files/flag-defaults.yaml, from the CLI's flag table
//  - the Grafana dashboard JSON, from the panel list in src/deploy/dashboard.ts
// `npm run deploy:generate` rewrites them; src/deploy/generate.test.ts fails when one is stale.
// The chart's templates are hand-written Go templates; they read flags generically (every key of .Values.flags
// whose value differs from flag-defaults.yaml becomes --name=value), so they need no list of flags.

import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMap, isSeq, parseAllDocuments, stringify, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { FLAGS } from '../cli/flags.js';
import type { FlagSpec } from '../cli/flag-spec.js';
import { splitList } from '../cli/values.js';
import { renderDashboard } from './dashboard.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CHART_DIR = 'deploy/chart/kube-router-ts';

// ---------------------------------------------------------------- variants of all.yaml

export interface Variant {
  readonly file: string;
  readonly header: string;
  /** Replaces the run-* flags and appends the rest. */
  readonly args: readonly string[];
  /** Drop the CNI parts (init container, CNI ConfigMap and mounts): another CNI owns pod networking. */
  readonly noCni: boolean;
}

export const VARIANTS: readonly Variant[] = [
  {
    file: 'deploy/firewall-only.yaml',
    header: `kube-router-ts as a NetworkPolicy firewall only, beside another CNI that does pod networking
(flannel, a cloud provider's CNI, ...). No CNI config, no routes, no BGP; kube-proxy stays.`,
    args: ['--run-router=false', '--run-firewall=true', '--run-service-proxy=false'],
    noCni: true,
  },
  {
    file: 'deploy/proxy-only.yaml',
    header: `kube-router-ts as the service proxy only (IPVS), replacing kube-proxy; pod networking and policy stay
with your CNI. Remove kube-proxy first (docs/deploy.md "Replacing kube-proxy"). The node kernel needs the
ip_vs modules and dummy links.`,
    args: ['--run-router=false', '--run-firewall=false', '--run-service-proxy=true'],
    noCni: true,
  },
  {
    file: 'deploy/advertise-routes.yaml',
    header: `kube-router-ts with pod networking and the firewall (as all.yaml), also peering with your
top-of-rack router(s) and advertising pod CIDRs and service IPs to them. EDIT the --peer-router-ips and
--peer-router-asns below (192.0.2.1 / 64513 are placeholders), and --cluster-asn for the nodes.`,
    args: [
      '--run-router=true',
      '--run-firewall=true',
      '--run-service-proxy=false',
      '--bgp-graceful-restart=true',
      '--cluster-asn=64512',
      '--peer-router-ips=192.0.2.1',
      '--peer-router-asns=64513',
      '--advertise-cluster-ip=true',
      '--advertise-external-ip=true',
      '--advertise-loadbalancer-ip=true',
    ],
    noCni: false,
  },
];

type Doc = Document.Parsed;

function kindOf(d: Doc): string {
  return String(d.get('kind'));
}

function removeNamed(seq: unknown, names: readonly string[]): void {
  if (!isSeq(seq)) return;
  const s = seq as YAMLSeq;
  s.items = s.items.filter((it) => !(isMap(it) && names.includes(String((it as YAMLMap).get('name')))));
}

export function renderVariant(allYaml: string, v: Variant): string {
  const docs = parseAllDocuments(allYaml) as Doc[];
  const kept = docs.filter((d) => !(v.noCni && kindOf(d) === 'ConfigMap' && d.getIn(['metadata', 'name']) === 'kube-router-cfg'));
  const ds = kept.find((d) => kindOf(d) === 'DaemonSet');
  if (!ds) throw new Error('all.yaml has no DaemonSet');
  const pod = ['spec', 'template', 'spec'];
  const container = [...pod, 'containers', 0];
  const oldArgs = (ds.getIn([...container, 'args']) as YAMLSeq).toJSON() as string[];
  const kubeconfigArg = oldArgs.filter((a) => a.startsWith('--kubeconfig='));
  ds.setIn([...container, 'args'], ds.createNode([...v.args, ...kubeconfigArg]));
  if (v.noCni) {
    ds.deleteIn([...pod, 'initContainers']);
    removeNamed(ds.getIn([...container, 'volumeMounts']), ['cni-conf-dir', 'cni-bin']);
    removeNamed(ds.getIn([...container, 'env']), ['KUBE_ROUTER_CNI_CONF_FILE']);
    removeNamed(ds.getIn([...pod, 'volumes']), ['cni-conf-dir', 'cni-bin', 'kube-router-cfg']);
  }
  const first = kept[0]!;
  // all.yaml's own header sits on its first key; the variant gets its own instead.
  const firstKey = isMap(first.contents) ? (first.contents.items[0]?.key as { commentBefore?: string | null } | undefined) : undefined;
  if (firstKey) firstKey.commentBefore = null;
  first.commentBefore =
    ` GENERATED from deploy/all.yaml by \`npm run deploy:generate\`: edit all.yaml or src/deploy/generate.ts.\n` +
    v.header
      .split('\n')
      .map((l) => ` ${l}`)
      .join('\n') +
    `\n EDIT \`server:\` in the kube-router-kubeconfig ConfigMap and the image, then kubectl apply -f ${v.file}`;
  return kept.map((d) => d.toString({ lineWidth: 0 })).join('');
}

// ---------------------------------------------------------------- chart values from the flag table

/** Flags that are actions, or make no sense in a DaemonSet (--cleanup-config exits, the pod would crash-loop). */
export const CHART_EXCLUDED_FLAGS: ReadonlySet<string> = new Set(['help', 'version', 'cleanup-config']);

/** Where the chart's defaults differ from the CLI's: what all.yaml runs. */
export const CHART_FLAG_OVERRIDES: Readonly<Record<string, string>> = {
  'run-service-proxy': 'false',
  'bgp-graceful-restart': 'true',
  kubeconfig: '/var/lib/kube-router/kubeconfig',
};

const LIST_TYPES = new Set(['cidr-list', 'ip-list', 'string-list', 'int-list']);
const NUMBER_TYPES = new Set(['int', 'port']);

/** A flag's command-line text as a YAML value: lists as sequences, numbers and bools typed, the rest strings. */
export function flagValue(spec: FlagSpec, text: string): unknown {
  if (LIST_TYPES.has(spec.type)) {
    const items = splitList(text);
    return spec.type === 'int-list' ? items.map(Number) : items;
  }
  if (spec.type === 'bool') return text === 'true';
  if (NUMBER_TYPES.has(spec.type)) return Number(text);
  return text;
}

export function chartFlags(): FlagSpec[] {
  return (FLAGS as readonly FlagSpec[]).filter((f) => !f.action && !CHART_EXCLUDED_FLAGS.has(f.name));
}

/** files/flag-defaults.yaml: each flag's CLI default, as the template compares it (lists joined by commas). */
export function renderFlagDefaults(): string {
  const lines = ['# GENERATED by `npm run deploy:generate` from src/cli/flags.ts: the agent\'s own default of each flag.'];
  lines.push('# The chart passes --name=value only for values that differ from these.');
  for (const f of chartFlags()) lines.push(`${f.name}: ${JSON.stringify(f.default)}`);
  return lines.join('\n') + '\n';
}

const VALUES_MARK = '# ---- GENERATED BELOW by `npm run deploy:generate` from src/cli/flags.ts: do not edit by hand ----';

/** values.yaml = the hand-written head (everything above the mark) + the generated flags block. */
export function renderValues(currentValues: string): string {
  const at = currentValues.indexOf(VALUES_MARK);
  const head = (at >= 0 ? currentValues.slice(0, at) : currentValues).trimEnd();
  const out = [head, '', VALUES_MARK, '# Every agent flag (kube-router --help), at the default this chart runs with.', 'flags:'];
  let group = '';
  for (const f of chartFlags()) {
    if (f.group !== group) {
      group = f.group;
      out.push(`  # ${group}`);
    }
    const text = CHART_FLAG_OVERRIDES[f.name] ?? f.default;
    const help = f.help + (f.implemented === false ? ' (not implemented yet)' : typeof f.implemented === 'string' ? ` (partly: ${f.implemented})` : '');
    out.push(`  # ${help}`);
    const value = stringify(flagValue(f, text), { flowCollectionPadding: false, collectionStyle: 'flow' }).trimEnd();
    out.push(`  ${f.name}: ${value}`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- all generated files

export function generatedFiles(root = ROOT): Map<string, string> {
  const all = readFileSync(join(root, 'deploy/all.yaml'), 'utf8');
  const files = new Map<string, string>();
  for (const v of VARIANTS) files.set(v.file, renderVariant(all, v));
  files.set(`${CHART_DIR}/files/flag-defaults.yaml`, renderFlagDefaults());
  files.set('deploy/grafana/kube-router-ts.json', renderDashboard());
  files.set(`${CHART_DIR}/values.yaml`, renderValues(readFileSync(join(root, `${CHART_DIR}/values.yaml`), 'utf8')));
  return files;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  for (const [file, text] of generatedFiles()) {
    writeFileSync(join(ROOT, file), text);
    console.log(`wrote ${file}`);
  }
}
