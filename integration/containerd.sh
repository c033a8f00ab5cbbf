#!/usr/bin/env bash
# containerd on carrack: a private containerd (own root, state, socket) runs containers with
# `ctr run --runc-binary carrack` through the runc v2 shim. Needs root, containerd and podman
# (to turn the busybox rootfs into an OCI archive); scripts/test installs them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
ENGINE=containerd
. "$here/lib.sh"
. "$here/registry.sh"
BIN=$(readlink -f "${CARRACK:-$here/../target/debug/carrack}")
for c in containerd ctr containerd-shim-runc-v2 podman; do
  command -v "$c" >/dev/null || { skip "no-$c" containerd "$c is not installed"; exit; }
done

tmp=$(mktemp -d /tmp/carrack-containerd-test.XXXXXX)
sock=$tmp/containerd.sock
cat > "$tmp/config.toml" <<CONF
version = 2
root = "$tmp/root"
state = "$tmp/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
CONF
containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
cpid=$!
# containerd puts containers under the cgroup /<namespace>/<id>; runc leaves that parent behind,
# so the namespace is unique and its cgroup directories are removed (rmdir: only when empty).
ns=carrack-test-ctr-$$
CTR=(ctr --address "$sock" --namespace "$ns")
cleanup() {
  registry_down
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 0.2
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks rm -f "$t" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers rm "$c" >/dev/null 2>&1; done
  "${CTR[@]}" images rm localhost/carrack-busybox:latest >/dev/null 2>&1
  kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  # containerd's snapshot mounts live under our root; unmount before removing it.
  grep -o " $tmp/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for d in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/"$ns"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  podman --root "$tmp/pstore" --runroot "$tmp/prun" --storage-driver vfs rmi -fa >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { fail start "containerd did not come up: $(tail -3 "$tmp/containerd.log")"; exit 1; }

# Image: busybox rootfs -> podman import -> OCI archive -> ctr import.
busybox_rootfs "$tmp/rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
PM=(podman --root "$tmp/pstore" --runroot "$tmp/prun" --storage-driver vfs --events-backend file)
"${PM[@]}" import "$tmp/busybox.tar" localhost/carrack-busybox:latest >/dev/null 2>&1
"${PM[@]}" save --format oci-archive -o "$tmp/busybox-oci.tar" localhost/carrack-busybox:latest >/dev/null 2>&1
"${CTR[@]}" images import --base-name localhost/carrack-busybox "$tmp/busybox-oci.tar" >/dev/null 2>&1 \
  || "${CTR[@]}" images import "$tmp/busybox-oci.tar" >/dev/null 2>&1 || { fail import "ctr images import failed"; exit 1; }
img=$("${CTR[@]}" images ls -q | head -1)
RUN=("${CTR[@]}" run --runtime io.containerd.runc.v2 --runc-binary "$BIN")

out=$("${RUN[@]}" --rm "$img" carrack-c1 sh -c 'echo hello; exit 4' 2>&1); rc=$?
check "run output" "hello" "$out"
check "run exit code" 4 "$rc"

"${RUN[@]}" -d --memory-limit 67108864 --cpus 0.5 "$img" carrack-c2 sleep 100 >/dev/null 2>&1 || fail "run -d" "failed"
check "task running" "RUNNING" "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $3}')"

# Limits: what ctr asked for is in the task's cgroup files; the Tasks API's Update (what a
# Kubernetes node's CRI plugin calls; ctr has no update verb) changes them while it runs.
task_pid=$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $2}')
limits() {
  echo "memory=$(cgroup_file "$task_pid" memory memory.limit_in_bytes)" \
    "cpu=$(cgroup_file "$task_pid" cpu cpu.cfs_quota_us)/$(cgroup_file "$task_pid" cpu cpu.cfs_period_us)" \
    "pids=$(cgroup_file "$task_pid" pids pids.max)"
}
check "limits from ctr run" "memory=67108864 cpu=50000/100000 pids=max" "$(limits)"
upd='{"memory":{"limit":134217728},"cpu":{"quota":150000,"period":100000},"pids":{"limit":64}}'
/usr/bin/python3 "$here/ctr-update.py" "$sock" "$ns" carrack-c2 "$upd" 2>"$tmp/update.err" \
  && ok "task update" || fail "task update" "$(cat "$tmp/update.err")"
check "limits after update" "memory=134217728 cpu=150000/100000 pids=64" "$(limits)"
check "exec" "exec-ok" "$("${CTR[@]}" tasks exec --exec-id e1 carrack-c2 sh -c 'echo exec-ok' 2>&1)"
pids=$("${CTR[@]}" tasks ps carrack-c2 2>&1 | tail -n +2 | wc -l)
check "tasks ps" 1 "$pids"
"${CTR[@]}" tasks pause carrack-c2 >/dev/null 2>&1
check "pause" "PAUSED" "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $3}')"
"${CTR[@]}" tasks resume carrack-c2 >/dev/null 2>&1
check "resume" "RUNNING" "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $3}')"
"${CTR[@]}" tasks exec -d --exec-id e2 carrack-c2 sleep 100 >/dev/null 2>&1
check "tasks ps after exec" 2 "$("${CTR[@]}" tasks ps carrack-c2 2>&1 | tail -n +2 | wc -l)"
"${CTR[@]}" tasks kill --all -s KILL carrack-c2 >/dev/null 2>&1
for _ in $(seq 50); do [ "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $3}')" = STOPPED ] && break; sleep 0.1; done
check "kill" "STOPPED" "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c2"{print $3}')"
"${CTR[@]}" tasks rm carrack-c2 >/dev/null 2>&1 && ok "tasks rm" || fail "tasks rm" "failed"
"${CTR[@]}" containers rm carrack-c2 >/dev/null 2>&1

# The image swarm.sh built (RUN, COPY, ENV, CMD), pulled from a private plain-HTTP registry
# (ctr fetches in the client: it runs in the registry's namespace, containerd need not).
t_reg=$SECONDS
if registry_have_image && registry_up "$tmp"; then
  out=$(in_registry_net "${CTR[@]}" images pull --plain-http "$REG_IMAGE" 2>&1) \
    && ok "registry image: pull --plain-http" || fail "registry image: pull --plain-http" "$(tail -2 <<<"$out")"
  registry_down
  check "registry image: its ENV and the files of its RUN and COPY steps" "$REG_WANT" \
    "$("${RUN[@]}" --rm "$REG_IMAGE" carrack-c3 sh -c "$REG_SCRIPT" 2>&1 | xargs)"
  # Its CMD: prints a line (to a log file), then serves /www on 8080 on the task's loopback.
  "${RUN[@]}" -d --log-uri "file://$tmp/c4.log" "$REG_IMAGE" carrack-c4 >/dev/null 2>&1 \
    || fail "registry image: run its CMD" "could not start"
  # served WHAT: WHAT from the task's httpd, asked from inside the task.
  served() { "${CTR[@]}" tasks exec --exec-id "w$RANDOM" carrack-c4 timeout 5 wget -q -O - "http://127.0.0.1:8080/${1:-}" 2>&1; }
  for _ in $(seq 25); do [ "$(served)" = "hello-from-swarm v1" ] && break; sleep 0.2; done
  check "registry image: its CMD serves the page" "hello-from-swarm v1" "$(served)"
  # ctr sets no hostname: the CMD wrote the one it saw to /www/name and printed it.
  name=$(served name)
  check "registry image: its CMD's output" "started ${name:-(no /www/name)}" "$(cat "$tmp/c4.log" 2>&1)"
  "${CTR[@]}" tasks kill -s KILL carrack-c4 >/dev/null 2>&1
  for _ in $(seq 50); do [ "$("${CTR[@]}" tasks ls | awk '$1=="carrack-c4"{print $3}')" = STOPPED ] && break; sleep 0.1; done
  "${CTR[@]}" tasks rm carrack-c4 >/dev/null 2>&1
  "${CTR[@]}" containers rm carrack-c4 >/dev/null 2>&1
fi
echo "time containerd[$RT_NAME] registry image $((SECONDS - t_reg)) s"

[ "$fails" = 0 ]
