#!/usr/bin/env bash
# npm run test:cluster [-- FILTER...]: runs every *.cluster.ts (test/cluster/, runtime/...) against the test
# cluster. Brings the cluster up first when it is not, and takes it down afterwards in that
# case only (a cluster that was already up is left as it was).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ ! -d "$state" ]; then
  trap 'bash "$cluster_here/down"' EXIT
fi
kubeconfig="$(bash "$cluster_here/up")"
cd "$repo"
files=()
for f in $(find . -name "*.cluster.ts" -not -path "./node_modules/*" -not -path "./dist/*" | sed "s|^\./||" | sort); do
  if [ "$#" -eq 0 ]; then files+=("$f"); else for x in "$@"; do [[ "$f" == *"$x"* ]] && files+=("$f") && break; done; fi
done
[ "${#files[@]}" -gt 0 ] || { echo "no cluster test matches $*" >&2; exit 1; }
KUBECONFIG="$kubeconfig" DORMANT_CLUSTER_DIR="$state" node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
