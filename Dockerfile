# syntax=docker/dockerfile:1
# One image for every dovewarden app; the command picks the app:
#   docker run dovewarden ingest | worker | scheduler | admin | all | dovecot-config ...
#
# Pinned to the Node LTS release the test suite runs on (.nvmrc; CI installs the same).
# For production, pin the digest too (docker buildx imagetools inspect node:26.12.1-trixie-slim)
# with --build-arg NODE_IMAGE=...
ARG NODE_IMAGE=node:26.12.1-trixie-slim
# The npm the lockfile was written with (package.json "packageManager"): an older npm may read
# a newer lockfile differently.
ARG NPM_VERSION=11.19.1
# The image of the two build stages; the runtime stage is always NODE_IMAGE. Where the build
# cannot reach the npm registry, scripts/docker-images.sh passes NODE_IMAGE plus an npm cache
# of every locked package (scripts/docker/build-base), and npm runs offline.
ARG BUILD_IMAGE=${NODE_IMAGE}

# ---- build: every workspace, with dev dependencies, compiled by turbo ----
FROM ${BUILD_IMAGE} AS build
ARG NPM_VERSION
RUN [ "$(npm --version)" = "${NPM_VERSION}" ] || npm install -g npm@${NPM_VERSION} --no-audit --no-fund
WORKDIR /src
COPY . .
# --ignore-scripts: nothing dovewarden needs builds natively; skips node-gyp toolchains.
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npx turbo run build --filter=@dovewarden/cli... --output-logs=errors-only
# npm ci in the next stage wants every workspace's package.json, even those it will not install.
RUN mkdir /manifests \
 && find . -name package.json -not -path '*/node_modules/*' -exec cp --parents {} /manifests/ \;

# ---- prod-deps: only what the cli and the workspaces it uses need at run time ----
FROM ${BUILD_IMAGE} AS prod-deps
ARG NPM_VERSION
RUN [ "$(npm --version)" = "${NPM_VERSION}" ] || npm install -g npm@${NPM_VERSION} --no-audit --no-fund
WORKDIR /app
COPY --from=build /manifests/ ./
COPY package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace=@dovewarden/cli \
 && npm cache clean --force

# ---- runtime: node, tini, the production node_modules and the compiled dist folders ----
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="dovewarden" \
      org.opencontainers.image.description="Replication controller for Dovecot 2.4: events in, doveadm sync out" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/dovewarden/dovewarden" \
      org.opencontainers.image.documentation="docs/deploy.md"

# tini as PID 1: forwards SIGTERM to node (which then lets running syncs finish within
# DOVEWARDEN_SHUTDOWN_TIMEOUT) and reaps zombies. redis-server for DOVEWARDEN_REDIS_MODE=inmemory
# (the default, as in the Go dovewarden): `all` then runs its own Redis, its files under /data.
# apt only when the base lacks them (the base scripts/docker-images.sh builds has both).
RUN if ! [ -x /usr/bin/tini ] || ! command -v redis-server >/dev/null; then \
      apt-get update \
      && apt-get install -y --no-install-recommends tini redis-server \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && groupadd --system --gid 10001 dovewarden \
 && useradd --system --uid 10001 --gid dovewarden --home-dir /data --shell /usr/sbin/nologin dovewarden \
 && mkdir -p /data \
 && chown dovewarden:dovewarden /data

WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=prod-deps /app/package.json ./
COPY --from=build /src/apps/admin/package.json apps/admin/
COPY --from=build /src/apps/admin/dist apps/admin/dist
COPY --from=build /src/apps/cli/package.json apps/cli/
COPY --from=build /src/apps/cli/dist apps/cli/dist
COPY --from=build /src/apps/ingest/package.json apps/ingest/
COPY --from=build /src/apps/ingest/dist apps/ingest/dist
COPY --from=build /src/apps/scheduler/package.json apps/scheduler/
COPY --from=build /src/apps/scheduler/dist apps/scheduler/dist
COPY --from=build /src/apps/worker/package.json apps/worker/
COPY --from=build /src/apps/worker/dist apps/worker/dist
COPY --from=build /src/packages/shared/package.json packages/shared/
COPY --from=build /src/packages/shared/dist packages/shared/dist
COPY --from=build /src/packages/doveadm-client/package.json packages/doveadm-client/
COPY --from=build /src/packages/doveadm-client/dist packages/doveadm-client/dist

# Read-only root filesystem: nothing is written outside /data (DOVEWARDEN_DATA_DIR, used only by
# `all` with the embedded Redis) and /tmp. Mount both as volumes (tmpfs is fine for /tmp) when
# the root filesystem is read-only. The split apps need DOVEWARDEN_REDIS_MODE=external (compose
# and the chart set it); the default is the Go dovewarden's, inmemory.
ENV NODE_ENV=production \
    DOVEWARDEN_DATA_DIR=/data
VOLUME ["/data", "/tmp"]

USER dovewarden:dovewarden
# 8080 events (ingest), 3000 Bull Board and admin API (admin), 9090 /metrics /healthz /readyz.
EXPOSE 8080 3000 9090

# Liveness of the process. The port follows DOVEWARDEN_METRICS_ADDR (":9090" by default).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const a=process.env.DOVEWARDEN_METRICS_ADDR||':9090';const p=a.slice(a.lastIndexOf(':')+1)||'9090';fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=8", "/app/apps/cli/dist/main.js"]
CMD ["all"]
