# syntax=docker/dockerfile:1
# CODITECT Billing: the production image. docs/deployment.md explains how to run it (migrations first, then
# the service; secrets from the environment or from <NAME>_FILE mounts, never baked into the image).
#
#   docker build -t coditect-billing:$(git rev-parse --short HEAD) .
#   docker run --rm --env-file prod.env coditect-billing:… node dist/scripts/db.js up     # migrations
#   docker run --rm --env-file prod.env coditect-billing:… node dist/scripts/stripe-sync.js # catalog, webhook endpoint
#   docker run -d -p 4000:4000 --env-file prod.env coditect-billing:…                     # the service

# Node 24 LTS is the production runtime (Node 20 reached its end of life in April 2026; .nvmrc says the same).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, TypeScript compiled to dist/ ---------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The emulator is an npm workspace: its manifest and command join the install so `stripe-emulator` resolves.
COPY emulator/package.json ./emulator/
COPY emulator/bin ./emulator/bin
# No install scripts: the build needs none (they install git hooks and check binaries). swc's native binary, which
# `web:build` uses, comes as an optional package and is installed all the same.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json mikro-orm.config.ts codegen.ts ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
COPY emulator/src ./emulator/src
COPY web ./web
# dist/: the service, the migration and Stripe commands (dist/scripts/db.js, dist/scripts/stripe-sync.js) and the
# emulator; dist/web: the billing page, served with BILLING_PAGE=on.
RUN npm run build && npm run web:build

# --- runtime dependencies only ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional leaves out the Stripe CLI binary and pg-cloudflare; --workspaces=false leaves out the emulator
# (a test tool) and what it needs; no production dependency needs a script.
RUN npm ci --omit=dev --omit=optional --workspaces=false --no-audit --no-fund --ignore-scripts && npm cache clean --force

# --- runtime -------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# The heap caps keep an instance under 256 MB of RSS (bench/README.md): the old generation at 256 MB, and the
# young generation's semi-spaces at 16 MB, which Node 24 would otherwise grow for no throughput (at 8 MB the usage
# paths cost 9-22 % more CPU in scavenges; bench/README.md, 2026-12-07 14:42). The collector's growing factor is
# set by the service itself (src/app/heap-tuning.ts): Node refuses that flag here.
ENV NODE_ENV=production \
    PORT=4000 \
    NODE_OPTIONS="--enable-source-maps --max-old-space-size=256 --max-semi-space-size=16"
WORKDIR /app
COPY --from=dependencies --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The service reads plans/plans.yaml relative to its working directory at start-up.
COPY --chown=root:root plans ./plans
# The code is root's and read-only to the service; it runs as the image's unprivileged `node` user (uid 1000).
USER node
EXPOSE 4000
# Readiness, not liveness: /readyz answers 503 while PostgreSQL (or Redis) is unreachable. Node's own fetch, as
# the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node as PID 1 receives SIGTERM directly and shuts down gracefully (SHUTDOWN_GRACE_MS); no npm in between.
CMD ["node", "dist/src/main.js"]
