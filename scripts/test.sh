#!/usr/bin/env bash
# The whole test suite from nothing: installs what is needed, builds, then runs every test (unit,
# real-kernel integration in network namespaces, BGP interop, lab end to end, conformance cases).
#   ./scripts/test.sh            what CI runs (under 10 minutes on 2 cores)
#   ./scripts/test.sh --full     also the long user-mode Linux cases of the service proxy (~3 min more)
#   ./scripts/test.sh PATH...    only those files (vitest filters)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--full" ]; then
  export KRT_UML_FULL=1
  shift
fi
bash scripts/setup.sh
npm run --silent typecheck

# Two vitest processes side by side (see vitest.config.ts): the user-mode Linux files, one at a time, in
# the background with their report printed at the end; the unit and kernel projects in the foreground.
uml_log=$(mktemp /tmp/krt-uml-tests.XXXXXX)
trap 'rm -f "$uml_log"' EXIT
npx vitest run --project uml --passWithNoTests "$@" >"$uml_log" 2>&1 &
uml_pid=$!
set +e
npx vitest run --project unit --project kernel --passWithNoTests "$@"
main_rc=$?
wait "$uml_pid"
uml_rc=$?
set -e
echo
echo "=== user-mode Linux tests (ran beside the above) ==="
cat "$uml_log"
if [ "$main_rc" -ne 0 ] || [ "$uml_rc" -ne 0 ]; then
  echo "test.sh: FAILED (unit+kernel exit $main_rc, uml exit $uml_rc)" >&2
  exit 1
fi
echo "test.sh: all passed"
