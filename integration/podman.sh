#!/usr/bin/env bash
# podman on carrack, end to end: a private podman (own storage, runroot, events, no systemd)
# with carrack as its runtime walks the user story of an engine. Needs root and podman
# (scripts/test installs it). Prints ok/FAIL/skip lines and exits non-zero on a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
ENGINE=podman
. "$here/lib.sh"
. "$here/registry.sh"
BIN=$(readlink -f "${CARRACK:-$here/../target/debug/carrack}")
command -v podman >/dev/null || { skip no-podman podman "podman is not installed"; exit; }

tmp=$(mktemp -d /tmp/carrack-podman-test.XXXXXX)
conf=$tmp/containers.conf
cat > "$conf" <<CONF
[engine]
runtime = "carrack"
# podman passes --log-format=json --log FILE only to runtimes it lists here.
runtime_supports_json = ["carrack"]
[engine.runtimes]
carrack = ["$BIN"]
CONF
export CONTAINERS_CONF=$conf
P=(podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs --cgroup-manager cgroupfs
   --events-backend file --tmpdir "$tmp/tmp")
# This host caps nofile at 20000 without CAP_SYS_RESOURCE: podman's default 1048576 fails with
# runc too. Podman's default seccomp profile is used (carrack applies it).
# Our own cgroup parent (podman's default /libpod_parent would stay behind), removed at the end.
cgparent=carrack-test-podman-$$
O=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --cgroup-parent "/$cgparent")
cleanup() {
  registry_down
  "${P[@]}" rm -fa -t 0 >/dev/null 2>&1
  "${P[@]}" rmi -fa >/dev/null 2>&1
  # conmon runs in <parent>/conmon; both go once empty (rmdir never removes a busy cgroup).
  for d in /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/"$cgparent"; do [ -d "$d" ] && rmdir "$d/conmon" "$d" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

busybox_rootfs "$tmp/rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
"${P[@]}" import "$tmp/busybox.tar" localhost/carrack-busybox >/dev/null 2>&1 || { fail import "podman import failed"; exit 1; }
img=localhost/carrack-busybox

out=$("${P[@]}" run --rm "${O[@]}" "$img" sh -c 'echo hello; exit 3' 2>&1); rc=$?
check "run output (containers.conf runtime)" "hello" "$out"
check "run exit code" 3 "$rc"

out=$("${P[@]}" --runtime "$BIN" run --rm "${O[@]}" "$img" cat /proc/1/cmdline 2>&1 | tr '\0' ' ')
check "run with --runtime path" "cat /proc/1/cmdline " "$out"

"${P[@]}" run -d --name carrack-p1 "${O[@]}" "$img" sh -c 'echo out; echo err >&2; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done' >/dev/null \
  || fail "run -d" "could not start"
sleep 1
check "logs stdout+stderr" "out err" "$("${P[@]}" logs carrack-p1 2>&1 | sort -r | tr '\n' ' ' | sed 's/ $//')"
check "exec" "exec-ok" "$("${P[@]}" exec carrack-p1 sh -c 'echo exec-ok' 2>&1)"
check "exec exit code" 7 "$("${P[@]}" exec carrack-p1 sh -c 'exit 7' >/dev/null 2>&1; echo $?)"
out=$(timeout 30 script -qec "${P[*]} exec -it carrack-p1 sh -c 'tty; echo tty-ok'" /dev/null 2>&1 | tr -d '\r\0')
case "$out" in *"/dev/pts/"*"tty-ok"*) ok "exec -it" ;; *) fail "exec -it" "$out" ;; esac
case "$("${P[@]}" top carrack-p1 2>&1)" in *"sleep 0.1"*) ok top ;; *) fail top "no sleep in top" ;; esac
"${P[@]}" pause carrack-p1 >/dev/null 2>&1
check pause "paused" "$("${P[@]}" inspect -f '{{.State.Status}}' carrack-p1 2>&1)"
"${P[@]}" unpause carrack-p1 >/dev/null 2>&1
check unpause "running" "$("${P[@]}" inspect -f '{{.State.Status}}' carrack-p1 2>&1)"
"${P[@]}" stop -t 10 carrack-p1 >/dev/null 2>&1
check "stop delivers SIGTERM" "bye" "$("${P[@]}" logs carrack-p1 2>&1 | tail -1)"
check "state after stop" "exited" "$("${P[@]}" inspect -f '{{.State.Status}}' carrack-p1 2>&1)"
"${P[@]}" rm -f carrack-p1 >/dev/null 2>&1 && ok "rm -f" || fail "rm -f" "failed"

"${P[@]}" run -d --name carrack-p2 "${O[@]}" "$img" sleep 100 >/dev/null
"${P[@]}" kill -s KILL carrack-p2 >/dev/null 2>&1
"${P[@]}" wait carrack-p2 >/dev/null 2>&1
check "kill" "137" "$("${P[@]}" inspect -f '{{.State.ExitCode}}' carrack-p2 2>&1)"
"${P[@]}" rm -f -t 0 carrack-p2 >/dev/null 2>&1

# Limits the user sets are in the container's cgroup files.
if [ -f /sys/fs/cgroup/memory/cgroup.procs ]; then
  "${P[@]}" run -d --name carrack-p4 "${O[@]}" --memory 64m --pids-limit 50 "$img" sleep 100 >/dev/null 2>&1
  pid=$("${P[@]}" inspect -f '{{.State.Pid}}' carrack-p4 2>/dev/null)
  cg() { cgroup_file "$pid" "$1" "$2"; }
  check "--memory in memory.limit_in_bytes" 67108864 "$(cg memory memory.limit_in_bytes)"
  check "--pids-limit in pids.max" 50 "$(cg pids pids.max)"
  "${P[@]}" rm -f -t 0 carrack-p4 >/dev/null 2>&1
else
  skip no-v1-hierarchy "podman limits" "no v1 memory hierarchy (pure v2 is covered by scripts/vm-test)"
fi

# Errors reach the user: carrack's message, and the exit code engines give for it (127).
out=$("${P[@]}" run --rm "${O[@]}" "$img" /nope 2>&1); rc=$?
case "$out" in *'"/nope"'*) ok "error message reaches the user" ;; *) fail "error message reaches the user" "$out" ;; esac
check "exit code of a missing binary" 127 "$rc"

# A layered image: the upper layer overwrites a file of the lower one.
"${P[@]}" run --name carrack-p3 "${O[@]}" "$img" sh -c 'echo upper > /etc/group' >/dev/null 2>&1
"${P[@]}" commit carrack-p3 localhost/carrack-layered >/dev/null 2>&1 || fail commit "podman commit failed"
"${P[@]}" rm -f carrack-p3 >/dev/null 2>&1
check "layered image" "upper" "$("${P[@]}" run --rm "${O[@]}" localhost/carrack-layered cat /etc/group 2>&1)"

# The image swarm.sh built (RUN, COPY, ENV, CMD), pulled from a private plain-HTTP registry.
t_reg=$SECONDS
if registry_have_image && registry_up "$tmp"; then
  out=$(in_registry_net "${P[@]}" pull --tls-verify=false "$REG_IMAGE" 2>&1) \
    && ok "registry image: pull --tls-verify=false" || fail "registry image: pull --tls-verify=false" "$(tail -2 <<<"$out")"
  registry_down
  check "registry image: its ENV and the files of its RUN and COPY steps" "$REG_WANT" \
    "$("${P[@]}" run --rm --pull=never "${O[@]}" "$REG_IMAGE" sh -c "$REG_SCRIPT" 2>&1 | xargs)"
  # Its CMD: prints a line, then serves /www on 8080 (reached on the container's own loopback).
  "${P[@]}" run -d --pull=never --name carrack-p5 --hostname carrack-reg --network none "${O[@]}" "$REG_IMAGE" >/dev/null 2>&1 \
    || fail "registry image: run its CMD" "could not start"
  served() { "${P[@]}" exec carrack-p5 timeout 5 wget -q -O - http://127.0.0.1:8080/ 2>&1; }
  for _ in $(seq 25); do [ "$(served)" = "hello-from-swarm v1" ] && break; sleep 0.2; done
  check "registry image: its CMD serves the page" "hello-from-swarm v1" "$(served)"
  check "registry image: its CMD's output" "started carrack-reg" "$("${P[@]}" logs carrack-p5 2>&1)"
  "${P[@]}" rm -f -t 0 carrack-p5 >/dev/null 2>&1
fi
echo "time podman[$RT_NAME] registry image $((SECONDS - t_reg)) s"

# Leftovers: no container state of ours remains.
left=$(ls "$tmp/run/runc" "$tmp/run/carrack" 2>/dev/null | grep -v '^$' || true)
[ -z "$left" ] && ok "no runtime state left" || fail "no runtime state left" "$left"

[ "$fails" = 0 ]
