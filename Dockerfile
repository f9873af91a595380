# baton-datadog container image.
#
# A build stage compiles the TypeScript (`npm run build`, the same build as the npm package) and the image
# ships what runs: package.json, bin/ (the version-checking launcher), the compiled modules in dist/ that the
# launcher's entry module can load (scripts/image-prune.ts deletes the rest: declarations, source maps, library-only
# entry points, the second connector), and the production node_modules. No sources, no tests, no simulator test
# support.
#
# Two targets from the same files:
#   runtime (the default, last stage): one-shot syncs, `serve`, service mode; writable /var/lib/baton, HEALTHCHECK.
#   lambda: an AWS Lambda container-image function; CMD `lambda` (the hosted runtime as a Lambda Runtime API
#           client), TMPDIR and HOME on /tmp, the only writable place Lambda gives a function.
#
# The base image is pinned by exact version (the same Node version as the `node` devDependency developers
# test on) AND by digest. To move to a newer Node 24 release, change the tag in all FROM lines and the
# digest next to it; read the digest with
#   docker buildx imagetools inspect node:<version>-trixie-slim --format '{{json .Manifest.Digest}}'
# (or `crane digest node:<version>-trixie-slim`): the digest of the multi-platform index, so that amd64 and
# arm64 builds both resolve through it. test/deploy/image.test.ts checks the pin's form. The digest below was
# read from public references, not pulled (no registry access where this was written): the first build
# verifies it, and a wrong one fails the build rather than running something else.
#
# Build:  docker build -t baton-datadog:0.1.0 --build-arg VERSION=0.1.0 --build-arg SOURCE_URL=<repo URL> .
#         docker build --target lambda --provenance=false -t baton-datadog-lambda:0.1.0 .   (Lambda takes one
#         image manifest, not the index buildx makes with provenance attestations)
# podman/buildah: add --format docker, or the OCI format they default to drops the HEALTHCHECK.

# --- build: compile the TypeScript --------------------------------------------------------------------------
FROM node:24.21.0-trixie-slim@sha256:8ec5d7557396cfe32d21c3f9c13072355ceab22b584578ca4bb28af31120cffe AS build
WORKDIR /app
COPY package.json package-lock.json ./
# All dependencies (typescript is a dev one). --ignore-scripts leaves the `node` devDependency without its
# binary: its shim is removed so that `npm run build` finds the image's own Node.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
# The CLI bundle (issue 14: start-up) is the last step of the build.
COPY scripts/bundle-cli.ts ./scripts/bundle-cli.ts
COPY scripts/image-prune.ts ./scripts/image-prune.ts
# Only what runs: the modules the launcher's entry can load (static imports and literal dynamic imports, the
# lazily loaded commands included), the entry being the first of these the build made, in the launcher's order
# (bin/baton-datadog.js: the bundle, else the compiled main). Declarations, source maps and library-only entry
# points stay in the npm package. The prune fails the build, deleting nothing, on an import it cannot follow.
# test/deploy/image-files.test.ts runs this stage on a copy of the build context and checks what it leaves
# against the modules the launcher loads.
RUN npm run build \
 && node scripts/image-prune.ts --dir dist --first-existing dist/cli/baton-datadog.mjs dist/connectors/datadog/main.js

# --- deps: production dependencies only --------------------------------------------------------------------
FROM node:24.21.0-trixie-slim@sha256:8ec5d7557396cfe32d21c3f9c13072355ceab22b584578ca4bb28af31120cffe AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out vitest, typescript, buf and the `node` package (the image has its own Node).
# --ignore-scripts is safe: the only production install script is protobufjs' version-scheme warning.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- app: what both targets share -------------------------------------------------------------------------
FROM node:24.21.0-trixie-slim@sha256:8ec5d7557396cfe32d21c3f9c13072355ceab22b584578ca4bb28af31120cffe AS app

ARG VERSION=0.1.0
ARG SOURCE_URL=https://example.invalid/set-SOURCE_URL-at-build-time
LABEL org.opencontainers.image.title="baton-datadog" \
      org.opencontainers.image.description="Baton-compatible ConductorOne connector for Datadog (users, roles, teams, on-call schedules, keys)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:24.21.0-trixie-slim"

# The image runs one program and installs nothing at run time: drop the package managers (npm, npx, corepack,
# yarn) so they are neither attack surface nor scanner noise. Then make the one writable directory: owned by
# the image's user, group 0 with the owner's permissions, so it also works under an arbitrary UID whose group
# is 0 (OpenShift's restricted policy): mode 0770 is g=u.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && mkdir -p /var/lib/baton \
 && chown 65532:0 /var/lib/baton \
 && chmod 0770 /var/lib/baton

WORKDIR /app
# Application files stay owned by root and read-only for the runtime user (world-readable: Lambda runs the
# function as a user of its own, which must read them).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin

# Memory (the README's benchmark; bin/baton-datadog.js's shebang sets the same for npx and direct runs):
# NODE_OPTIONS: a 2 MB young generation; MALLOC_ARENA_MAX: glibc's per-thread arenas held ~20 MB after a sync.
# The launcher sets the other V8 flags itself (--liftoff-only, the heap growth, --no-maglev, --optimize-for-size;
# BATON_HEAP_GROWING_PERCENT, BATON_MAGLEV=on, BATON_OPTIMIZE_FOR_SIZE=off change them), as late as it can: one
# on the command line would make V8 refuse the code cache of Node's built-in modules from the start.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=2 \
    MALLOC_ARENA_MAX=2

USER 65532:65532

ENTRYPOINT ["node", "/app/bin/baton-datadog.js"]

# --- lambda: a Lambda container-image function (docker build --target lambda) --------------------------------
# Lambda starts the container with AWS_LAMBDA_RUNTIME_API set, as a user of its own (USER is not used), on a
# read-only filesystem with a writable /tmp; `lambda` polls the Runtime API for invocations. The function's
# configuration comes from the platform (BATON_LAMBDA_* environment variables), not from flags. Lambda has no
# use for EXPOSE or HEALTHCHECK.
FROM app AS lambda
ENV TMPDIR=/tmp \
    HOME=/tmp
WORKDIR /tmp
CMD ["lambda"]

# --- runtime: the default target (syncs, serve, service mode) -----------------------------------------------
FROM app AS runtime

# TMPDIR: every temporary file (the c1z being written, SQLite scratch) goes to the writable directory, so a
# read-only root filesystem works. The working directory is the writable one too, so the default
# `--file sync.c1z` of a one-shot sync lands there. HOME: the UID has no /etc/passwd entry, and with HOME unset
# os.homedir() throws, which breaks libraries that look for dot-files there (the AWS SDK's credential chain
# does); the connector itself needs no HOME (test/deploy checks it runs without one).
ENV TMPDIR=/var/lib/baton \
    HOME=/var/lib/baton
WORKDIR /var/lib/baton

EXPOSE 8081

# For Docker and Compose; Kubernetes ignores HEALTHCHECK and uses the Deployment's probes (k8s/base).
# Probes /live only when the health server is on (service mode with BATON_HEALTH_CHECK); a one-shot sync has
# no health server and must not be reported unhealthy. Slim images have no curl: Node's fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "if(!/^(1|true|yes|on)$/i.test(process.env.BATON_HEALTH_CHECK||''))process.exit(0);fetch('http://127.0.0.1:'+(process.env.BATON_HEALTH_CHECK_PORT||'8081')+'/live',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
