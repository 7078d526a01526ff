# The stand-in TaskManager the operator suites run (e2e/support/taskmanager-standin.ts).
# Build context: e2e/support. Node 24 runs the TypeScript file directly.
FROM node:24-bookworm-slim
COPY taskmanager-standin.ts /app/taskmanager-standin.ts
USER 65532:65532
ENTRYPOINT ["node", "/app/taskmanager-standin.ts"]
