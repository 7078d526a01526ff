#!/usr/bin/env bash
# Deletes the kind cluster from up.sh and its state directory, then stops the
# project's Docker engine (engine.sh down). The node image and the engine's
# image store stay cached.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
export DOCKER_HOST="unix:///run/weir-kind-docker/docker.sock"
kind="$WEIR_CACHE/kind/$KIND_VERSION/bin/kind"
if [[ -x "$kind" ]] && bash "$here/engine.sh" status >/dev/null 2>&1; then
  "$kind" delete cluster --name weir-e2e
fi
# The host's routes to the nodes' pod CIDRs (up.sh).
ip route show root "$KIND_POD_SUBNET" | awk '{print $1}' | while read -r cidr; do ip route delete "$cidr"; done
rm -rf "$root/.weir/kind/env" "$root/.weir/kind/kubeconfig"
bash "$here/engine.sh" down
