#!/usr/bin/env bash
# Builds the Kubernetes components the test cluster needs from the Go module proxy (no
# prebuilt binaries can be downloaded here): a wrapper module that requires
# k8s.io/kubernetes at VERSION and replaces each staging module (v0.0.0) with its published
# v0.MINOR.PATCH, then `go build` into ~/.cache/dormant/k8s-VERSION/bin. Skips what is
# already built. 1.34: the last minor whose kubelet runs on cgroup v1 without extra
# settings and that still works with containerd 1.x (notes/test-cluster.md).
set -euo pipefail
version="${K8S_VERSION:-v1.34.4}"
cache="${DORMANT_CACHE:-$HOME/.cache/dormant}/k8s-$version"
bin="$cache/bin"
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy)
mkdir -p "$bin" "$cache/src"
missing=()
for c in "${components[@]}"; do [ -x "$bin/$c" ] || missing+=("$c"); done
[ -x "$bin/etcd" ] || missing+=(etcd)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { echo "build-k8s.sh: Go is needed to build Kubernetes from its modules" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
cd "$cache/src"
minor="${version#v1.}"
staging_version="v0.${minor}"
if [ ! -f go.mod ]; then
  echo "build-k8s.sh: resolving k8s.io/kubernetes $version" >&2
  mod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module dormant.dev/k8s-build"
    echo
    grep -E '^go [0-9.]+' "$mod" | head -1
    grep -E '^godebug ' "$mod" || true
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    # Staging modules are required at exactly v0.0.0 (kube-openapi and others carry v0.0.0-DATE-HASH pseudo-versions).
    grep -E '^[[:space:]]*k8s.io/[a-z0-9-]+ v0\.0\.0[[:space:]]*$' "$mod" | awk '{print $1}' | sort -u | while read -r module; do echo "	$module => $module $staging_version"; done
    echo ")"
  } > go.mod
fi
# The packages built, as imports, so go mod tidy keeps what they need; rewritten when the list grows.
tools="$(printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n'; for c in "${components[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done; printf ')\n')"
if [ "$(cat tools.go 2>/dev/null)" != "$tools" ]; then
  echo "$tools" > tools.go
  go mod tidy >&2
fi
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
for c in "${missing[@]}"; do
  echo "build-k8s.sh: building $c (minutes on two cores)" >&2
  if [ "$c" = etcd ]; then
    go build -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
    mv "$bin/etcd.tmp" "$bin/etcd"
  else
    go build -ldflags "$ldflags" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2
    mv "$bin/$c.tmp" "$bin/$c"
  fi
done
echo "$bin"
