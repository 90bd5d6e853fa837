#!/usr/bin/env bash
# Python base images without a registry, under the names public Dockerfiles use and that
# detected Python apps run over: python:3.11 (Debian bookworm), 3.13 (trixie), 3.14 and
# 3.15 (sid), each with -slim and -SUITE variants, python:3 / latest / slim for the newest.
# Each is Debian's own interpreter (the only Pythons these machines can fetch: stacks.md),
# made with mmdebstrap, with a virtual environment at /usr/local as the official images
# have their Python there: /usr/local/bin/python, python3 and pip, and `pip install` works
# without --break-system-packages. The host's extra CA certificates are in the system
# bundle and pip's global config points at it (as for the node images). Rebuilt only when
# missing or when this script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$("$here/containers.sh")"
stamp="$(sha256sum "$0" | cut -c1-12)"
newest=3.15
# version suite: the suite whose interpreter each image has (checked on Debian's mirror, December 2026).
lines=("3.11 bookworm" "3.13 trixie" "3.14 sid" "3.15 sid")
fresh=1
for line in "${lines[@]}"; do
  set -- $line
  [ "$(podman image inspect --format '{{index .Labels "dev.dormant.bootstrap"}}' "docker.io/library/python:$1-slim" 2>/dev/null || true)" = "$stamp" ] || fresh=0
done
if [ "$fresh" = 1 ]; then
  echo "python images are up to date ($stamp)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ca"
cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true

for line in "${lines[@]}"; do
  set -- $line
  version="$1" suite="$2"
  echo "python-images: python:$version from Debian $suite with mmdebstrap (about 30 s)" >&2
  # ensurepip inside a virtual environment takes pip from Debian's python3-pip-whl (a dependency of python3.X-venv).
  # A mirror that is a snapshot serves Release files past their Valid-Until date (seen here for sid).
  mmdebstrap --variant=minbase --include="ca-certificates,python$version,python$version-venv" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates/dormant-host"' \
    --customize-hook="sync-in $work/ca /usr/local/share/ca-certificates/dormant-host" \
    --customize-hook='chroot "$1" update-ca-certificates' \
    --customize-hook="chroot \"\$1\" python$version -m venv --without-scm-ignore-files /usr/local 2>/dev/null || chroot \"\$1\" python$version -m venv /usr/local" \
    --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ndisable-pip-version-check = true\n" > "$1/etc/pip.conf"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/local/lib/python*/site-packages/pip/_vendor/distlib/*.exe' \
    "$suite" "$work/python-$version.tar" http://deb.debian.org/debian >&2
  full="$(tar -xOf "$work/python-$version.tar" ./usr/local/pyvenv.cfg | sed -n 's/^version *= *//p')"
  [ -n "$full" ] || { echo "python-images: python:$version has no /usr/local/pyvenv.cfg" >&2; exit 1; }
  podman import --change 'CMD ["python3"]' --change "LABEL dev.dormant.bootstrap=$stamp" \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change "ENV PYTHON_VERSION=$full" \
    "$work/python-$version.tar" "docker.io/library/python:$version-slim" >/dev/null
  rm -f "$work/python-$version.tar"
  for tag in "$version" "$version-$suite" "$version-slim-$suite" "$full" "$full-slim" "$full-$suite" "$full-slim-$suite"; do
    podman tag "docker.io/library/python:$version-slim" "docker.io/library/python:$tag"
  done
  echo "python-images: python:$version is Python $full" >&2
done
# The moving tags, as Docker Hub has them in December 2026.
for tag in 3 3-slim latest slim; do
  podman tag "docker.io/library/python:$newest-slim" "docker.io/library/python:$tag"
done
podman images --filter "label=dev.dormant.bootstrap=$stamp" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep python >&2
