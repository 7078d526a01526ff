#!/usr/bin/env bash
# The project's test command (`npm test`): installs what is missing, checks
# lint, format and types, runs the unit tests, brings the local harness up and
# runs the end-to-end suites against it. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/e2e/harness/lib.sh"

bash "$root/scripts/setup.sh"
source "$root/scripts/node-env.sh"
cd "$root"

step "lint and format (biome)"
node_modules/.bin/biome ci --reporter=summary .
done_step

step "typecheck (tsc, strict)"
node_modules/.bin/tsc -p tsconfig.json
done_step

step "shell scripts (shellcheck)"
shellcheck -x scripts/*.sh e2e/harness/*.sh e2e/kind/*.sh examples/job-template/check.sh .ci/run
done_step

step "Dockerfiles (hadolint)"
"$WEIR_CACHE/hadolint/$HADOLINT_VERSION/hadolint" Dockerfile e2e/kind/*.Dockerfile
done_step

step "unit tests"
node --test --test-reporter=spec 'src/**/*.test.ts' 'e2e/harness/*.test.ts'
done_step

step "job template: a job project outside the repository installs Weir's npm pack tarball, type-checks, tests, builds"
bash "$root/examples/job-template/check.sh"
done_step

# The image from the Dockerfile, built with buildah (a broken Dockerfile would be every user's first
# failure), and the suites' stand-in TaskManager; the harness's nodes run them.
bash "$root/scripts/build-image.sh" --test-images

# A step that works only on a warm cache would fail a new user, not CI: under
# CI the cheap cache-miss paths run every time (scripts/cold-check.sh).
if [[ "${CI:-}" == true || "${WEIR_COLD_CHECK:-}" == 1 ]]; then
  bash "$root/scripts/cold-check.sh"
else
  info "cold check skipped (runs under CI=true, or: npm run check:cold)"
fi

bash "$root/e2e/harness/up.sh"
# shellcheck source=/dev/null
source "$WEIR_STATE/env"
# The suites run their own operators, scoped to their namespaces; the demo's
# cluster-wide operator would reconcile the same StreamJobs.
source "$root/e2e/harness/services.sh"
if is_running operator; then
  info "stopping the out-of-cluster operator for the test run"
  stop_service operator
fi
if helm status weir --namespace weir-system >/dev/null 2>&1; then
  info "uninstalling the demo's Helm release for the test run"
  helm uninstall weir --namespace weir-system --wait --timeout 120s
fi

step "end-to-end suites on the local harness"
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec 'e2e/suites/**/*.test.ts'
done_step
