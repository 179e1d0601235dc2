#!/bin/sh
# Init container: give the kubelet what kube-router-ts's pod networking needs, without overwriting
# anything the node already has.
#  - the CNI plugins bridge, host-local, loopback and portmap into $CNI_BIN_DIR, each only when missing
#    (a plugin the node already ships, maybe newer, is left alone); copied to a temporary name and renamed,
#    so the kubelet never executes a half-written binary
#  - the conflist $CNI_CONF_SOURCE to $KUBE_ROUTER_CNI_CONF_FILE, only when that file is absent (the agent
#    owns it afterwards and fills in the pod CIDRs)
set -eu

CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_PLUGIN_SOURCE=${CNI_PLUGIN_SOURCE:-/usr/lib/cni}
CNI_CONF_SOURCE=${CNI_CONF_SOURCE:-/etc/kube-router/cni-conf.json}
KUBE_ROUTER_CNI_CONF_FILE=${KUBE_ROUTER_CNI_CONF_FILE:-/host/etc/cni/net.d/10-kuberouter.conflist}
PLUGINS=${CNI_PLUGINS:-bridge host-local loopback portmap}

log() { echo "install-cni: $*" >&2; }

mkdir -p "$CNI_BIN_DIR"
for p in $PLUGINS; do
  if [ -e "$CNI_BIN_DIR/$p" ]; then
    log "$CNI_BIN_DIR/$p present, kept"
    continue
  fi
  if [ ! -x "$CNI_PLUGIN_SOURCE/$p" ]; then
    log "plugin $p missing from the image ($CNI_PLUGIN_SOURCE)"
    exit 1
  fi
  cp "$CNI_PLUGIN_SOURCE/$p" "$CNI_BIN_DIR/.$p.tmp"
  chmod 0755 "$CNI_BIN_DIR/.$p.tmp"
  mv -f "$CNI_BIN_DIR/.$p.tmp" "$CNI_BIN_DIR/$p"
  log "installed $CNI_BIN_DIR/$p"
done

if [ -e "$KUBE_ROUTER_CNI_CONF_FILE" ]; then
  log "$KUBE_ROUTER_CNI_CONF_FILE present, kept"
else
  [ -r "$CNI_CONF_SOURCE" ] || { log "no CNI config to install at $CNI_CONF_SOURCE"; exit 1; }
  dir=$(dirname "$KUBE_ROUTER_CNI_CONF_FILE")
  mkdir -p "$dir"
  cp "$CNI_CONF_SOURCE" "$dir/.10-kuberouter.tmp"
  mv -f "$dir/.10-kuberouter.tmp" "$KUBE_ROUTER_CNI_CONF_FILE"
  log "installed $KUBE_ROUTER_CNI_CONF_FILE"
fi
