#!/usr/bin/env bash
# Runs the end-to-end suites against the cluster that $KUBECONFIG and the
# WEIR_* variables name (`source .weir/harness/env` for the local harness).
# Each suite has its own namespaces, operators and topics, so suites run
# WEIR_E2E_CONCURRENCY files at a time (2 by default: more only queues on a
# 2-core machine's CPU); the longest start first so that none is left running
# alone at the end. The suites under node-loss/ stop or freeze a node, which
# takes down the pods of whatever else runs there, so they run one at a time:
# beside the others when the harness has a node-loss pool (nodes of their own,
# which no other pod uses: up.sh with WEIR_HARNESS_NODE_LOSS_NODES=2, as npm
# test makes it), else after all the others. Exits non-zero if any suite failed.
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

pool=$(kubectl get nodes -l weir.dev/harness-pool=node-loss -o name | wc -l)
status=0
if ((pool >= 2)); then
  # Their report is printed whole once they end, not interleaved with the others'.
  node_loss_log=$(mktemp /tmp/weir-node-loss.XXXXXX.log)
  echo "node-loss suites: on the node-loss pool ($pool nodes), beside the others (log: $node_loss_log)"
  run 1 "${node_loss[@]}" >"$node_loss_log" 2>&1 &
  node_loss_pid=$!
  trap 'kill "$node_loss_pid" 2>/dev/null || true' EXIT
  run "$concurrency" "${longest[@]}" "${others[@]}" || status=$?
  wait "$node_loss_pid" || status=$?
  echo "node-loss suites (ran beside the others):"
  cat "$node_loss_log"
  rm -f "$node_loss_log"
else
  echo "node-loss suites: no node-loss pool (WEIR_HARNESS_NODE_LOSS_NODES), so after the others"
  run "$concurrency" "${longest[@]}" "${others[@]}" || status=$?
  run 1 "${node_loss[@]}" || status=$?
fi
exit "$status"
