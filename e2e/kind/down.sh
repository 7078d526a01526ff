#!/usr/bin/env bash
# Deletes the kind cluster from up.sh and its state directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../harness/lib.sh
source "$root/e2e/harness/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"
export PATH="$WEIR_CACHE/kind/$KIND_VERSION/bin:$PATH"
command -v kind >/dev/null || die "kind is not installed (e2e/kind/up.sh installs it)"
kind delete cluster --name weir-e2e
rm -rf "$root/.weir/kind"
