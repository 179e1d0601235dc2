// Bundles the agent's CLI into dist/cli/kube-router.mjs, beside dist/cli/main.js (so paths taken relative
// to the module, such as ../../package.json, resolve the same). Why: loading @kubernetes/client-node opens
// ~1,000 files, which costs ~7 s inside the lab's user-mode Linux kernel (every file operation crosses
// hostfs); the bundle is a handful of files and loads in ~1-2 s there. The lab starts its agents from it;
// `kube-router` (dist/cli/main.js) stays the unbundled build.
// The lab's supervisor (src/lab/main.ts) is bundled the same way, into dist/lab/kube-router-lab.mjs beside
// the compiled lab (pod-agent.js is found as its sibling): inside user-mode Linux it starts in ~2 s instead
// of ~5 s from dist/lab/main.js (and ~16 s through tsx, which is what the tests ran from sources).
//
// The supervisor's bundle is split: what it reaches only through a dynamic import() (the conformance runner,
// and through it explain, the agent and the Kubernetes client) goes into chunk files beside the entry, loaded
// when first imported. Node parses every byte of a module it loads, and inside UML that parse is paid in
// page faults (~5 pages touched per KB of source): as one 3.5 MB file the supervisor parsed ~3 MB it never
// ran (host figures: 6,900 page faults to `--help`, 3,450 split). The agent's bundle stays one file: it
// needs nearly all of it (the client is ~2.4 MB), and split in 23 chunks it faulted ~8% more pages.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

// The agent imports client-node's KubeConfig, ListWatch and Watch by their own modules (src/watch/), not the
// package index, which evaluates ~60 generated API classes and ~800 model classes (~2 MB of the bundle).
// Two imports inside those modules still reach the generated code for one small thing each; this plugin
// points them at just that thing, so the bundle leaves the rest out:
// - config.js takes createConfiguration and ServerConfiguration from gen/index.js (the whole generated
//   client): from gen/configuration.js and gen/servers.js instead (the same modules);
// - cache.js (ListWatch) takes ObjectSerializer (which registers every model) only to serialize its label
//   and field selectors as 'string', which ObjectSerializer returns unchanged: a serializer that does that.
// The unbundled build (dist/cli/main.js) loads the modules as they are.
const clientNodeSlim = {
  name: 'client-node-slim',
  setup(b) {
    const from = (importer, file) => /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]/.test(importer) && importer.endsWith(file);
    b.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (a) => (from(a.importer, 'config.js') ? { path: join(a.resolveDir, 'gen'), namespace: 'krt-gen-slim' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'krt-gen-slim' }, (a) => ({
      contents: "export { createConfiguration } from './configuration.js';\nexport { ServerConfiguration } from './servers.js';\n",
      resolveDir: a.path,
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/serializer\.js$/ }, (a) => (from(a.importer, 'cache.js') ? { path: 'serializer', namespace: 'krt-serializer-slim' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'krt-serializer-slim' }, () => ({
      contents: 'export const ObjectSerializer = { serialize: (data, type) => { if (data == null || type === "string") return data; throw new Error("client-node-slim: cannot serialize " + type); } };\n',
      loader: 'js',
    }));
  },
};

for (const [entry, outfile, splitting] of [
  ['src/cli/main.ts', 'dist/cli/kube-router.mjs', false],
  ['src/lab/main.ts', 'dist/lab/kube-router-lab.mjs', true],
]) {
  const dir = dirname(outfile);
  const name = basename(outfile, '.mjs');
  // Chunks sit beside the entry (same depth, so import.meta.url-relative paths hold in every chunk) and are
  // named after it; the previous build's are removed first (their names carry content hashes).
  const chunk = new RegExp(`^${name}-chunk-[A-Z0-9]+\\.mjs$`);
  for (const f of readdirSync(dir, { withFileTypes: true })) if (f.isFile() && chunk.test(f.name)) rmSync(join(dir, f.name));
  const result = await build({
    entryPoints: { [name]: entry },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    splitting,
    chunkNames: `${name}-chunk-[hash]`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Whitespace and syntax only (names stay, so stack traces still read): half the bytes, and inside UML
    // the agent's bundle loads in ~1.0 s instead of ~2.8 s (7.2 MB -> 3.5 MB).
    minifyWhitespace: true,
    minifySyntax: true,
    // CommonJS dependencies call require(); give every ESM output file one.
    banner: { js: "import { createRequire as __krtRequire } from 'node:module'; const require = __krtRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning',
    plugins: [clientNodeSlim],
  });
  // A dynamic import the bundler could not follow (a computed specifier) would be resolved at run time
  // against the bundle's dir and fail there: refuse to ship such a bundle. Imports of our own chunks are fine.
  for (const file of Object.keys(result.metafile.outputs)) {
    const loose = (readFileSync(file, 'utf8').match(/\bimport\((?!["'`]node:)[^)]{0,60}\)/g) ?? []).filter(
      (s) => !new RegExp(`^import\\(["']\\./${name}-chunk-[A-Z0-9]+\\.mjs["']\\)$`).test(s),
    );
    if (loose.length) {
      console.error(`bundle ${file}: dynamic imports left unresolved (use a literal specifier): ${loose.join(', ')}`);
      process.exit(1);
    }
  }
}
