#!/usr/bin/env bash
# The TLS material of the harness's secured services, signed by the harness
# CA (pki.sh): Kafka's serving certificate for its TLS listeners, as the PEM
# key store Kafka reads (private key, then certificate), a client certificate
# for mutual TLS, and MinIO's serving certificate in the layout of its
# --certs-dir (public.crt, private.key).
# Usage: services-pki.sh <pki-dir> <services-address>. Each set is written to
# <pki-dir>/<service>.partial and renamed whole, with the names its serving
# certificate holds in <service>/names: a set whose names differ is issued anew.
source "$(dirname "$0")/lib.sh"
# shellcheck source=cluster-names.env
source "$(dirname "$0")/cluster-names.env"
pki="$1" svc="$2"
[[ -s "$pki/ca.crt" && -s "$pki/ca.key" ]] || die "no harness CA in $pki (pki.sh runs first)"

# in_partial_dir DIR: a fresh DIR.partial as the current directory, logging openssl there.
in_partial_dir() {
  rm -rf "$1.partial" && mkdir -p "$1.partial"
  OSSL_LOG="$1.partial/openssl.log"
  cd "$1.partial"
}
# publish DIR: keys private, then DIR.partial renamed to DIR.
publish() {
  chmod 600 ./*.key ./*.pem 2>/dev/null || true
  cd /
  rm -rf "$1" && mv "$1.partial" "$1"
}

# issued DIR NAMES FILE...: DIR holds each FILE, issued for NAMES.
issued() {
  local dir="$1" names="$2" file; shift 2
  [[ "$(cat "$dir/names" 2>/dev/null)" == "$names" ]] || return 1
  for file in "$@"; do [[ -s "$dir/$file" ]] || return 1; done
}

dir="$pki/kafka"
names="IP:$svc,DNS:localhost,DNS:$KAFKA_DNS_NAME"
if ! issued "$dir" "$names" server.pem client.crt client.key; then
  in_partial_dir "$dir"
  issue_cert "$pki/ca.crt" "$pki/ca.key" server "/CN=weir-harness-kafka" "$names"
  issue_cert "$pki/ca.crt" "$pki/ca.key" client "/CN=weir-mtls-client"
  cat server.key server.crt >server.pem
  echo "$names" >names
  publish "$dir"
fi

dir="$pki/minio"
names="IP:$svc,DNS:localhost,DNS:$MINIO_DNS_NAME"
if ! issued "$dir" "$names" public.crt private.key; then
  in_partial_dir "$dir"
  issue_cert "$pki/ca.crt" "$pki/ca.key" server "/CN=weir-harness-minio" "$names"
  mv server.crt public.crt && mv server.key private.key
  echo "$names" >names
  publish "$dir"
fi
