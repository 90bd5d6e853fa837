#!/usr/bin/env bash
# debian:trixie (13) without a registry, as hack/base-images.sh makes debian:bookworm: made
# with mmdebstrap from Debian's mirror, the host's extra CA certificates in the system
# bundle, tagged trixie, trixie-slim, 13 and 13-slim. Rebuilt only when missing or when
# this script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$("$here/containers.sh")"
stamp="$(sha256sum "$0" | cut -c1-12)"
if [ "$(podman image inspect --format '{{index .Labels "dev.dormant.bootstrap"}}' docker.io/library/debian:trixie-slim 2>/dev/null || true)" = "$stamp" ]; then
  echo "debian images are up to date ($stamp)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ca"
cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true
echo "debian-images: debian:trixie-slim with mmdebstrap (about 20 s)" >&2
mmdebstrap --variant=minbase --include=ca-certificates \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates/dormant-host"' \
  --customize-hook="sync-in $work/ca /usr/local/share/ca-certificates/dormant-host" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  trixie "$work/rootfs.tar" http://deb.debian.org/debian >&2
podman import --change 'CMD ["bash"]' --change "LABEL dev.dormant.bootstrap=$stamp" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/rootfs.tar" docker.io/library/debian:trixie-slim >/dev/null
for name in debian:trixie debian:13 debian:13-slim; do
  podman tag docker.io/library/debian:trixie-slim "docker.io/library/$name"
done
echo "debian-images: debian:trixie, trixie-slim, 13, 13-slim" >&2
