#!/usr/bin/env bash
# The kind path's container engine: Debian's Docker (docker.io), installed if
# missing, started as a daemon of the project's own that leaves the local
# harness alone, and stopped with everything it made removed.
#
#   engine.sh up       installs and starts it; prints `export DOCKER_HOST=…`
#   engine.sh down     stops it and removes its bridges (its images stay cached)
#   engine.sh status   says whether it answers
#   engine.sh shim-path  builds weir-kind-runc if needed and prints its path
#
# What keeps it apart from the harness, and why:
# - its own data root (images cached under $WEIR_CACHE/kind/docker), exec root
#   and socket: the system's docker.service, if any, is not touched;
# - --iptables=false and --ip-masq=false: dockerd would otherwise set the FORWARD
#   policy to DROP (breaking the harness's pod traffic) and masquerade its
#   bridges out of the default route; kind's nodes only talk among themselves
#   and to the host;
# - its bridges inside the harness's address block (10.246.0.0/16 of 10.244.0.0/14),
#   so nothing it addresses leaves the machine;
# - containers run by weir-kind-runc (runc-shim/), which removes CAP_SYS_RESOURCE
#   from privileged containers: root here lacks it, and runc fails to apply it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../harness/lib.sh
source "$here/../harness/lib.sh"

exec_root=/run/weir-kind-docker
socket="$exec_root/docker.sock"
data_root="$WEIR_CACHE/kind/docker"
log="$WEIR_ROOT/.weir/kind/dockerd.log"
bridge_ip=10.246.0.1/24
address_pool=base=10.246.0.0/16,size=24
export DOCKER_HOST="unix://$socket"

answers() { docker info >/dev/null 2>&1; }

shim() {
  local src="$here/runc-shim" hash out
  hash=$(cat "$src/go.mod" "$src/main.go" | sha256sum | cut -c1-12)
  out="$WEIR_CACHE/kind/runc-shim/$hash/weir-kind-runc"
  if [[ ! -x "$out" ]]; then
    step "weir-kind-runc: building e2e/kind/runc-shim" >&2
    rm -rf "$out.partial" && mkdir -p "$(dirname "$out")"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$out.partial" .)
    mv "$out.partial" "$out"
    done_step >&2
  fi
  printf '%s\n' "$out"
}

up() {
  if ! command -v dockerd >/dev/null; then
    command -v apt-get >/dev/null || die "no dockerd, and no apt-get to install Debian's docker.io with"
    step "docker.io: apt-get install (Debian's Docker engine)"
    DEBIAN_FRONTEND=noninteractive run_logged "$WEIR_CACHE/kind/apt.log" \
      apt-get install -y --no-install-recommends docker.io
    done_step
  fi
  command -v docker >/dev/null || die "dockerd is installed but no docker client is on PATH"
  if answers; then
    info "docker engine: up ($socket)"
  else
    local runtime
    runtime=$(shim)
    mkdir -p "$exec_root" "$data_root" "$(dirname "$log")"
    step "docker engine: starting (data $data_root, socket $socket, bridges in 10.246.0.0/16)"
    setsid dockerd --host "unix://$socket" --exec-root "$exec_root" --data-root "$data_root" \
      --pidfile "$exec_root/dockerd.pid" --bip "$bridge_ip" --default-address-pool "$address_pool" \
      --iptables=false --ip-masq=false --ip-forward=false \
      --add-runtime "weir-kind-runc=$runtime" --default-runtime weir-kind-runc \
      >"$log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do answers && break; sleep 0.5; done
    answers || { tail -n 20 "$log" >&2; die "dockerd did not answer within 60 s (log: $log)"; }
    done_step
  fi
  printf 'export DOCKER_HOST=%s\n' "$DOCKER_HOST"
}

down() {
  local pid=""
  [[ -f "$exec_root/dockerd.pid" ]] && pid=$(cat "$exec_root/dockerd.pid")
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    step "docker engine: stopping (pid $pid)"
    # Containers first (kind's nodes), then the networks they leave: each is a bridge on the host.
    docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network prune -f >/dev/null 2>&1 || true
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    done_step
  fi
  # dockerd leaves its default bridge (and a killed one its networks' bridges) behind.
  local link
  for link in $(ip -o link show type bridge | awk -F': ' '{print $2}' | grep -E '^(docker0|br-[0-9a-f]{12})$' || true); do
    ip link delete "$link" && info "removed bridge $link"
  done
  rm -f "$exec_root/dockerd.pid"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  shim-path) shim ;;
  status) if answers; then echo "docker engine: up ($socket)"; else echo "docker engine: down"; exit 1; fi ;;
  *) die "usage: engine.sh up|down|status|shim-path" ;;
esac
