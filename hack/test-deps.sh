#!/usr/bin/env bash
# What the tests need beyond npm, installed when missing (npm test runs this first): git,
# ssh and ssh-keygen for real pushes, python3 for the Procfile app the push tests deploy,
# chromium for the waiting page's test in a real browser (driven by playwright-core),
# podman and its tools (hack/containers.sh), and the base images Dockerfiles build FROM and
# detected apps run over (hack/base-images.sh, python-images.sh, jdk-images.sh,
# golang-images.sh, debian-images.sh). Each part is skipped
# when already in place.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
command -v git >/dev/null || missing+=(git)
command -v ssh >/dev/null || missing+=(openssh-client)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v python3 >/dev/null || missing+=(python3)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "hack/test-deps.sh: the tests need ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -yq --no-install-recommends "${missing[@]}" >&2
fi
bash "$here/containers.sh" >/dev/null
bash "$here/base-images.sh"
bash "$here/python-images.sh"
bash "$here/jdk-images.sh"
bash "$here/golang-images.sh"
bash "$here/debian-images.sh"
# Let's Encrypt's ACME test server, for the ACME test (test/acme.test.ts).
bash "$here/pebble.sh" >/dev/null
