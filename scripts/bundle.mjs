// Bundles the agent's CLI into one file, dist/cli/kube-router.mjs, beside dist/cli/main.js (so paths
// taken relative to the module, such as ../../package.json, resolve the same). Why: loading
// @kubernetes/client-node opens ~1,000 files, which costs ~7 s inside the lab's user-mode Linux kernel
// (every file operation crosses hostfs); the bundle is one file and loads in ~2 s there. The lab starts
// its agents from it; `kube-router` (dist/cli/main.js) stays the unbundled build.
// The lab's supervisor (src/lab/main.ts) is bundled the same way, into dist/lab/kube-router-lab.mjs beside
// the compiled lab (pod-agent.js is found as its sibling): inside user-mode Linux it starts in ~2 s instead
// of ~5 s from dist/lab/main.js (and ~16 s through tsx, which is what the tests ran from sources).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

for (const [entry, outfile] of [
  ['src/cli/main.ts', 'dist/cli/kube-router.mjs'],
  ['src/lab/main.ts', 'dist/lab/kube-router-lab.mjs'],
]) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Whitespace and syntax only (names stay, so stack traces still read): half the bytes, and inside UML
    // the agent's bundle loads in ~1.0 s instead of ~2.8 s (7.2 MB -> 3.5 MB).
    minifyWhitespace: true,
    minifySyntax: true,
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __krtRequire } from 'node:module'; const require = __krtRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // A dynamic import the bundler could not follow (a computed specifier) would be resolved at run time
  // against the bundle's dir and fail there: refuse to ship such a bundle.
  const loose = readFileSync(outfile, 'utf8').match(/\bimport\((?!["'`]node:)[^)]{0,60}\)/g) ?? [];
  if (loose.length) {
    console.error(`bundle ${outfile}: dynamic imports left unresolved (use a literal specifier): ${loose.join(', ')}`);
    process.exit(1);
  }
}
