#!/usr/bin/env bash
# Builds (or finds cached) every harness binary. A cold build on 2 cores takes
# about 25 minutes, most of it kube-apiserver and MinIO.
source "$(dirname "$0")/lib.sh"
started=$(date +%s)
bash "$WEIR_ROOT/e2e/harness/build-kubernetes.sh"
bash "$WEIR_ROOT/e2e/harness/build-go-tools.sh" etcd helm minio prometheus promtool
bash "$WEIR_ROOT/e2e/harness/build-kafka.sh"
info "harness binaries ready in $(( $(date +%s) - started ))s (cache: $WEIR_CACHE)"
