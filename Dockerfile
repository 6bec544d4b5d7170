# syntax=docker/dockerfile:1
# Passerelle images: one file, three targets (README, "Images"; deploy/ uses them).
#   passerelle           native mode: the controller's own proxy serves the traffic (the default target)
#   passerelle-haproxy   the controller + HAProxy from Debian in one image: [proxy] mode = "haproxy",
#                        reload = "bundled" (the controller runs HAProxy as its child process)
#   passerelle-sidecar   the controller of the sidecar pair (deploy/overlays/haproxy-sidecar,
#                        nginx-sidecar): the haproxy and nginx binaries are here only to validate a
#                        rendered file (haproxy -c, nginx -t) before it is swapped in; the stock
#                        proxy image beside it serves
# Every target: Node 24 runs the TypeScript sources (type stripping, no build step), tini is PID 1
# (signals forwarded, zombies reaped), the user is 65532:65532 as in deploy/base/deployment.yaml, and
# the only place written is /work ([proxy] workDir; an emptyDir in the manifests), so the root
# filesystem can be read-only.
#   docker build --target passerelle -t passerelle:latest .

ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only (no install scripts: nothing here needs one).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# bind9-dnsutils: nsupdate, which the RFC 2136 DNS-01 provider runs.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini bind9-dnsutils \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 passerelle \
 && useradd --system --uid 65532 --gid 65532 --home-dir /work --no-create-home --shell /usr/sbin/nologin passerelle \
 && mkdir -p /work /etc/passerelle \
 && chown 65532:65532 /work
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY templates ./templates
# V8's heap sized for a 512 MiB limit (deploy/base/deployment.yaml explains the numbers).
# TINI_SUBREAPER: with shareProcessNamespace (nginx-sidecar) the pause process is PID 1, not tini.
ENV NODE_ENV=production \
    TINI_SUBREAPER=1 \
    NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=16"
# http, https (unprivileged: the Service maps 80 and 443), and [web] (probes, API, /metrics, dashboard).
EXPOSE 8000 8443 8080
VOLUME ["/work"]
# /healthz of the [web] server on :8080 (web.enabled = true or --web); Kubernetes uses its own probes.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
USER 65532:65532
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/passerelle.js"]
CMD ["run", "--configfile=/etc/passerelle/passerelle.toml", "--web"]

# Controller + HAProxy (Debian bookworm's 2.6) in one container, bundled mode.
FROM runtime AS passerelle-haproxy
USER root
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532

# The controller of the sidecar pair: validation binaries only (nginx without dynamic modules, as
# the stock nginx image has none of Debian's: the rendered file loads none it cannot find here).
FROM runtime AS passerelle-sidecar
USER root
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy nginx \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532

# The native image, last so that a plain `docker build .` builds it.
FROM runtime AS passerelle
