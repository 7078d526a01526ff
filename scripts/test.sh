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

# A step that works only on a warm cache would fail a new user, not CI: under
# CI the cheap cache-miss paths run every time (scripts/cold-check.sh). It works
# in a scratch copy with a cache of its own, so it runs beside the steps below at
# the lowest CPU and I/O priority, in a process group of its own (stopped if this
# script ends first); its result is awaited before this script succeeds.
cold_check_pid=""
cold_check_log="$root/.weir/cold-check.log"
stop_cold_check() {
  [[ -n "$cold_check_pid" ]] && kill -TERM -- "-$cold_check_pid" 2>/dev/null && wait "$cold_check_pid" 2>/dev/null
  return 0
}
if [[ "${CI:-}" == true || "${WEIR_COLD_CHECK:-}" == 1 ]]; then
  mkdir -p "$root/.weir"
  info "cold check: started in the background (log: $cold_check_log)"
  setsid nice -n 19 ionice -c 3 bash "$root/scripts/cold-check.sh" >"$cold_check_log" 2>&1 &
  cold_check_pid=$!
  trap stop_cold_check EXIT
else
  info "cold check skipped (runs under CI=true, or: npm run check:cold)"
fi

step "lint and format (biome)"
node_modules/.bin/biome ci --reporter=summary .
done_step

step "typecheck (tsc, strict)"
node_modules/.bin/tsc -p tsconfig.json
done_step

step "shell scripts (shellcheck)"
shellcheck -x scripts/*.sh e2e/*.sh e2e/harness/*.sh e2e/kind/*.sh examples/job-template/check.sh .ci/run
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
bash "$root/e2e/run-suites.sh"
done_step

if [[ -n "$cold_check_pid" ]]; then
  step "cold check (scripts/cold-check.sh, run beside the steps above)"
  status=0
  wait "$cold_check_pid" || status=$?
  cold_check_pid=""
  if ((status != 0)); then
    cat "$cold_check_log" >&2
    die "the cold check failed with status $status (its log above, and in $cold_check_log)"
  fi
  grep -F 'cold check passed in' "$cold_check_log" >&2 || true
  done_step
fi
