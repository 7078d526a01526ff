#!/usr/bin/env bash
# The README's first command: installs what is missing, brings the local real
# cluster up, installs the StreamJob CRD and the operator (Helm chart, two
# replicas running as pods), runs the word-count job (lines → words → keyBy
# word through a repartition topic → count) over Kafka with checkpoints in
# MinIO, kills one of its TaskManagers mid-stream, upgrades it with a savepoint
# (a barrier cut across both stages) while lines flow, and checks after each
# that every word's counts are still exactly once.
# Everything stays up for you to use; `npm run harness:down` removes it all.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/e2e/harness/lib.sh"

bash "$root/scripts/setup.sh"
# The image from the Dockerfile; the harness's nodes import it, and the operator and TaskManagers run it.
bash "$root/scripts/build-image.sh"
bash "$root/e2e/harness/up.sh"
# shellcheck source=/dev/null
source "$WEIR_STATE/env"
source "$root/e2e/harness/services.sh"
cd "$root"

step "StreamJob and StreamJobSnapshot CRDs"
kubectl apply --server-side --force-conflicts -f crds/
kubectl wait --for=condition=Established --timeout=30s crd/streamjobs.weir.dev crd/streamjobsnapshots.weir.dev
done_step

step "operator: helm upgrade --install weir charts/weir (image weir:dev, built from the Dockerfile)"
helm upgrade --install weir charts/weir --namespace weir-system --create-namespace \
  --set image.repository=weir --set image.tag=dev --wait --timeout 180s
kubectl -n weir-system get pods -o wide
info "leader: $(kubectl -n weir-system get lease weir -o jsonpath='{.spec.holderIdentity}')"
done_step

suffix=$(date +%s)
events="demo-events-$suffix" counts="demo-counts-$suffix"
step "Kafka topics and 10000 lines of words"
node e2e/demo/kafka-tool.ts topics "$events" "$counts"
node e2e/demo/kafka-tool.ts produce "$events" 0 10000
kubectl create secret generic demo-s3 --from-literal=accessKeyId="$WEIR_S3_ACCESS_KEY" \
  --from-literal=secretAccessKey="$WEIR_S3_SECRET_KEY" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
done_step

step "apply e2e/demo/streamjob.yaml (the word-count job; input $events, output $counts)"
kubectl delete streamjob demo --ignore-not-found --wait=true >/dev/null
sed -e "s/demo-events/$events/" -e "s/demo-counts/$counts/" e2e/demo/streamjob.yaml | kubectl apply -f -
kubectl wait streamjob/demo --for=jsonpath='{.status.phase}'=Running --timeout=120s
kubectl get streamjob demo
kubectl get pods -l weir.dev/job=demo -o wide
node e2e/demo/kafka-tool.ts verify "$counts" 10000
done_step

step "kill the process of TaskManager demo-tm-1 (its tasks of both stages) while 10000 more lines arrive"
restarts_before=$(kubectl get streamjob demo -o jsonpath='{.status.restarts.count}')
restarts_before=${restarts_before:-0}
container=$(kubectl get pod demo-tm-1 -o jsonpath='{.status.containerStatuses[0].containerID}')
tm_node=$(kubectl get pod demo-tm-1 -o jsonpath='{.spec.nodeName}')
node e2e/demo/kafka-tool.ts produce "$events" 10000 10000
# As the OOM killer or a crash would: the container's process dies, the kubelet sees it exit.
ctr --address "/run/weir-harness/$tm_node/containerd.sock" --namespace k8s.io tasks kill --signal SIGKILL \
  "${container#containerd://}"
restarts=$restarts_before
for _ in $(seq 1 120); do
  restarts=$(kubectl get streamjob demo -o jsonpath='{.status.restarts.count}')
  (( ${restarts:-0} > restarts_before )) && break
  sleep 0.5
done
(( ${restarts:-0} > restarts_before )) || die "the operator did not count the killed TaskManager within 60s"
info "restarts: $restarts_before → $restarts"
kubectl wait streamjob/demo --for=jsonpath='{.status.phase}'=Running --timeout=120s
kubectl get streamjob demo
kubectl get pods -l weir.dev/job=demo -o wide
node e2e/demo/kafka-tool.ts verify "$counts" 20000
done_step

step "savepoint upgrade (a new args value) while 10000 more lines arrive in 20 batches"
# Input keeps flowing: the old version stops with a savepoint, the new one starts from exactly it.
( for b in $(seq 0 19); do node e2e/demo/kafka-tool.ts produce "$events" $((20000 + b * 500)) 500; done ) &
producer=$!
kubectl patch sj demo --type=merge \
  -p "{\"spec\":{\"args\":{\"input\":\"$events\",\"output\":\"$counts\",\"release\":\"2\"}}}"
kubectl wait streamjob/demo --for=jsonpath='{.status.lastStableSpec.generation}'=2 --timeout=180s
wait "$producer"
kubectl get streamjob demo -o jsonpath='run {.status.run.id} restored from {.status.run.restoredFrom}{"\n"}'
kubectl get streamjob demo -o jsonpath='{range .status.savepoints[*]}savepoint {.id} ({.reason}): {.path}{"\n"}{end}'
node e2e/demo/kafka-tool.ts verify "$counts" 30000
# The operator reads each TaskManager's progress over the control API: the CHECKPOINT column is its age.
checkpoint_time() { kubectl get streamjob demo -o jsonpath='{.status.checkpoint.latestCompleted.time}'; }
for _ in $(seq 1 90); do
  [[ -n "$(checkpoint_time)" ]] && break
  sleep 1
done
[[ -n "$(checkpoint_time)" ]] || { echo "status.checkpoint was not reported within 90s" >&2; exit 1; }
kubectl get streamjob demo -o jsonpath='status.checkpoint: {.status.checkpoint}{"\n"}'
kubectl get streamjob demo
uid=$(kubectl get streamjob demo -o jsonpath='{.metadata.uid}')
kubectl get events --field-selector "involvedObject.uid=$uid" --sort-by=.lastTimestamp \
  -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
done_step

cat <<USAGE

Weir is running on the local harness. In your shell:

  source $WEIR_STATE/env
  kubectl get sj                         # StreamJobs: phase, parallelism, ready tasks, checkpoint age, restarts
  kubectl describe sj demo               # status, conditions, events
  kubectl patch sj demo --type=merge -p '{"spec":{"state":"suspended"}}'
  kubectl scale sj demo --replicas=6     # rescale (parallelism)
  kubectl patch sj demo --type=merge -p '{"spec":{"savepointTriggerNonce":1}}'   # a savepoint: status.savepoints
  kubectl patch sj demo --type=merge -p '{"spec":{"initialSavepoint":"<id>"}}'   # a new run restored from it
  kubectl -n weir-system get pods,lease  # the operator's two replicas and the leader's Lease
  curl -s \$(kubectl -n weir-system get pod -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].status.podIP}'):8080/metrics | grep ^weir_
  curl -s \$(kubectl get pod demo-tm-0 -o jsonpath='{.status.podIP}'):9249/metrics | grep -E '^weir_(task|checkpoint)'
  node e2e/demo/kafka-tool.ts produce $events 30000 5000   # more input; then: verify $counts 35000
  npm run harness:down                   # stops everything

Kafka:  $WEIR_KAFKA_BOOTSTRAP      MinIO (S3): $WEIR_S3_ENDPOINT bucket $WEIR_S3_BUCKET
Logs:   $WEIR_HARNESS_LOGS
USAGE
