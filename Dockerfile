# The agent image: Node 20 on Debian 12 with the kernel tools it drives.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      iproute2 iptables ipset conntrack ipvsadm kmod containernetworking-plugins \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kube-router-ts
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY dist ./dist
ENTRYPOINT ["node", "/opt/kube-router-ts/dist/cli/main.js"]
