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

# Background jobs, each in a process group of its own, stopped if this script ends first.
background_pids=()
stop_background() {
  local pid
  for pid in "${background_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  return 0
}
trap stop_background EXIT
# await_background PID LOG WHAT: waits for a background job; on failure prints its log and fails.
await_background() {
  local status=0
  wait "$1" || status=$?
  local -a still=()
  local pid
  for pid in "${background_pids[@]}"; do [[ $pid != "$1" ]] && still+=("$pid"); done
  background_pids=("${still[@]}")
  if ((status != 0)); then
    cat "$2" >&2
    die "$3 failed with status $status (its log above, and in $2)"
  fi
}

# A step that works only on a warm cache would fail a new user, not CI: under
# CI the cheap cache-miss paths run every time (scripts/cold-check.sh). It works
# in a scratch copy with a cache of its own, so it runs beside the steps below at
# the lowest CPU and I/O priority; its result is awaited before this script succeeds.
mkdir -p "$root/.weir"
cold_check_pid=""
cold_check_log="$root/.weir/cold-check.log"
if [[ "${CI:-}" == true || "${WEIR_COLD_CHECK:-}" == 1 ]]; then
  info "cold check: started in the background (log: $cold_check_log)"
  setsid nice -n 19 ionice -c 3 bash "$root/scripts/cold-check.sh" >"$cold_check_log" 2>&1 &
  cold_check_pid=$!
  background_pids+=("$cold_check_pid")
else
  info "cold check skipped (runs under CI=true, or: npm run check:cold)"
fi

# The image from the Dockerfile, built with buildah (a broken Dockerfile would be every user's first
# failure), and the suites' stand-in TaskManager; then the harness, whose nodes run them. Mostly
# waiting on builds and on components to come up, so it goes on beside the checks below.
harness_log="$root/.weir/harness-up.log"
# Two nodes more, for the suites that stop or freeze a node (e2e/run-suites.sh runs them beside the others).
export WEIR_HARNESS_NODE_LOSS_NODES="${WEIR_HARNESS_NODE_LOSS_NODES:-2}"
info "image and harness: building and starting in the background (log: $harness_log)"
# shellcheck disable=SC2016 # $1 is the inner shell's: the root, passed as an argument
setsid bash -c 'bash "$1/scripts/build-image.sh" --test-images && bash "$1/e2e/harness/up.sh"' _ "$root" \
  >"$harness_log" 2>&1 &
harness_pid=$!
background_pids+=("$harness_pid")

step "lint and format (biome)"
node_modules/.bin/biome ci --reporter=summary .
done_step

step "typecheck (tsc, strict)"
node_modules/.bin/tsc -p tsconfig.json
done_step

step "no import cycles (dpdm: a file-level cycle in src/, bench/ or e2e/ fails)"
npm run --silent check:cycles
done_step

step "shell scripts (shellcheck)"
shellcheck -x scripts/*.sh e2e/*.sh e2e/harness/*.sh e2e/kind/*.sh e2e/kind/node/*.sh examples/job-template/check.sh .ci/run
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

step "image and harness (started in the background above)"
await_background "$harness_pid" "$harness_log" "building the image or bringing the harness up"
grep -E '==>|done in|^error' "$harness_log" | sed 's/^/    /' >&2 || true
done_step
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
  await_background "$cold_check_pid" "$cold_check_log" "the cold check"
  grep -F 'cold check passed in' "$cold_check_log" >&2 || true
  done_step
fi
