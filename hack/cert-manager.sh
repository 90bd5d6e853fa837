#!/usr/bin/env bash
# Builds a cert-manager controller (hack/cert-manager/main.go: cert-manager's own
# controllers from its Go module at a pinned version, started as its controller binary
# starts them) into ~/.cache/dormant/cert-manager-<version>, once, with the module's CRDs
# beside it (crds/). Prints the folder's path. For the cluster test of cert-manager's
# Certificates; a build output, never committed.
set -euo pipefail
version=v1.21.2
module=github.com/cert-manager/cert-manager
here="$(cd "$(dirname "$0")" && pwd)"
dir="${DORMANT_CACHE:-$HOME/.cache/dormant}/cert-manager-$version"
if [ -x "$dir/cert-manager-controller" ] && [ -s "$dir/crds/cert-manager.io_certificates.yaml" ] && cmp -s "$here/cert-manager/main.go" "$dir/src/main.go"; then
  echo "$dir"
  exit 0
fi
command -v go >/dev/null || { echo "hack/cert-manager.sh: Go is needed to build cert-manager from its module" >&2; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$dir/src" "$dir/crds"
cp "$here/cert-manager/main.go" "$dir/src/main.go"
cd "$dir/src"
if ! grep -q "$module $version" go.mod 2>/dev/null; then
  rm -f go.mod go.sum
  printf 'module dormant.dev/cert-manager-build\n\ngo 1.26.0\n\nrequire %s %s\n' "$module" "$version" > go.mod
fi
echo "hack/cert-manager.sh: building cert-manager $version's controllers from the Go module proxy (a few minutes, once)" >&2
go mod tidy >&2
go build -trimpath -o "$dir/cert-manager-controller.new" . >&2
mv "$dir/cert-manager-controller.new" "$dir/cert-manager-controller"
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[ -d "$src/deploy/crds" ] || { echo "hack/cert-manager.sh: $module@$version has no deploy/crds" >&2; exit 1; }
install -m 0644 "$src"/deploy/crds/*.yaml "$dir/crds/"
echo "$dir"
