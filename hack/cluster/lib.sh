# Settings shared by hack/cluster/up, down and test.sh: one cluster per machine, all of
# its state under one folder. Sourced, not run.
# shellcheck shell=bash
cluster_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$cluster_here/../.." && pwd)"
state="${DORMANT_CLUSTER_DIR:-/tmp/dormant-cluster}"
cache="${DORMANT_CACHE:-$HOME/.cache/dormant}"
node_name=dormant-node
network_name=dormant-cluster
bridge=dormant0
# The pods' subnet. Its gateway, on the bridge, is also the node's address: the kubelet and
# the apiserver refuse loopback addresses, and this one never leaves the machine.
pod_cidr=10.244.0.0/24
node_ip=10.244.0.1
service_cidr=10.96.0.0/16
api_port=6443
etcd_port=2379
etcd_peer_port=2380
registry=127.0.0.1:5000
kubelet_port=10250
kubelet_healthz_port=10248
controller_manager_port=10257
scheduler_port=10259
kube_proxy_healthz_port=10256
kube_proxy_metrics_port=10249
containerd_socket="$state/containerd/containerd.sock"
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"

# Components in start order; down stops them in reverse.
components=(etcd kube-apiserver apiserver-forward registry containerd kubelet kube-proxy kube-controller-manager kube-scheduler)

# A pid file holds "PID START": START is the process's start time (field 22 of
# /proc/PID/stat), so a pid the kernel has since given to another process is never taken
# for the component (and never signalled).
start_time() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
record_pid() { echo "$2 $(start_time "$2")" >"$state/pids/$1"; }
pid_of() {
  local pid start
  read -r pid start <"$state/pids/$1" 2>/dev/null || return 0
  [ -n "$pid" ] && [ "$(start_time "$pid")" = "$start" ] && echo "$pid"
  return 0
}
# A process that exited but is not yet reaped counts as gone: this VM's PID 1 reaps
# orphans only every few seconds.
running() { local stat; stat="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null)" && [ "${stat%% *}" != Z ]; }
alive() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && running "$pid"; }
say() { echo "cluster: $*" >&2; }
