#!/usr/bin/env bash
# Checks manifests/crds against a real kube-apiserver (no nodes needed): starts etcd and
# kube-apiserver from hack/cluster/build-k8s.sh on loopback, applies the CRDs, then one
# valid and one invalid App and a change to an immutable Revision, prints what the
# apiserver answered, and stops both by PID. Exit status 0 when every answer is as expected.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="$(bash "$here/build-k8s.sh")"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port="$(free_port)"; peer_port="$(free_port)"; api_port="$(free_port)"
mkdir -p "$work/pki"
openssl genrsa -out "$work/pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$work/pki/sa.key" -pubout -out "$work/pki/sa.pub" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/pki/apiserver.key" -out "$work/pki/apiserver.crt" -days 1 \
  -subj "/CN=kube-apiserver" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
echo "crd-check-token,admin,admin,system:masters" > "$work/pki/tokens.csv"
"$bin/etcd" --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" > "$work/etcd.log" 2>&1 &
pids+=($!)
"$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" --bind-address 127.0.0.1 --secure-port "$api_port" \
  --advertise-address 10.0.0.1 --tls-cert-file "$work/pki/apiserver.crt" --tls-private-key-file "$work/pki/apiserver.key" \
  --service-account-key-file "$work/pki/sa.pub" --service-account-signing-key-file "$work/pki/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --token-auth-file "$work/pki/tokens.csv" --authorization-mode RBAC \
  --service-cluster-ip-range 10.96.0.0/16 > "$work/apiserver.log" 2>&1 &
pids+=($!)
kubectl=("$bin/kubectl" --server "https://127.0.0.1:$api_port" --token crd-check-token --insecure-skip-tls-verify)
for _ in $(seq 1 90); do "${kubectl[@]}" get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
"${kubectl[@]}" apply -k "$repo/manifests/crds"
"${kubectl[@]}" wait --for condition=Established crd --all --timeout 60s >/dev/null
expect() { # expect PATTERN COMMAND...: the command's output must match
  local pattern="$1"; shift
  local out; out="$("$@" 2>&1 || true)"
  echo "$out"
  grep -qE "$pattern" <<<"$out" || { echo "crd-check: expected /$pattern/" >&2; exit 1; }
}
app() { printf 'apiVersion: dormant.dev/v1alpha1\nkind: App\nmetadata: {name: %s, namespace: default}\nspec: %s\n' "$1" "$2"; }
expect 'app.dormant.dev/hello created' "${kubectl[@]}" apply -f <(app hello '{run: {env: {DATABASE_URL: x}}, autoscale: {minScale: 1, maxScale: 3, stableWindow: 30s}}')
expect '"branch":"main"' "${kubectl[@]}" get app hello -o jsonpath='{.spec.git}'
bad="$(app broken '{run: {env: {"1BAD": x}}, autoscale: {minScale: 2, maxScale: 1, stableWindow: 2s}}')"
expect 'minScale must not exceed maxScale' "${kubectl[@]}" apply -f <(echo "$bad")
expect 'stableWindow must be between 6s and 1h' "${kubectl[@]}" apply -f <(echo "$bad")
expect 'environment variable names must match' "${kubectl[@]}" apply -f <(echo "$bad")
revision() { printf 'apiVersion: dormant.dev/v1alpha1\nkind: Revision\nmetadata: {name: hello-00001, namespace: default}\nspec: {app: hello, commit: "%s", run: {}}\n' "$1"; }
expect 'created' "${kubectl[@]}" apply -f <(revision 0123456789012345678901234567890123456789)
expect 'is immutable' "${kubectl[@]}" apply -f <(revision aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)
echo "crd-check: the CRDs and their CEL rules behave on kube-apiserver $("$bin/kube-apiserver" --version | cut -d' ' -f2)"
