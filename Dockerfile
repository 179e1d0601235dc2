# The kube-router-ts agent image: Debian bookworm, Node 20, and the kernel tools the agent drives.
# Build from a checkout with dist/ built (./scripts/setup.sh or `npm ci && npm run build`):
#   docker build -t <registry>/kube-router-ts:<tag> .
FROM node:20-bookworm-slim

# iptables ships both backends (iptables-nft and iptables-legacy); the entrypoint picks the host's.
# containernetworking-plugins: bridge, host-local, loopback, portmap in /usr/lib/cni for the init container.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       iptables ipset ipvsadm iproute2 conntrack kmod containernetworking-plugins ca-certificates \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kube-router-ts
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY dist ./dist
COPY deploy/image/entrypoint.sh /usr/local/bin/kube-router-entrypoint
COPY deploy/image/install-cni.sh /usr/local/bin/kube-router-install-cni
RUN chmod 0755 /usr/local/bin/kube-router-entrypoint /usr/local/bin/kube-router-install-cni \
    && ln -s /opt/kube-router-ts/dist/cli/main.js /usr/local/bin/kube-router

ENTRYPOINT ["/usr/local/bin/kube-router-entrypoint", "node", "/opt/kube-router-ts/dist/cli/main.js"]
