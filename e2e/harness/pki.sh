#!/usr/bin/env bash
# Generates the harness PKI once: a CA, serving certificates for the API server
# and the node agent, client certificates for each control-plane identity, and
# the service-account signing key. Usage: pki.sh <dir> <services-address>
set -euo pipefail
dir="$1" svc="$2"
mkdir -p "$dir"
cd "$dir"
[[ -f ca.crt && -f sa.key && -f agent.crt && -f front-proxy-client.crt ]] && exit 0

openssl genrsa -out ca.key 2048 2>/dev/null
openssl req -x509 -new -key ca.key -days 3650 -subj "/CN=weir-harness-ca" -out ca.crt 2>/dev/null

issue() { # name subject [subjectAltName]
  local name="$1" subject="$2" san="${3:-}"
  openssl genrsa -out "$name.key" 2048 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
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
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue apiserver "/CN=kube-apiserver" \
  "IP:$svc,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue admin "/O=system:masters/CN=weir-harness-admin"
issue controller-manager "/CN=system:kube-controller-manager"
issue scheduler "/CN=system:kube-scheduler"
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
issue front-proxy-client "/CN=front-proxy-client"
agent_ips=""
for i in $(seq 1 16); do agent_ips+="IP:10.244.254.$i,"; done
issue agent "/CN=weir-node-agent" "${agent_ips}DNS:localhost"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 ./*.key
