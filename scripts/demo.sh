#!/usr/bin/env bash
# The README's first command: installs what is missing, brings the local real
# cluster up, installs the StreamJob CRD and the operator (Helm chart, two
# replicas running as pods), applies a
# StreamJob, kills one of its TaskManagers and shows the operator replacing it.
# Everything stays up for you to use; `npm run harness:down` removes it all.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/e2e/harness/lib.sh"

bash "$root/scripts/setup.sh"
bash "$root/e2e/harness/up.sh"
# shellcheck source=/dev/null
source "$WEIR_STATE/env"
source "$root/e2e/harness/services.sh"
cd "$root"

step "StreamJob CRD"
kubectl apply --server-side --force-conflicts -f crds/streamjob.yaml
kubectl wait --for=condition=Established --timeout=30s crd/streamjobs.weir.dev
done_step

step "operator: helm upgrade --install weir charts/weir (image weir:dev, which the node agent maps to this checkout)"
helm upgrade --install weir charts/weir --namespace weir-system --create-namespace \
  --set image.repository=weir --set image.tag=dev --wait --timeout 180s
kubectl -n weir-system get pods -o wide
info "leader: $(kubectl -n weir-system get lease weir -o jsonpath='{.spec.holderIdentity}')"
done_step

step "apply e2e/demo/streamjob.yaml"
kubectl delete streamjob demo --ignore-not-found --wait=true >/dev/null
kubectl apply -f e2e/demo/streamjob.yaml
kubectl wait streamjob/demo --for=jsonpath='{.status.phase}'=Running --timeout=90s
kubectl get streamjob demo
kubectl get pods -l weir.dev/job=demo -o wide
done_step

step "kill the process of TaskManager demo-tm-1 (region failover replaces only that pod)"
pid=$(kubectl get pod demo-tm-1 -o jsonpath='{.status.containerStatuses[0].containerID}')
kill -KILL "${pid#weir-agent://}"
kubectl wait streamjob/demo --for=jsonpath='{.status.restarts.count}'=1 --timeout=60s
kubectl wait streamjob/demo --for=jsonpath='{.status.phase}'=Running --timeout=90s
kubectl get streamjob demo
kubectl get pods -l weir.dev/job=demo -o wide
uid=$(kubectl get streamjob demo -o jsonpath='{.metadata.uid}')
kubectl get events --field-selector "involvedObject.uid=$uid" --sort-by=.lastTimestamp \
  -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
done_step

cat <<USAGE

Weir is running on the local harness. In your shell:

  source $WEIR_STATE/env
  kubectl get sj                         # StreamJobs: phase, parallelism, ready tasks, restarts
  kubectl describe sj demo               # status, conditions, events
  kubectl patch sj demo --type=merge -p '{"spec":{"state":"suspended"}}'
  kubectl scale sj demo --replicas=6     # rescale (parallelism)
  kubectl -n weir-system get pods,lease  # the operator's two replicas and the leader's Lease
  curl -s \$(kubectl -n weir-system get pod -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].status.podIP}'):8080/metrics | grep ^weir_
  npm run harness:down                   # stops everything

Kafka:  $WEIR_KAFKA_BOOTSTRAP      MinIO (S3): $WEIR_S3_ENDPOINT bucket $WEIR_S3_BUCKET
Logs:   $WEIR_HARNESS_LOGS
USAGE
