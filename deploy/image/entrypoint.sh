#!/bin/sh
# Container entrypoint: point `iptables`/`ip6tables` at the backend the host already uses, then run the
# agent. The agent asks `iptables -V` which backend to drive; inside the image both are installed, so the
# answer must come from the host's rules, not from the image's default.
#
# Choice, first match wins:
#   1. KUBE_ROUTER_IPTABLES_MODE=legacy|nft (an operator's override)
#   2. the kubelet's canary chains (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) in one backend's mangle table
#   3. the backend holding more rules (iptables-save of both, IPv4 and IPv6)
#   4. nft (Debian bookworm's default)
#
# Everything it runs is looked up in PATH, and ALTERNATIVES may name another command, so tests can run
# it with stand-ins (src/deploy/entrypoint.test.ts).
set -eu

ALTERNATIVES=${ALTERNATIVES:-update-alternatives}
SBIN=${IPTABLES_SBIN:-/usr/sbin}

log() { echo "kube-router-ts entrypoint: $*" >&2; }

count_rules() { # backend -> number of "-A" lines over both families
  n=0
  for fam in iptables ip6tables; do
    c=$("$fam-$1-save" 2>/dev/null | grep -c '^-A' || true)
    n=$((n + ${c:-0}))
  done
  echo "$n"
}

has_hint() { # backend -> success if the kubelet left its canary chains there
  "iptables-$1-save" -t mangle 2>/dev/null | grep -Eq '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) '
}

choose() {
  case "${KUBE_ROUTER_IPTABLES_MODE:-}" in
    legacy | nft)
      echo "$KUBE_ROUTER_IPTABLES_MODE forced by KUBE_ROUTER_IPTABLES_MODE"
      return
      ;;
    '' | auto) ;;
    *)
      log "KUBE_ROUTER_IPTABLES_MODE=$KUBE_ROUTER_IPTABLES_MODE: expected legacy, nft or auto"
      exit 2
      ;;
  esac
  if has_hint nft; then echo "nft: the kubelet's canary chains are in nf_tables"; return; fi
  if has_hint legacy; then echo "legacy: the kubelet's canary chains are in legacy iptables"; return; fi
  nft=$(count_rules nft)
  legacy=$(count_rules legacy)
  if [ "$legacy" -gt "$nft" ]; then
    echo "legacy: it holds $legacy rules, nft holds $nft"
  elif [ "$nft" -gt 0 ]; then
    echo "nft: it holds $nft rules, legacy holds $legacy"
  else
    echo "nft: no rules in either backend; the image's default"
  fi
}

choice=$(choose)
mode=${choice%%:*}
mode=${mode%% *}
log "iptables backend $choice"
for fam in iptables ip6tables; do
  "$ALTERNATIVES" --set "$fam" "$SBIN/$fam-$mode" >/dev/null
done

[ "$#" -gt 0 ] || set -- node /opt/kube-router-ts/dist/cli/main.js
exec "$@"
