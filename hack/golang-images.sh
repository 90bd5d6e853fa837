#!/usr/bin/env bash
# Go base images without a registry, under the names public Dockerfiles use: golang:1.24,
# 1.25, 1.26 and 1.27 (the newest patch release of each, from the Go module proxy's
# golang.org/toolchain modules, checked against the checksum database as Dormant checks
# them: hack/go-toolchain.mts), each also -bookworm and full-version tags, golang:1 and
# latest for the newest. As the official images: Debian bookworm with git, gcc, libc6-dev,
# make and pkg-config (cgo works), Go at /usr/local/go, GOPATH=/go, both bin folders on
# PATH, GOTOOLCHAIN=local. The host's extra CA certificates are in the system bundle.
# Rebuilt only when missing or when this script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$("$here/containers.sh")"
stamp="$(cat "$0" "$here/go-toolchain.mts" | sha256sum | cut -c1-12)"
lines=(1.24 1.25 1.26 1.27)
fresh=1
for line in "${lines[@]}"; do
  [ "$(podman image inspect --format '{{index .Labels "dev.dormant.bootstrap"}}' "docker.io/library/golang:$line" 2>/dev/null || true)" = "$stamp" ] || fresh=0
done
if [ "$fresh" = 1 ]; then
  echo "golang images are up to date ($stamp)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ca"
cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true

echo "golang-images: the build base (Debian bookworm with git, gcc, make) with mmdebstrap (about a minute)" >&2
mmdebstrap --variant=minbase --include=ca-certificates,git,gcc,libc6-dev,make,pkg-config,openssh-client \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates/dormant-host"' \
  --customize-hook="sync-in $work/ca /usr/local/share/ca-certificates/dormant-host" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/base.tar" http://deb.debian.org/debian >&2
podman import --change "LABEL dev.dormant.bootstrap=$stamp" "$work/base.tar" localhost/dormant/golang-base:bookworm >/dev/null
rm -f "$work/base.tar"

newest=""
for line in "${lines[@]}"; do
  read -r version folder < <(node --import tsx "$here/go-toolchain.mts" "$line")
  rm -rf "$work/go" && cp -a "$folder" "$work/go" && rm -f "$work/go/.complete"
  cat > "$work/Containerfile" <<CONTAINERFILE
FROM localhost/dormant/golang-base:bookworm
COPY go/ /usr/local/go/
ENV GOLANG_VERSION=$version GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
LABEL dev.dormant.bootstrap=$stamp
CMD ["bash"]
CONTAINERFILE
  podman build -q -f "$work/Containerfile" -t "docker.io/library/golang:$line" "$work" >/dev/null
  for tag in "$line-bookworm" "$version" "$version-bookworm"; do
    podman tag "docker.io/library/golang:$line" "docker.io/library/golang:$tag"
  done
  echo "golang-images: golang:$line is Go $version" >&2
  newest="$line"
done
for tag in 1 1-bookworm latest bookworm; do
  podman tag "docker.io/library/golang:$newest" "docker.io/library/golang:$tag"
done
podman images --filter "label=dev.dormant.bootstrap=$stamp" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep golang >&2
