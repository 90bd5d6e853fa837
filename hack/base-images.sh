#!/usr/bin/env bash
# Base images without a registry: Debian bookworm made with mmdebstrap from Debian's
# mirror, and Node 20 on top of it (this machine's Node 20 with npm and corepack), under
# the names public Dockerfiles use. The host's extra CA certificates are baked into the
# bases' system bundle, and npm's global config (/usr/local/etc/npmrc, cafile) points npm
# and yarn at it, so that npm inside a build trusts a TLS-intercepting proxy; they reach app
# images only as part of these bases. Not NODE_EXTRA_CA_CERTS: Node would parse the
# bundle at every start of every app, about 30 ms of each cold start (sandbox.md). Where a registry is reachable, podman pulls the real images
# and this script is not needed. Rebuilt only when missing or when this script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$("$here/containers.sh")"
stamp="$(sha256sum "$0" | cut -c1-12)-$(node --version)"
if [ "$(podman image inspect --format '{{index .Labels "dev.dormant.bootstrap"}}' docker.io/library/node:20-slim 2>/dev/null || true)" = "$stamp" ]; then
  echo "base images are up to date ($stamp)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ca"
cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true

echo "base-images: debian:bookworm-slim with mmdebstrap (about 20 s)" >&2
mmdebstrap --variant=minbase --include=ca-certificates,libstdc++6 \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates/dormant-host"' \
  --customize-hook="sync-in $work/ca /usr/local/share/ca-certificates/dormant-host" \
  --customize-hook='chroot "$1" update-ca-certificates' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar" http://deb.debian.org/debian >&2
podman import --change 'CMD ["bash"]' --change "LABEL dev.dormant.bootstrap=$stamp" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$work/rootfs.tar" docker.io/library/debian:bookworm-slim >/dev/null
for name in debian:bookworm debian:12 debian:12-slim; do
  podman tag docker.io/library/debian:bookworm-slim "docker.io/library/$name"
done

echo "base-images: node:20 on it, from this machine's Node $(node --version)" >&2
mkdir -p "$work/node/bin" "$work/node/lib"
cp -L "$(command -v node)" "$work/node/bin/node"
node_modules="$(dirname "$(readlink -f "$(command -v npm)")")/../.."
cp -a "$node_modules/npm" "$node_modules/corepack" "$work/node/lib/"
cat > "$work/node/Containerfile" <<CONTAINERFILE
FROM docker.io/library/debian:bookworm-slim
COPY bin/node /usr/local/bin/node
COPY lib/ /usr/local/lib/node_modules/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack \
 && mkdir -p /usr/local/etc \
 && echo 'cafile=/etc/ssl/certs/ca-certificates.crt' > /usr/local/etc/npmrc \
 && node --version && npm --version
ENV NODE_VERSION=$(node --version | cut -c2-)
LABEL dev.dormant.bootstrap=$stamp
CMD ["node"]
CONTAINERFILE
podman build -q -t docker.io/library/node:20-slim "$work/node" >/dev/null
for name in node:20 node:20-bookworm node:20-bookworm-slim node:lts-slim node:lts; do
  podman tag docker.io/library/node:20-slim "docker.io/library/$name"
done
podman images --filter "label=dev.dormant.bootstrap=$stamp" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' >&2
