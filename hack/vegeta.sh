#!/usr/bin/env bash
# Builds vegeta (the load generator Knative's performance tests use) from the Go module
# proxy at a pinned version into ~/.cache/dormant/bin, once; prints the binary's path.
# It is a build output: never committed.
set -euo pipefail
version=v12.13.0
bin_dir="${DORMANT_CACHE:-$HOME/.cache/dormant}/bin"
binary="$bin_dir/vegeta"
marker="$bin_dir/vegeta.version"
if [ -x "$binary" ] && [ "$(cat "$marker" 2>/dev/null)" = "$version" ]; then
  echo "$binary"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "hack/vegeta.sh: Go is not installed, and vegeta is built from its Go module; install Go (https://go.dev/dl, or apt-get install golang) and run again" >&2
  exit 1
fi
mkdir -p "$bin_dir"
echo "hack/vegeta.sh: building vegeta $version from the Go module proxy (about 30 s, once)" >&2
GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "github.com/tsenart/vegeta/v12@$version" >&2
echo "$version" > "$marker"
echo "$binary"
