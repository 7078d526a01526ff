#!/usr/bin/env bash
# Puts the project's Node 24 first on PATH and points native builds at its
# headers. Sourced by every script that runs node or npm; `source
# scripts/node-env.sh` does the same in an interactive shell.
_weir_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../e2e/harness/versions.env
source "$_weir_root/e2e/harness/versions.env"
WEIR_NODE_HOME="${WEIR_CACHE:-$HOME/.cache/weir}/node/$NODE_VERSION"
export WEIR_NODE_HOME
case ":$PATH:" in
  *":$WEIR_NODE_HOME/bin:"*) ;;
  *) export PATH="$WEIR_NODE_HOME/bin:$PATH" ;;
esac
export npm_config_nodedir="$WEIR_NODE_HOME"
# The Confluent client otherwise downloads a prebuilt binary, then OpenSSL
# sources; neither is reachable from the package registries alone.
export CKJS_LINKING=dynamic
# V8's code for every module Node loads (the suites, the operators they start, tsc), kept between runs:
# each of the many short Node processes of a test run then loads its modules in about half the CPU time.
# Node checks every entry against the file's content, so an edited file is compiled afresh.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-${WEIR_CACHE:-$HOME/.cache/weir}/node-compile-cache}"
unset _weir_root
