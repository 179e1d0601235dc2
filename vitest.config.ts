import { defineConfig } from 'vitest/config';

// Three projects, told apart by file name (CONTRIBUTING.md):
// - unit     `src/**/x.test.ts`: no root, no kernel, no daemons; `npm test` runs only these.
// - kernel   `src/**/x.kernel.test.ts` and `test/**`: real network namespaces, iptables/ipset, BGP daemons,
//            labs on the host kernel, real kubectl. Two files at a time (the core count).
// - uml      `test/**/x.uml.test.ts`: boots a user-mode Linux kernel (one core's worth of work, ~100x per
//            syscall). One file at a time, never two kernels beside each other. A plain `vitest run` runs
//            them after the other projects; scripts/test.sh runs them in a second vitest process beside the
//            unit and kernel projects, whose time is mostly waiting (BGP timers, probes), so the suite
//            takes the longer of the two rather than their sum. `./scripts/test.sh --full` adds the long
//            UML cases.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          exclude: ['src/**/*.kernel.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'kernel',
          include: ['src/**/*.kernel.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/**/*.uml.test.ts'],
          // Real kernel work: each test states its own budget where it needs more.
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'uml',
          include: ['test/**/*.uml.test.ts'],
          sequence: { groupOrder: 1 },
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
