#!/usr/bin/env bash
# The harness Kafka's TLS material, signed by the harness CA (pki.sh): a
# serving certificate for its TLS listeners, as the PEM key store Kafka reads
# (private key, then certificate), and a client certificate for mutual TLS.
# Usage: kafka-pki.sh <pki-dir> <services-address>. Written to
# <pki-dir>/kafka.partial and renamed whole.
source "$(dirname "$0")/lib.sh"
pki="$1" svc="$2"
dir="$pki/kafka"
[[ -s "$dir/server.pem" && -s "$dir/client.crt" && -s "$dir/client.key" ]] && exit 0
[[ -s "$pki/ca.crt" && -s "$pki/ca.key" ]] || die "no harness CA in $pki (pki.sh runs first)"

rm -rf "$dir.partial" && mkdir -p "$dir.partial"
OSSL_LOG="$dir.partial/openssl.log"
cd "$dir.partial"
issue_cert "$pki/ca.crt" "$pki/ca.key" server "/CN=weir-harness-kafka" "IP:$svc,DNS:localhost"
issue_cert "$pki/ca.crt" "$pki/ca.key" client "/CN=weir-mtls-client"
cat server.key server.crt >server.pem
chmod 600 ./*.key server.pem
cd /
rm -rf "$dir" && mv "$dir.partial" "$dir"
