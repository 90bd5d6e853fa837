#!/usr/bin/env bash
# Builds pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv (its DNS helper)
# from the Go module proxy at a pinned version into ~/.cache/dormant/pebble-<version>, once,
# and copies beside them the module's test certificates: minica.pem (the CA that signed
# pebble's API certificate), localhost-cert.pem and localhost-key.pem (that certificate and
# its key, for pebble's config). Prints the folder's path. It is a build output: never committed.
set -euo pipefail
version=v2.10.3
module=github.com/letsencrypt/pebble/v2
dir="${DORMANT_CACHE:-$HOME/.cache/dormant}/pebble-$version"
ready() {
  for f in pebble pebble-challtestsrv minica.pem localhost-cert.pem localhost-key.pem; do
    [ -s "$dir/$f" ] || return 1
  done
  [ -x "$dir/pebble" ] && [ -x "$dir/pebble-challtestsrv" ]
}
if ready; then
  echo "$dir"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "hack/pebble.sh: Go is not installed, and pebble is built from its Go module; install Go (https://go.dev/dl, or apt-get install golang) and run again" >&2
  exit 1
fi
mkdir -p "$dir"
if ! [ -x "$dir/pebble" ] || ! [ -x "$dir/pebble-challtestsrv" ]; then
  echo "hack/pebble.sh: building pebble $version from the Go module proxy (about 30 s, once)" >&2
  GOBIN="$dir" GOFLAGS=-mod=mod go install "$module/cmd/pebble@$version" "$module/cmd/pebble-challtestsrv@$version" >&2
fi
# The module's source, already in Go's module cache after the build; its files are read-only.
src="$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$src" ] || ! [ -d "$src/test/certs" ]; then
  echo "hack/pebble.sh: could not find $module@$version's source in the Go module cache" >&2
  exit 1
fi
install -m 0644 "$src/test/certs/pebble.minica.pem" "$dir/minica.pem"
install -m 0644 "$src/test/certs/localhost/cert.pem" "$dir/localhost-cert.pem"
install -m 0644 "$src/test/certs/localhost/key.pem" "$dir/localhost-key.pem"
echo "$dir"
