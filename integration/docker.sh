#!/usr/bin/env bash
# Docker on carrack: a private dockerd (own data root, exec root, socket, pid file) inside its
# own network namespace (so its bridges and iptables rules never touch the host), with carrack
# added as a runtime. Walks docker run/logs/exec/exec -it/top/pause/stop/kill/rm, limits and
# update, a layered image, and a two-service docker-compose app. Needs root and docker.io.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
ENGINE=docker
. "$here/lib.sh"
. "$here/registry.sh"
BIN=$(readlink -f "${CARRACK:-$here/../target/debug/carrack}")
command -v dockerd >/dev/null || { skip no-dockerd docker "dockerd is not installed"; exit; }

tmp=$(mktemp -d /tmp/carrack-docker-test.XXXXXX)
# Our own cgroup parent (dockerd's default /docker would stay behind), removed at the end.
cgparent=carrack-test-docker-$$
sock=$tmp/docker.sock
unshare --net --fork sh -c "ip link set lo up; exec dockerd --data-root $tmp/data --exec-root $tmp/exec \
  -H unix://$sock --pidfile $tmp/docker.pid --add-runtime carrack=$BIN --default-runtime carrack \
  --cgroup-parent /$cgparent --insecure-registry $REG" \
  >"$tmp/dockerd.log" 2>&1 &
upid=$!
export DOCKER_HOST=unix://$sock
cleanup() {
  registry_down
  docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  [ -f "$tmp/docker.pid" ] && kill "$(cat "$tmp/docker.pid")" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$upid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$upid" 2>/dev/null; wait "$upid" 2>/dev/null
  grep -o " $tmp/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for d in /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/"$cgparent"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { fail start "dockerd did not come up: $(tail -3 "$tmp/dockerd.log")"; exit 1; }

busybox_rootfs "$tmp/rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
docker import "$tmp/busybox.tar" carrack-busybox:latest >/dev/null || { fail import "docker import failed"; exit 1; }
img=carrack-busybox
# This host caps nofile at 20000 without CAP_SYS_RESOURCE (runc fails the same way without it).
O=(--ulimit nofile=20000:20000)

out=$(docker run --rm "${O[@]}" "$img" sh -c 'echo hello; exit 3' 2>&1); rc=$?
check "run output" "hello" "$out"
check "run exit code" 3 "$rc"
check "runtime is carrack" "carrack" "$(docker info -f '{{.DefaultRuntime}}')"

docker run -d --name carrack-d1 "${O[@]}" "$img" sh -c 'echo out; echo err >&2; trap "echo bye; exit 0" TERM; while true; do sleep 0.1; done' >/dev/null \
  || fail "run -d" "could not start"
sleep 1
check "logs" "err out" "$(docker logs carrack-d1 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')"
check "exec" "exec-ok" "$(docker exec carrack-d1 echo exec-ok 2>&1)"
check "exec exit code" 5 "$(docker exec carrack-d1 sh -c 'exit 5' >/dev/null 2>&1; echo $?)"
out=$(timeout 30 script -qec "docker exec -it carrack-d1 sh -c 'tty; echo tty-ok'" /dev/null 2>&1 | tr -d '\r\0')
case "$out" in *"/dev/pts/"*"tty-ok"*) ok "exec -it" ;; *) fail "exec -it" "$out" ;; esac
case "$(docker top carrack-d1 2>&1)" in *"sleep 0.1"*) ok top ;; *) fail top "no sleep in top" ;; esac
if docker pause carrack-d1 >/dev/null 2>&1; then
  check "pause" "paused" "$(docker inspect -f '{{.State.Status}}' carrack-d1)"
  docker unpause carrack-d1 >/dev/null 2>&1
  check "unpause" "running" "$(docker inspect -f '{{.State.Status}}' carrack-d1)"
else
  fail pause "$(docker pause carrack-d1 2>&1)"
fi
docker stop -t 10 carrack-d1 >/dev/null 2>&1
check "stop delivers SIGTERM" "bye" "$(docker logs carrack-d1 2>/dev/null | tail -1)"
check "exit code after stop" "0" "$(docker inspect -f '{{.State.ExitCode}}' carrack-d1)"
docker rm -f carrack-d1 >/dev/null 2>&1 && ok "rm -f" || fail "rm -f" failed

docker run -d --name carrack-d2 "${O[@]}" "$img" sh -c 'trap "" TERM; sleep 100' >/dev/null
t0=$(date +%s); docker stop -t 1 carrack-d2 >/dev/null 2>&1; t1=$(date +%s)
check "stop escalates to SIGKILL" "137" "$(docker inspect -f '{{.State.ExitCode}}' carrack-d2)"
[ $((t1 - t0)) -lt 10 ] && ok "stop timeout honoured" || fail "stop timeout honoured" "$((t1 - t0)) s"
docker rm -f carrack-d2 >/dev/null 2>&1

# Limits the user sets are in the container's cgroup files, and update changes them.
docker run -d --name carrack-d3 "${O[@]}" --memory 64m --cpus 0.5 --pids-limit 50 "$img" sleep 100 >/dev/null 2>&1 \
  || fail limits "run with limits failed: $(docker run --rm "${O[@]}" --memory 64m "$img" true 2>&1 | tail -1)"
if docker inspect carrack-d3 >/dev/null 2>&1; then
  pid=$(docker inspect -f '{{.State.Pid}}' carrack-d3)
  cg() { cgroup_file "$pid" "$1" "$2"; }
  check "--memory in memory.limit_in_bytes" 67108864 "$(cg memory memory.limit_in_bytes)"
  check "--cpus in cpu.cfs_quota_us" 50000 "$(cg cpu cpu.cfs_quota_us)"
  check "--pids-limit in pids.max" 50 "$(cg pids pids.max)"
  docker update --memory 128m --memory-swap 256m carrack-d3 >/dev/null 2>&1
  check "update --memory" 134217728 "$(cg memory memory.limit_in_bytes)"
  docker rm -f carrack-d3 >/dev/null 2>&1
fi

# Errors reach the user: carrack's message, and the exit code engines give for it (127).
out=$(docker run --rm "${O[@]}" "$img" /nope 2>&1); rc=$?
case "$out" in *'"/nope"'*) ok "error message reaches the user" ;; *) fail "error message reaches the user" "$out" ;; esac
check "exit code of a missing binary" 127 "$rc"

# A layered image: the upper layer overwrites a file of the lower one.
docker run --name carrack-d4 "${O[@]}" "$img" sh -c 'echo upper > /etc/group' >/dev/null 2>&1
docker commit carrack-d4 carrack-layered >/dev/null 2>&1 || fail commit "docker commit failed"
docker rm -f carrack-d4 >/dev/null 2>&1
check "layered image" "upper" "$(docker run --rm "${O[@]}" carrack-layered cat /etc/group 2>&1)"

# docker-compose: two services, one reaching the other over the compose network.
if command -v docker-compose >/dev/null; then
  mkdir -p "$tmp/app"
  cat > "$tmp/app/docker-compose.yml" <<YML
version: "2.4"
services:
  web:
    image: carrack-busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    ulimits: {nofile: {soft: 20000, hard: 20000}}
  client:
    image: carrack-busybox
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://web:8080/group && exit 0; sleep 0.5; done; exit 1"]
    ulimits: {nofile: {soft: 20000, hard: 20000}}
    depends_on: [web]
YML
  (cd "$tmp/app" && docker-compose -p carrack-compose up -d >/dev/null 2>&1) || fail "compose up" "$(cd "$tmp/app" && docker-compose -p carrack-compose up -d 2>&1 | tail -2)"
  cid=$(cd "$tmp/app" && docker-compose -p carrack-compose ps -q client 2>/dev/null)
  if [ -n "$cid" ]; then
    docker wait "$cid" >/dev/null 2>&1
    check "compose: client reaches web" "0" "$(docker inspect -f '{{.State.ExitCode}}' "$cid")"
  fi
  (cd "$tmp/app" && docker-compose -p carrack-compose down -t 1 >/dev/null 2>&1) && ok "compose down" || fail "compose down" failed

  # The same story with the image swarm.sh built (RUN, COPY, ENV, CMD), pulled by compose from
  # a private plain-HTTP registry in dockerd's network namespace: web is that image's CMD.
  t_reg=$SECONDS
  if registry_have_image && registry_up "$tmp" "/proc/$upid/ns/net"; then
    mkdir -p "$tmp/regapp"
    cat > "$tmp/regapp/docker-compose.yml" <<YML
version: "2.4"
services:
  web:
    image: $REG_IMAGE
    hostname: carrack-reg
    ulimits: {nofile: {soft: 20000, hard: 20000}}
  client:
    image: carrack-busybox
    command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://web:8080/index.html && wget -q -O - http://web:8080/page.txt && wget -q -O - http://web:8080/name && exit 0; sleep 0.5; done; exit 1"]
    ulimits: {nofile: {soft: 20000, hard: 20000}}
    depends_on: [web]
YML
    dc() { (cd "$tmp/regapp" && timeout 120 docker-compose -p carrack-regapp "$@"); }
    # One compose call per step (each costs seconds): up pulls web; docker reads the rest.
    out=$(dc up -d 2>&1) && ok "compose, registry image: up pulls it" || fail "compose, registry image: up pulls it" "$(tail -2 <<<"$out")"
    registry_down
    svc() { docker ps -aq -f label=com.docker.compose.project=carrack-regapp -f "label=com.docker.compose.service=$1"; }
    cid=$(svc client)
    [ -n "$cid" ] && timeout 30 docker wait "$cid" >/dev/null 2>&1
    check "compose, registry image: client gets its CMD's page, COPY'd file and hostname" \
      "hello-from-swarm v1 copied carrack-reg" "$( [ -n "$cid" ] && docker logs "$cid" 2>&1 | xargs)"
    wid=$(svc web)
    check "compose, registry image: its CMD's output" "started carrack-reg" "$( [ -n "$wid" ] && docker logs "$wid" 2>&1)"
    check "compose, registry image: its ENV" "hello-from-swarm 1" \
      "$( [ -n "$wid" ] && docker exec "$wid" sh -c 'echo $GREETING $VERSION' 2>&1)"
    dc down -t 1 >/dev/null 2>&1 && ok "compose, registry image: down" || fail "compose, registry image: down" failed
  fi
  echo "time docker[$RT_NAME] registry image $((SECONDS - t_reg)) s"
else
  skip no-docker-compose "docker compose" "docker-compose is not installed"
fi

[ "$fails" = 0 ]
