#!/usr/bin/env bash
# Runs the end-to-end suites against the cluster that $KUBECONFIG and the
# WEIR_* variables name (`source .weir/harness/env` for the local harness).
# Each suite has its own namespaces, operators and topics, so suites run
# WEIR_E2E_CONCURRENCY files at a time (2 by default: more only queues on a
# 2-core machine's CPU); the longest start first so that none is left running
# alone at the end. The suites under node-loss/ stop or freeze a node, which
# takes down the pods of whatever else runs there: they run after all the
# others, one at a time. Exits non-zero if any suite failed.
# Usage: bash e2e/run-suites.sh   (npm run test:e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
concurrency="${WEIR_E2E_CONCURRENCY:-2}"
[[ "$concurrency" =~ ^[1-9][0-9]*$ ]] || { echo "WEIR_E2E_CONCURRENCY must be a positive integer, not '$concurrency'" >&2; exit 2; }
run() { node --test --test-concurrency="$1" --test-timeout=600000 --test-reporter=spec "${@:2}"; }

# The longest suites on the harness (minutes, measured alone), first.
longest=(e2e/suites/runtime/upgrade.test.ts e2e/suites/runtime/kafka-security.test.ts
  e2e/suites/operator/failover.test.ts e2e/suites/runtime/progress-health.test.ts)
mapfile -t others < <(find e2e/suites -name '*.test.ts' -not -path 'e2e/suites/node-loss/*' | sort \
  | grep -vxF -f <(printf '%s\n' "${longest[@]}"))
mapfile -t node_loss < <(find e2e/suites/node-loss -name '*.test.ts' | sort)

status=0
run "$concurrency" "${longest[@]}" "${others[@]}" || status=$?
run 1 "${node_loss[@]}" || status=$?
exit "$status"
