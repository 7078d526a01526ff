#!/usr/bin/env bash
# Generates the harness PKI once: a CA, a serving certificate for the API server,
# client certificates for each control-plane identity, and
# the service-account signing key. Usage: pki.sh <dir> <services-address>
# Written to <dir>.partial and renamed whole, so an interrupted run never
# leaves a PKI that a later run takes for complete.
source "$(dirname "$0")/lib.sh"
dir="$1" svc="$2"
files=(ca.crt ca.key sa.key sa.pub apiserver.crt admin.crt controller-manager.crt scheduler.crt
  apiserver-kubelet-client.crt front-proxy-client.crt)
complete=1
for f in "${files[@]}"; do [[ -s "$dir/$f" ]] || complete=0; done
((complete)) && exit 0

rm -rf "$dir.partial" && mkdir -p "$dir.partial"
OSSL_LOG="$dir.partial/openssl.log"
cd "$dir.partial"
ossl genrsa -out ca.key 2048
ossl req -x509 -new -key ca.key -days 3650 -subj "/CN=weir-harness-ca" -out ca.crt

issue() { issue_cert ca.crt ca.key "$@"; }

issue apiserver "/CN=kube-apiserver" \
  "IP:$svc,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue admin "/O=system:masters/CN=weir-harness-admin"
issue controller-manager "/CN=system:kube-controller-manager"
issue scheduler "/CN=system:kube-scheduler"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
issue front-proxy-client "/CN=front-proxy-client"
ossl genrsa -out sa.key 2048
ossl rsa -in sa.key -pubout -out sa.pub
chmod 600 ./*.key
cd /
rm -rf "$dir" && mv "$dir.partial" "$dir"
