// Bundles the agent's CLI into one file, dist/cli/kube-router.mjs, beside dist/cli/main.js (so paths
// taken relative to the module, such as ../../package.json, resolve the same). Why: loading
// @kubernetes/client-node opens ~1,000 files, which costs ~7 s inside the lab's user-mode Linux kernel
// (every file operation crosses hostfs); the bundle is one file and loads in ~2 s there. The lab starts
// its agents from it; `kube-router` (dist/cli/main.js) stays the unbundled build.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli/kube-router.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __krtRequire } from 'node:module'; const require = __krtRequire(import.meta.url);" },
  logLevel: 'warning',
});

// A dynamic import the bundler could not follow (a computed specifier) would be resolved at run time
// against dist/cli/ and fail there: refuse to ship such a bundle.
const { readFileSync } = await import('node:fs');
const loose = readFileSync('dist/cli/kube-router.mjs', 'utf8').match(/\bimport\((?!["'`]node:)[^)]{0,60}\)/g) ?? [];
if (loose.length) {
  console.error(`bundle: dynamic imports left unresolved (use a literal specifier): ${loose.join(', ')}`);
  process.exit(1);
}
