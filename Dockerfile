# The kube-router-ts agent image: Debian bookworm, Node 20, and the kernel tools the agent drives.
#   docker build -t <registry>/kube-router-ts:<tag> .
# Checked without a Docker engine by src/deploy/image.test.ts (paths, packages, the manifests' commands).

# --- build: TypeScript to dist/, the production node_modules, and five small addons: BGP TCP-MD5, the
#     firewall's netfilter writer (libnftables/libipset, dlopened at run time), the IPVS netlink writer,
#     the posix_spawn process runner and the rtnetlink reader
#     (all need a C compiler, which the full node image has and the runtime image does not).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
    && cc -shared -fPIC -O2 -Wall -I/usr/local/include/node -DNODE_GYP_MODULE_NAME=bgp_sockopt \
          src/bgp/native/bgp_sockopt.c -o /src/bgp_sockopt.node \
    && cc -shared -fPIC -O2 -Wall -I/usr/local/include/node -DNODE_GYP_MODULE_NAME=nf_ctx \
          src/dataplane/netfilter/native/nf_ctx.c -o /src/nf_ctx.node -ldl \
    && cc -shared -fPIC -O2 -Wall -I/usr/local/include/node -DNODE_GYP_MODULE_NAME=ipvs_genl \
          src/dataplane/ipvs/native/ipvs_genl.c -o /src/ipvs_genl.node \
    && cc -shared -fPIC -O2 -Wall -I/usr/local/include/node -DNODE_GYP_MODULE_NAME=proc_spawn \
          src/dataplane/native/proc_spawn.c -o /src/proc_spawn.node \
    && cc -shared -fPIC -O2 -Wall -I/usr/local/include/node -DNODE_GYP_MODULE_NAME=rtnl_read \
          src/dataplane/native/rtnl_read.c -o /src/rtnl_read.node \
    && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

# --- runtime
FROM node:20-bookworm-slim

# iptables ships both backends (iptables-nft and iptables-legacy); the entrypoint picks the host's.
# containernetworking-plugins: bridge, host-local, loopback, portmap in /usr/lib/cni for the init container.
# nftables + libnftables1 and libipset13: what nf_ctx.node dlopens (libnftables.so.1, libipset.so.13) and the
# nft binary (--use-nftables-for-netpol's fallback, and the one that lists and removes its table).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       iptables ipset ipvsadm iproute2 conntrack kmod containernetworking-plugins ca-certificates \
       nftables libnftables1 libipset13 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kube-router-ts
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bgp_sockopt.node ./lib/bgp_sockopt.node
ENV KRT_BGP_ADDON=/opt/kube-router-ts/lib/bgp_sockopt.node
COPY --from=build /src/nf_ctx.node ./lib/nf_ctx.node
ENV KRT_NF_ADDON=/opt/kube-router-ts/lib/nf_ctx.node
COPY --from=build /src/ipvs_genl.node ./lib/ipvs_genl.node
ENV KRT_IPVS_ADDON=/opt/kube-router-ts/lib/ipvs_genl.node
COPY --from=build /src/proc_spawn.node ./lib/proc_spawn.node
ENV KRT_SPAWN_ADDON=/opt/kube-router-ts/lib/proc_spawn.node
COPY --from=build /src/rtnl_read.node ./lib/rtnl_read.node
ENV KRT_RTNL_ADDON=/opt/kube-router-ts/lib/rtnl_read.node
COPY deploy/image/entrypoint.sh /usr/local/bin/kube-router-entrypoint
COPY deploy/image/install-cni.sh /usr/local/bin/kube-router-install-cni
RUN chmod 0755 /usr/local/bin/kube-router-entrypoint /usr/local/bin/kube-router-install-cni \
    && ln -s /opt/kube-router-ts/dist/cli/main.js /usr/local/bin/kube-router

ENTRYPOINT ["/usr/local/bin/kube-router-entrypoint", "node", "/opt/kube-router-ts/dist/cli/main.js"]
