#!/usr/bin/env bash
# The whole test suite from nothing: installs what is needed, builds, then runs every test (unit,
# real-kernel integration in network namespaces, BGP interop, lab end to end, conformance cases).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent typecheck
exec npx vitest run "$@"
