#!/usr/bin/env bash
# Container tooling for Dormant on Debian 12: podman with runc (crun refuses this cgroup
# layout), bubblewrap to run images in the sandbox, mmdebstrap for base images, docker-registry for a local registry. Installs what
# is missing (as root), writes Dormant's containers.conf and prints its path; Dormant's
# podman calls use it through CONTAINERS_CONF, so /etc is left alone.
set -euo pipefail
cache="${DORMANT_CACHE:-$HOME/.cache/dormant}"
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v slirp4netns >/dev/null || missing+=(slirp4netns)
# bubblewrap runs Dockerfile apps' images in the sandbox (podman only builds them).
command -v bwrap >/dev/null || missing+=(bubblewrap)
# --init: the app is not PID 1 in its container, so SIGTERM stops it as on the host.
[ -x /usr/libexec/podman/catatonit ] || [ -x /usr/bin/catatonit ] || missing+=(catatonit)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "hack/containers.sh: install ${missing[*]} first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "hack/containers.sh: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -yq --no-install-recommends "${missing[@]}" >&2
fi
mkdir -p "$cache"
conf="$cache/containers.conf"
# rlimits above the host's hard limits make runc fail where CAP_SYS_RESOURCE is missing
# (containers.md); nofile and nproc must be given together.
cat > "$conf.tmp" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
mv "$conf.tmp" "$conf"
echo "$conf"
