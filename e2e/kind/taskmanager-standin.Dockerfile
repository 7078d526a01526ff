# The stand-in TaskManager the operator suites run (e2e/support/taskmanager-standin.ts).
# Build context: e2e/support. Node 24 runs the TypeScript file directly.
# The local harness builds it with buildah on its own Node base (scripts/build-image.sh --test-images).
ARG NODE_IMAGE=node:24-bookworm-slim
FROM ${NODE_IMAGE}
COPY taskmanager-standin.ts /app/taskmanager-standin.ts
USER 65532:65532
ENTRYPOINT ["node", "/app/taskmanager-standin.ts"]
