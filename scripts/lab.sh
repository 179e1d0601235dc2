#!/usr/bin/env bash
# The main job on one machine: installs what is needed, builds, and brings up a local multi-node
# kube-router-ts lab. Extra arguments go to `kube-router lab up` (e.g. --nodes 4, --tor, -- AGENT-FLAGS).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/cli/main.js lab up "$@"
