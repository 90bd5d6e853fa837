#!/usr/bin/env bash
# JDK base images without a registry, under the names public Dockerfiles use and that
# detected Maven apps build and run over: eclipse-temurin:17 (Debian bookworm's OpenJDK
# 17), 21 and 25 (trixie's), each also tagged -jdk, -jre and -SUITE (the JRE tags are the
# JDK: Debian's headless JDK is what these machines can fetch), and maven:3.9-eclipse-
# temurin-N with Maven from Maven Central (its sha512 checked). As in the official images,
# the JDK is at /opt/java/openjdk (a link to Debian's) with JAVA_HOME set and its bin first
# on PATH. The host's extra CA certificates are in the system bundle and Java's trust store.
# Rebuilt only when missing or when this script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$("$here/containers.sh")"
stamp="$(sha256sum "$0" | cut -c1-12)"
maven=3.9.16
# major suite: the suite whose OpenJDK each image has (checked on Debian's mirror, December 2026).
lines=("17 bookworm" "21 trixie" "25 trixie")
fresh=1
for line in "${lines[@]}"; do
  set -- $line
  for image in "eclipse-temurin:$1" "maven:$maven-eclipse-temurin-$1"; do
    [ "$(podman image inspect --format '{{index .Labels "dev.dormant.bootstrap"}}' "docker.io/library/$image" 2>/dev/null || true)" = "$stamp" ] || fresh=0
  done
done
if [ "$fresh" = 1 ]; then
  echo "jdk images are up to date ($stamp)" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ca"
cp /usr/local/share/ca-certificates/*.crt "$work/ca/" 2>/dev/null || true

echo "jdk-images: Maven $maven from Maven Central" >&2
central=https://repo.maven.apache.org/maven2/org/apache/maven/apache-maven/$maven
curl -fsS --retry 3 -o "$work/maven.tar.gz" "$central/apache-maven-$maven-bin.tar.gz"
echo "$(curl -fsS --retry 3 "$central/apache-maven-$maven-bin.tar.gz.sha512" | cut -c1-128)  $work/maven.tar.gz" | sha512sum -c --quiet
mkdir -p "$work/maven" && tar -xzf "$work/maven.tar.gz" -C "$work/maven" --strip-components=1 --no-same-owner

for line in "${lines[@]}"; do
  set -- $line
  major="$1" suite="$2"
  echo "jdk-images: eclipse-temurin:$major from Debian $suite's openjdk-$major with mmdebstrap (about a minute)" >&2
  mmdebstrap --variant=minbase --include="ca-certificates,ca-certificates-java,openjdk-$major-jdk-headless" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --essential-hook='mkdir -p "$1/usr/share/man/man1"' \
    --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates/dormant-host"' \
    --customize-hook="sync-in $work/ca /usr/local/share/ca-certificates/dormant-host" \
    --customize-hook='chroot "$1" update-ca-certificates' \
    --customize-hook="mkdir -p \"\$1/opt/java\" && ln -s /usr/lib/jvm/java-$major-openjdk-amd64 \"\$1/opt/java/openjdk\"" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    "$suite" "$work/jdk-$major.tar" http://deb.debian.org/debian >&2
  podman import --change 'CMD ["jshell"]' --change "LABEL dev.dormant.bootstrap=$stamp" \
    --change 'ENV JAVA_HOME=/opt/java/openjdk' \
    --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$work/jdk-$major.tar" "docker.io/library/eclipse-temurin:$major" >/dev/null
  rm -f "$work/jdk-$major.tar"
  version="$(podman run --rm "docker.io/library/eclipse-temurin:$major" sh -c 'java -XshowSettings:properties -version 2>&1 | sed -n "s/^ *java.runtime.version = //p"')"
  for tag in "$major-jdk" "$major-jre" "$major-$suite" "$major-jdk-$suite" "$major-jre-$suite"; do
    podman tag "docker.io/library/eclipse-temurin:$major" "docker.io/library/eclipse-temurin:$tag"
  done
  cat > "$work/Containerfile-$major" <<CONTAINERFILE
FROM docker.io/library/eclipse-temurin:$major
COPY maven/ /usr/share/maven/
RUN ln -s /usr/share/maven/bin/mvn /usr/local/bin/mvn && mvn -v
ENV MAVEN_HOME=/usr/share/maven
LABEL dev.dormant.bootstrap=$stamp
CMD ["mvn"]
CONTAINERFILE
  podman build -q -f "$work/Containerfile-$major" -t "docker.io/library/maven:$maven-eclipse-temurin-$major" "$work" >/dev/null
  for tag in "3.9-eclipse-temurin-$major" "3-eclipse-temurin-$major"; do
    podman tag "docker.io/library/maven:$maven-eclipse-temurin-$major" "docker.io/library/maven:$tag"
  done
  echo "jdk-images: eclipse-temurin:$major is Java $version; maven:3.9-eclipse-temurin-$major adds Maven $maven" >&2
done
for tag in latest; do
  podman tag docker.io/library/eclipse-temurin:25 "docker.io/library/eclipse-temurin:$tag"
done
podman images --filter "label=dev.dormant.bootstrap=$stamp" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E 'temurin|maven' >&2
