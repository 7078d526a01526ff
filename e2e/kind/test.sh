#!/usr/bin/env bash
# Runs the e2e suites against the kind cluster from up.sh (which it runs first).
# Tests that inject failures through the local harness's nodes (killing a
# container's process, stopping a node, cutting a pod's link) skip themselves here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
bash "$here/up.sh"
# shellcheck source=/dev/null
source "$root/.weir/kind/env"
source "$root/scripts/node-env.sh"
cd "$root"
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec \
  'e2e/suites/operator/*.test.ts' 'e2e/suites/packaging/*.test.ts' \
  'e2e/suites/storage/*.test.ts' 'e2e/suites/runtime/*.test.ts' \
  e2e/suites/smoke/kafka.test.ts e2e/suites/smoke/minio.test.ts
