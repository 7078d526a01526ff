# syntax=docker/dockerfile:1
# The Weir image: `weir operator` for the operator Deployment, `weir taskmanager`
# for TaskManager pods, and the base that job images are built FROM.
# Build: docker build -t weir:dev .

ARG NODE_IMAGE=node:24-bookworm-slim
# The runtime carries Node's binary alone on Debian: not npm, not the C++ headers (about 90 MB).
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
# librdkafka is built from the client's bundled source and linked against the
# distribution's libraries, the same way the project's own setup builds it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential python3 ca-certificates \
      libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# node-gyp builds against the base image's headers instead of downloading them.
ENV CKJS_LINKING=dynamic npm_config_nodedir=/usr/local
# A build behind a TLS-inspecting proxy passes its CA bundle here (a path inside the build), for npm.
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/sdk/package.json ./packages/sdk/package.json
COPY src ./src
# Only what runs goes on: the Kafka client keeps its addon and librdkafka's shared libraries, not
# librdkafka's sources and objects (about 280 MB); source maps and type declarations stay behind.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && kafka=node_modules/@confluentinc/kafka-javascript \
 && mkdir /tmp/kafka-addon \
 && cp -a "$kafka"/build/Release/confluent-kafka-javascript.node "$kafka"/build/deps/librdkafka*.so* /tmp/kafka-addon/ \
 && rm -rf "$kafka/build" "$kafka/deps" \
 && mkdir -p "$kafka/build/Release" "$kafka/build/deps" \
 && mv /tmp/kafka-addon/confluent-kafka-javascript.node "$kafka/build/Release/" \
 && mv /tmp/kafka-addon/librdkafka* "$kafka/build/deps/" \
 && find node_modules dist \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libsasl2-2 zlib1g libzstd1 liblz4-1 libcurl4 libstdc++6 tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /opt/weir
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Job modules import '@weir-dev/sdk' (packages/sdk): here it is the TaskManager's own copy of the SDK, the
# package's manifest over this dist/, so a job and the runtime share one instance of every SDK module.
COPY --from=build /src/packages/sdk/package.json ./node_modules/@weir-dev/sdk/package.json
RUN ln -s /opt/weir/dist /opt/weir/node_modules/@weir-dev/sdk/dist
# Job images add their compiled pipeline under /opt/weir/jobs (see the README).
# The compile cache holds V8's code for the TaskManager's modules, made below once: a replacement
# TaskManager loads them in about half the time (BENCHMARKS.md, recovery). Node keeps it per user, so
# the image's user makes it; pods only read it (their root filesystem is read-only).
ENV NODE_COMPILE_CACHE=/opt/weir/compile-cache
RUN mkdir -p /opt/weir/jobs /opt/weir/compile-cache \
 && chown 65532:65532 /opt/weir/compile-cache \
 && printf '#!/bin/sh\nexec node /opt/weir/dist/cli/weir.js "$@"\n' >/usr/local/bin/weir \
 && printf '#!/bin/sh\nexec node /opt/weir/dist/cli/kubectl-weir.js "$@"\n' >/usr/local/bin/kubectl-weir \
 && chmod 0755 /usr/local/bin/weir /usr/local/bin/kubectl-weir
# uid 65532 has no passwd entry; HOME points where a pod mounts its writable emptyDir.
ENV NODE_ENV=production HOME=/tmp
# The numeric user lets Kubernetes' runAsNonRoot check it without a passwd lookup.
USER 65532:65532
RUN node --input-type=module -e "await import('/opt/weir/dist/runtime/main.js')"
# tini is PID 1: the kernel drops every signal a namespace's PID 1 sends itself, so a TaskManager that
# must end at once (src/runtime/exit.ts) could not SIGKILL itself, and lingered until the kubelet's
# liveness probe and grace period ended it; tini also forwards SIGTERM and reaps.
ENTRYPOINT ["tini", "--", "weir"]
CMD ["help"]
