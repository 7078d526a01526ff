#!/usr/bin/env bash
# Names, addresses and process helpers shared by up.sh, down.sh and status.sh.
# Sourced after lib.sh; the variables are read by the scripts that source it.
# shellcheck disable=SC2034

SVC_NETNS=weir-svc
SVC_VETH=weir-svc-h
SVC_ADDR=10.244.255.1
ROOT_ADDR=10.244.254.254
PKI="$WEIR_STATE/pki"
K8S_BIN="$WEIR_CACHE/kubernetes/$KUBERNETES_VERSION/bin"
ETCD_BIN="$WEIR_CACHE/etcd/$ETCD_VERSION/bin"
HELM_BIN="$WEIR_CACHE/helm/$HELM_VERSION/bin"
MINIO_BIN="$WEIR_CACHE/minio/$MINIO_VERSION/bin"
PROMETHEUS_BIN="$WEIR_CACHE/prometheus/$PROMETHEUS_VERSION/bin"
PROMTOOL_BIN="$WEIR_CACHE/promtool/$PROMETHEUS_VERSION/bin"
KAFKA_DIR="$WEIR_CACHE/kafka/$KAFKA_VERSION"
S3_ACCESS_KEY=weir-harness
S3_SECRET_KEY=weir-harness-secret
S3_BUCKET=weir
# shellcheck source=cluster-names.env
source "$WEIR_ROOT/e2e/harness/cluster-names.env"
# The nodes: real kubelets with containerd and runc (e2e/harness/kubelet-node.sh).
HARNESS_NODES="${WEIR_HARNESS_NODE_COUNT:-2}"
# And, after them, a pool of nodes for the suites that stop or freeze a node (e2e/suites/node-loss),
# tainted so that no other pod runs there: with it those suites run beside the others. npm test
# makes two; none by default (e2e/run-suites.sh then runs them after the others).
HARNESS_NODE_LOSS_NODES="${WEIR_HARNESS_NODE_LOSS_NODES:-0}"
# Stopped last to first.
SERVICES=(operator kafka minio-tls minio kube-scheduler kube-controller-manager kube-apiserver etcd)

pid_of() { cat "$WEIR_STATE/pids/$1.pid" 2>/dev/null || true; }

is_running() {
  local pid; pid=$(pid_of "$1")
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Starts a command in a session of its own (so down.sh can stop its whole
# process group), logging to logs/<name>.log. Does nothing when the recorded
# process is still alive. start_service runs it in the services namespace,
# start_host_service in the root namespace.
start_in() {
  local netns="$1" name="$2"; shift 2
  if is_running "$name"; then info "$name: already running (pid $(pid_of "$name"))"; return; fi
  if [[ -n "$netns" ]]; then
    setsid ip netns exec "$netns" "$@" >>"$WEIR_STATE/logs/$name.log" 2>&1 </dev/null &
  else
    setsid "$@" >>"$WEIR_STATE/logs/$name.log" 2>&1 </dev/null &
  fi
  echo $! >"$WEIR_STATE/pids/$name.pid"
  info "$name: started (pid $!, log $WEIR_STATE/logs/$name.log)"
}
start_service() { start_in "$SVC_NETNS" "$@"; }
start_host_service() { start_in "" "$@"; }

# Polls a health command until it succeeds, the service dies, or time runs out.
wait_for() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout )) last_report=0
  until "$@" >/dev/null 2>&1; do
    if [[ -f "$WEIR_STATE/pids/$name.pid" ]] && ! is_running "$name"; then
      tail -n 30 "$WEIR_STATE/logs/$name.log" >&2 || true
      die "$name exited during start-up (log: $WEIR_STATE/logs/$name.log)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 30 "$WEIR_STATE/logs/$name.log" >&2 2>/dev/null || true
      die "$name not healthy after ${timeout}s (check: $*)"
    fi
    if (( $(date +%s) - last_report >= 10 )); then
      last_report=$(date +%s)
      info "waiting for $name …"
    fi
    sleep 1
  done
  info "$name: healthy"
}

stop_service() { stop_services "$1"; }

# Stops several services at once: TERM to each, up to STOP_GRACE_SECONDS (10) for all of them to
# exit, then KILL to the process group of each.
stop_services() { # name...
  local name pid alive i pids=() names=() grace="${STOP_GRACE_SECONDS:-10}"
  for name in "$@"; do
    pid=$(pid_of "$name")
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    fi
  done
  for _ in $(seq 1 $((grace * 10))); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    kill -KILL -- "-${pids[i]}" 2>/dev/null || true
    kill -KILL "${pids[i]}" 2>/dev/null || true
    info "${names[i]}: stopped (pid ${pids[i]})"
  done
  for name in "$@"; do rm -f "$WEIR_STATE/pids/$name.pid"; done
}

# A kubeconfig for the client certificate <cert-dir>/<identity>.crt (default: the harness PKI), written to
# <file> (default: $WEIR_STATE/<identity>.kubeconfig).
write_kubeconfig() { # identity [file] [cert-dir]
  local who="$1" file="${2:-$WEIR_STATE/$1.kubeconfig}" certs="${3:-$PKI}"
  cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: weir-harness
  cluster:
    server: https://$SVC_ADDR:6443
    certificate-authority: $PKI/ca.crt
users:
- name: $who
  user:
    client-certificate: $certs/$who.crt
    client-key: $certs/$who.key
contexts:
- name: weir-harness
  context: {cluster: weir-harness, user: $who}
current-context: weir-harness
KCFG
}

start_kafka() {
  local dir="$WEIR_STATE/data/kafka"
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$SVC_ADDR:9093
listeners=PLAINTEXT://$SVC_ADDR:9092,CONTROLLER://$SVC_ADDR:9093,SASL_SSL://$SVC_ADDR:9094,SSL://$SVC_ADDR:9095,CLUSTER://$SVC_ADDR:$KAFKA_CLUSTER_PORT,CLUSTER_SASL_SSL://$SVC_ADDR:$KAFKA_CLUSTER_SASL_SSL_PORT
advertised.listeners=PLAINTEXT://$SVC_ADDR:9092,SASL_SSL://$SVC_ADDR:9094,SSL://$SVC_ADDR:9095,CLUSTER://$KAFKA_DNS_NAME:$KAFKA_CLUSTER_PORT,CLUSTER_SASL_SSL://$KAFKA_DNS_NAME:$KAFKA_CLUSTER_SASL_SSL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CLUSTER:PLAINTEXT,CLUSTER_SASL_SSL:SASL_SSL
# A secured broker as production has one: SCRAM over TLS on 9094, mutual TLS on 9095, ACLs on both. The
# PLAINTEXT listener's ANONYMOUS principal is a super user, so harness tools and the tests' own clients
# (and the controller) are not held by the ACLs the secured tests set.
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# The CLUSTER listeners serve pods that reach the broker by name (cluster-names.env): a client is sent back to the
# listener it came in on, so each advertises that name, and the host's clients keep the address.
listener.name.cluster_sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.cluster_sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$PKI/kafka/server.pem
ssl.truststore.type=PEM
ssl.truststore.location=$PKI/ca.crt
listener.name.ssl.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
log.dirs=$dir/logs
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  cat >"$dir/log4j2.properties" <<LOG
status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
LOG
  local cp; cp=$(cat "$KAFKA_DIR/classpath.txt")
  if [[ ! -f "$dir/logs/meta.properties" ]] && ! is_running kafka; then
    local cluster_id
    cluster_id=$(java -cp "$cp" -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool random-uuid)
    java -cp "$cp" -Dlog4j2.configurationFile="$dir/log4j2.properties" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" >>"$WEIR_STATE/logs/kafka.log" 2>&1 \
      || die "kafka storage format failed (log: $WEIR_STATE/logs/kafka.log)"
    info "kafka: storage formatted (cluster id $cluster_id)"
  fi
  start_service kafka java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$cp" kafka.Kafka "$dir/server.properties"
}

# side_by_side WHAT FN K...: `FN k` for every node k at once, each logging to $WEIR_STATE/logs/WHAT-k.log;
# the logs are printed in order once all have ended, and a failure names the nodes it happened on.
side_by_side() {
  local what="$1" fn="$2" k
  shift 2
  local -a pids=() failed=()
  mkdir -p "$WEIR_STATE/logs"
  for k in "$@"; do
    "$fn" "$k" >"$WEIR_STATE/logs/$what-$k.log" 2>&1 &
    pids[k]=$!
  done
  for k in "${!pids[@]}"; do
    wait "${pids[k]}" || failed+=("$k")
    sed 's/^/  /' "$WEIR_STATE/logs/$what-$k.log" >&2
  done
  ((${#failed[@]} == 0)) || die "$what failed on node(s) ${failed[*]} (their logs above, in $WEIR_STATE/logs/$what-<k>.log)"
}

# Every node this checkout made (a pool from an earlier up.sh among them), comma-separated.
harness_nodes() {
  local dir names=()
  for dir in "$WEIR_STATE"/nodes/weir-node-*; do [[ -d "$dir" ]] && names+=("${dir##*/}"); done
  (IFS=,; echo "${names[*]}")
}

write_env_file() {
  cat >"$WEIR_STATE/env" <<ENV
# Written by e2e/harness/up.sh. Use: source $WEIR_STATE/env
export KUBECONFIG="$WEIR_STATE/admin.kubeconfig"
export PATH="$K8S_BIN:$HELM_BIN:$PROMETHEUS_BIN:$PROMTOOL_BIN:$WEIR_NODE_HOME/bin:\$PATH"
export WEIR_S3_ENDPOINT="http://$SVC_ADDR:9000"
export WEIR_S3_ACCESS_KEY="$S3_ACCESS_KEY"
export WEIR_S3_SECRET_KEY="$S3_SECRET_KEY"
export WEIR_S3_BUCKET="$S3_BUCKET"
export WEIR_S3_REGION="us-east-1"
export WEIR_S3_TLS_ENDPOINT="https://$SVC_ADDR:9002"
export WEIR_S3_TLS_CA="$PKI/ca.crt"
export WEIR_KAFKA_BOOTSTRAP="$SVC_ADDR:9092"
export WEIR_KAFKA_SASL_SSL_BOOTSTRAP="$SVC_ADDR:9094"
export WEIR_KAFKA_MTLS_BOOTSTRAP="$SVC_ADDR:9095"
export WEIR_KAFKA_CA="$PKI/ca.crt"
export WEIR_KAFKA_CLIENT_CERT="$PKI/kafka/client.crt"
export WEIR_KAFKA_CLIENT_KEY="$PKI/kafka/client.key"
export WEIR_KAFKA_CLASSPATH_FILE="$KAFKA_DIR/classpath.txt"
export WEIR_SERVICES_ADDRESS="$SVC_ADDR"
export WEIR_HARNESS_NODES="$(harness_nodes)"
export WEIR_HARNESS_LOGS="$WEIR_STATE/logs"
ENV
}
