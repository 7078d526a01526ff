#!/usr/bin/env bash
# Shared helpers for the harness scripts: cache locations, pinned versions and
# progress output. Sourced, never executed.
set -Eeuo pipefail

# Under `set -e` a failing command ends the script without a word; this names
# the script, the line and the command, so no failure is silent. -E carries the
# trap into functions and subshells. `die` exits on its own and does not trigger it.
weir_on_error() { # status source line command
  printf "error: %s:%s: '%s' failed with status %s\n" "${2#"$WEIR_ROOT"/}" "$3" "$4" "$1" >&2
}
trap 'weir_on_error "$?" "${BASH_SOURCE[0]}" "$LINENO" "$BASH_COMMAND"' ERR

WEIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WEIR_CACHE="${WEIR_CACHE:-$HOME/.cache/weir}"
WEIR_STATE="${WEIR_STATE:-$WEIR_ROOT/.weir/harness}"
# shellcheck source=versions.env
source "$WEIR_ROOT/e2e/harness/versions.env"

# The package managers' download caches can be shared with another cache
# directory (scripts/cold-check.sh builds into an empty one, reusing only these).
export GOMODCACHE="${WEIR_GOMODCACHE:-$WEIR_CACHE/go/mod}"
export GOCACHE="$WEIR_CACHE/go/build"
WEIR_MAVEN_REPO="${WEIR_MAVEN_REPO:-$WEIR_CACHE/maven}"
export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false

step_started_at=0
step() { step_started_at=$(date +%s); printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
info() { printf '    %s\n' "$*" >&2; }
done_step() { printf '    done in %ss\n' "$(( $(date +%s) - step_started_at ))" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a long command with its output in a log file, printing a heartbeat so
# that a cold build never looks hung.
run_logged() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  local started; started=$(date +%s)
  local report_at=$((started + 15))
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    if (( $(date +%s) >= report_at )) && kill -0 "$pid" 2>/dev/null; then
      info "… still running ($(( $(date +%s) - started ))s, log: $log)"
      report_at=$((report_at + 15))
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$log" >&2
    die "command failed: $* (full log: $log)"
  fi
}

# wrapper_module DIR NAME MODULE VERSION PACKAGE: a module in DIR (made anew) that requires MODULE@VERSION and
# imports PACKAGE, tidied (log: DIR/tidy.log), for `go build` of PACKAGE from DIR. A module with relative replaces,
# such as etcd's server, is refused by `go install`; built through such a module it is not.
wrapper_module() {
  local dir="$1" name="$2" module="$3" version="$4" package="$5"
  rm -rf "$dir" && mkdir -p "$dir"
  printf 'module weir.dev/wrapper/%s\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$module" "$version" >"$dir/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$package" >"$dir/tools.go"
  (cd "$dir" && run_logged "$dir/tidy.log" go mod tidy)
}

# openssl with its output in $OSSL_LOG, naming the failing step and the log.
ossl() { openssl "$@" 2>>"$OSSL_LOG" || die "openssl $1 failed (log: $OSSL_LOG)"; }

# issue_cert CA_CRT CA_KEY NAME SUBJECT [SUBJECT_ALT_NAME]: NAME.key and NAME.crt in the current directory, signed
# by the CA; with a subjectAltName for serving and client use, without one for client use only.
issue_cert() {
  local ca_crt="$1" ca_key="$2" name="$3" subject="$4" san="${5:-}"
  ossl genrsa -out "$name.key" 2048
  ossl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n "$san" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$name.ext"
  # A random serial, not the CA's serial file: nodes come up side by side, each issuing its certificates.
  local serial
  serial=$(openssl rand -hex 16 2>>"$OSSL_LOG") || die "openssl rand failed (log: $OSSL_LOG)"
  ossl x509 -req -in "$name.csr" -CA "$ca_crt" -CAkey "$ca_key" -set_serial "0x$serial" -days 3650 \
    -extfile "$name.ext" -out "$name.crt"
  rm -f "$name.csr" "$name.ext"
}
