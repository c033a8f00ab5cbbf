#!/usr/bin/env bash
# Docker swarm on carrack: three nodes on this machine, each a network namespace of its own
# (veth pairs on a bridge in a fourth namespace: this host may DROP bridged traffic in its
# FORWARD chain with br_netfilter loaded) running a private dockerd (own data root, exec root,
# pid file, socket, containerd, containerd namespace and cgroup parent) with carrack as the
# default runtime. A private registry (Debian's docker-registry) on node 1. The story: build
# (RUN steps are containers), push, a replicated service with limits on an overlay network,
# pulled by the workers, reached by name; scale, rolling update, drain, a killed replica
# restarted, service logs; save/load and export/import; then nothing may be left behind. The
# image it builds is pulled from a registry by the podman, containerd and compose stories too.
# Needs root, docker.io and docker-registry. Every wait is bounded; a watchdog ends the story.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/lib.sh"
ENGINE=swarm
. "$here/lib.sh"
BIN=$(readlink -f "${CARRACK:-$here/../target/debug/carrack}")
for c in dockerd containerd containerd-shim-runc-v2 nsenter ip; do
  command -v "$c" >/dev/null || { echo "skip swarm: $c is not installed"; exit 0; }
done
apt_need busybox busybox-static
apt_need jq jq
apt_need docker-registry docker-registry || { fail registry "could not install docker-registry"; exit 1; }
# Debian's client, matching its daemon: its `docker build` is the classic builder, whose RUN
# steps are containers of the default runtime (BuildKit would run them with its own runc).
DOCKER=$(command -v /usr/bin/docker || command -v docker)
export DOCKER_BUILDKIT=0
LIMIT=${SWARM_TIME_LIMIT:-420}
t_start=$SECONDS

id=$$
tmp=$(mktemp -d /tmp/carrack-test-swarm.XXXXXX)
nsbr=carrack-test-swarm-$id-br
net=10.250.0
reg=$net.1:5000
nodes="1 2 3"
nsof() { echo "carrack-test-swarm-$id-n$1"; }
cgparent() { echo "carrack-test-swarm-$id-n$1"; }
inns() { local n=$1; shift; nsenter --net="/run/netns/$(nsof "$n")" "$@"; }
# d N ARGS: the docker client of node N, bounded (a hung daemon must not hang the story).
d() { local n=$1; shift; DOCKER_HOST=unix://$tmp/n$n/docker.sock timeout 90 "$DOCKER" "$@"; }
# wait_for SECS CMD...: poll CMD until it succeeds, at most SECS. Once a wait has timed out
# the story is broken (that step fails): later waits poll once, so the rest fails fast.
timed_out=0
wait_for() {
  local end=$((SECONDS + $1)); shift
  [ "$timed_out" = 1 ] && end=0
  while [ "$SECONDS" -lt "$end" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  "$@" >/dev/null 2>&1 && return 0
  [ "$timed_out" = 1 ] || echo "swarm[$RT_NAME]: gave up waiting for: $*"
  timed_out=1; return 1
}

# --- teardown: runs once, on success, failure or the watchdog; records what it left behind.
torn=0
teardown() {
  [ "$torn" = 1 ] && return; torn=1
  [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null && wait "$watchdog" 2>/dev/null
  # Shorter bounds than the story's: whatever does not answer is ended by pid below.
  dt() { local n=$1; shift; DOCKER_HOST=unix://$tmp/n$n/docker.sock timeout 20 "$DOCKER" "$@"; }
  dt 1 service rm web >/dev/null 2>&1
  for n in 3 2 1; do dt "$n" swarm leave --force >/dev/null 2>&1; done
  for n in $nodes; do
    dt "$n" ps -aq 2>/dev/null | xargs -r env DOCKER_HOST=unix://$tmp/n$n/docker.sock timeout 20 "$DOCKER" rm -f >/dev/null 2>&1
  done
  for n in $nodes; do [ -f "$tmp/n$n/docker.pid" ] && kill "$(cat "$tmp/n$n/docker.pid")" 2>/dev/null; done
  for n in $nodes; do
    for _ in $(seq 150); do kill -0 "${dpid[$n]:-0}" 2>/dev/null || break; sleep 0.2; done
  done
  # What is left in our namespaces (containerd, shims, registry, a stuck dockerd) and in our
  # cgroups (container processes) was started by this story: end it by pid.
  local pids n c
  for n in $nodes; do
    pids="$(ip netns pids "$(nsof "$n")" 2>/dev/null)"
    for c in /sys/fs/cgroup/*/"$(cgparent "$n")"; do
      [ -d "$c" ] && pids="$pids $(find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null)"
    done
    # shellcheck disable=SC2086
    [ -n "${pids// /}" ] && kill $pids 2>/dev/null
  done
  sleep 1
  for n in $nodes; do
    pids="$(ip netns pids "$(nsof "$n")" 2>/dev/null)"
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  done
  for p in "${bgpids[@]}"; do wait "$p" 2>/dev/null; done
  grep -o " $tmp/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for n in $nodes; do
    for c in /sys/fs/cgroup/*/"$(cgparent "$n")"; do
      [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    ip netns del "$(nsof "$n")" 2>/dev/null
  done
  ip netns del "$nsbr" 2>/dev/null
  rm -rf "$tmp"
  # dockerd and the shims make these when they are missing; empty once they are gone (not
  # checked below: another engine on this host may be using them by now).
  for r in "${made_run[@]}"; do rmdir "$r"/* "$r" 2>/dev/null; done
  local left
  left=$( { ip netns list | grep "carrack-test-swarm-$id-";
            ls -d /sys/fs/cgroup/*/carrack-test-swarm-"$id"-* 2>/dev/null;
            grep -E "carrack-test-swarm-$id-|$tmp" /proc/self/mountinfo;
            for p in "${bgpids[@]}" "${dpid[@]}"; do kill -0 "$p" 2>/dev/null && echo "pid $p"; done;
            pgrep -f "$tmp/"; } 2>/dev/null)
  if [ -z "$left" ]; then ok "teardown leaves nothing behind"; else fail "teardown leaves nothing behind" "$left"; fi
  echo "time swarm[$RT_NAME] $((SECONDS - t_start)) s"
}
trap 'teardown; [ "$fails" = 0 ]; exit $?' EXIT
trap 'echo "swarm[$RT_NAME]: stopped (signal or watchdog after $LIMIT s)"; fail watchdog "stopped"; exit 1' TERM INT
bgpids=()
declare -A dpid
made_run=()
for r in /run/docker /run/containerd; do [ -e "$r" ] || made_run+=("$r"); done
# The watchdog ends its sleep when it is ended (a stray sleep would hold our stdout open).
( trap 'kill "$sp" 2>/dev/null; exit 0' TERM; sleep "$LIMIT" & sp=$!; wait "$sp" && kill -TERM $$ ) 2>/dev/null &
watchdog=$!
phase() { echo "-- swarm[$RT_NAME] $* (at $((SECONDS - t_start)) s)"; }

# --- the machines: a bridge in a namespace of its own, three nodes on it.
phase "network"
ip netns add "$nsbr" && ip -n "$nsbr" link set lo up \
  && ip -n "$nsbr" link add br0 type bridge && ip -n "$nsbr" link set br0 up \
  || { fail network "could not make the bridge namespace"; exit 1; }
for n in $nodes; do
  ns=$(nsof "$n")
  ip netns add "$ns" && ip -n "$ns" link set lo up \
    && ip -n "$nsbr" link add "v$n" type veth peer name eth0 netns "$ns" \
    && ip -n "$nsbr" link set "v$n" master br0 up \
    && ip -n "$ns" addr add "$net.$n/24" dev eth0 && ip -n "$ns" link set eth0 up \
    || { fail network "could not make node $n"; exit 1; }
done
check "nodes reach each other" ok "$(inns 3 busybox ping -c1 -W5 "$net.1" >/dev/null 2>&1 && echo ok)"

# --- each node: its own containerd and dockerd, carrack the default runtime.
phase "daemons"
for n in $nodes; do
  dir=$tmp/n$n; mkdir -p "$dir"
  cat > "$dir/containerd.toml" <<CONF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
CONF
  inns "$n" containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 &
  bgpids+=($!)
  # A UTS namespace of its own so each node has its own hostname (swarm's node names).
  inns "$n" unshare --uts sh -c "hostname swarm-node$n; exec dockerd --data-root $dir/data \
    --exec-root $dir/exec -H unix://$dir/docker.sock --pidfile $dir/docker.pid \
    --containerd $dir/containerd.sock --containerd-namespace carrack-swarm-n$n \
    --containerd-plugins-namespace carrack-swarm-n$n-plugins --cgroup-parent /$(cgparent "$n") \
    --iptables=false --ip-masq=false --insecure-registry $reg \
    --add-runtime carrack=$BIN --default-runtime carrack" >"$dir/dockerd.log" 2>&1 &
  dpid[$n]=$!; bgpids+=($!)
done
for n in $nodes; do
  wait_for 60 d "$n" version || { fail start "dockerd $n did not come up: $(tail -3 "$tmp/n$n/dockerd.log")"; exit 1; }
done
check "default runtime on every node" "carrack carrack carrack" \
  "$(for n in $nodes; do d "$n" info -f '{{.DefaultRuntime}}'; done | xargs)"

# --- the registry on node 1: plain HTTP, an insecure registry of every daemon.
cat > "$tmp/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $tmp/registry}}
http: {addr: "$reg"}
YML
inns 1 docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
bgpids+=($!)

# --- the swarm: node 1 the manager, 2 and 3 workers.
phase "swarm"
d 1 swarm init --advertise-addr "$net.1" --listen-addr "$net.1:2377" >/dev/null 2>&1 \
  || { fail "swarm init" "$(d 1 swarm init --advertise-addr "$net.1" 2>&1 | tail -1)"; exit 1; }
token=$(d 1 swarm join-token -q worker)
for n in 2 3; do
  d "$n" swarm join --token "$token" --advertise-addr "$net.$n" --listen-addr "$net.$n:2377" "$net.1:2377" >/dev/null 2>&1
done
ready() { [ "$(d 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)" = 3 ]; }
wait_for 60 ready
check "swarm of three ready nodes" "3" "$(d 1 node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)"
nodeid() { d 1 node ls --format '{{.ID}} {{.Hostname}}' | awk -v h="swarm-node$1" '$2==h{print $1}'; }

# --- 1. build on node 1 (RUN steps run as containers), tag, push.
phase "build and push"
busybox_rootfs "$tmp/rootfs"
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
d 1 import "$tmp/busybox.tar" carrack-busybox:latest >/dev/null 2>&1 || { fail import "docker import failed"; exit 1; }
mkdir -p "$tmp/ctx"
echo "copied" > "$tmp/ctx/page.txt"
cat > "$tmp/ctx/Dockerfile" <<'DOCKERFILE'
FROM carrack-busybox
ARG VERSION=1
ENV GREETING=hello-from-swarm VERSION=$VERSION
RUN mkdir -p /www && echo "$GREETING v$VERSION" > /www/index.html
COPY page.txt /www/page.txt
RUN test -f /www/page.txt && echo built > /www/built
CMD ["sh", "-c", "hostname > /www/name; echo started $(hostname); exec httpd -f -p 8080 -h /www"]
DOCKERFILE
for v in 1 2; do
  d 1 build -q --build-arg VERSION=$v -t "$reg/web:$v" "$tmp/ctx" >"$tmp/build$v.log" 2>&1 \
    || fail "build v$v" "$(tail -3 "$tmp/build$v.log")"
done
check "build: RUN, COPY and ENV in the image" "copied built hello-from-swarm v1" \
  "$(d 1 run --rm "$reg/web:1" sh -c 'cat /www/page.txt /www/built /www/index.html' 2>&1 | xargs)"
wait_for 30 inns 1 timeout 5 busybox wget -q -O /dev/null "http://$reg/v2/"
for v in 1 2; do
  d 1 push "$reg/web:$v" >"$tmp/push$v.log" 2>&1 || fail "push v$v" "$(tail -2 "$tmp/push$v.log")"
done
check "push: the registry lists both tags" "1 2" \
  "$(inns 1 timeout 10 busybox wget -q -O - "http://$reg/v2/web/tags/list" 2>&1 | jq -r '.tags | sort | join(" ")')"
# The other stories pull this image from registries of their own serving a copy of this storage
# (integration/registry.sh; integration/run gives each runtime its REGISTRY_STORE).
if [ -n "${REGISTRY_STORE:-}" ]; then
  mkdir -p "$REGISTRY_STORE" && cp -a "$tmp/registry/." "$REGISTRY_STORE/" \
    || fail "registry storage for the other stories" "could not copy it to $REGISTRY_STORE"
fi

# --- 2. a replicated service with limits on an overlay network (dnsrr: no IPVS routing mesh).
phase "service"
d 1 network create -d overlay carrack-net >/dev/null 2>&1 || fail "overlay network" "$(d 1 network create -d overlay carrack-net2 2>&1)"
d 1 service create -d --name web --replicas 3 --network carrack-net --endpoint-mode dnsrr \
  --limit-memory 64M --limit-cpu 0.5 --stop-grace-period 2s "$reg/web:1" >/dev/null 2>&1 \
  || fail "service create" "$(d 1 service create -d --name web2 "$reg/web:1" 2>&1 | tail -1)"
# running: the service's running tasks as "node image" lines.
running() { d 1 service ps web -f desired-state=running --format '{{.Node}} {{.Image}} {{.CurrentState}}' 2>/dev/null | grep ' Running '; }
converged() { [ "$(running | wc -l)" = "$1" ] && [ "$(running | awk '{print $2}' | sort -u)" = "$reg/web:${2:-1}" ]; }
wait_for 120 converged 3
check "service: 3 replicas running" 3 "$(running | wc -l)"
check "service: one replica on each node (workers pulled)" "swarm-node1 swarm-node2 swarm-node3" \
  "$(running | awk '{print $1}' | sort | xargs)"
# Each node's replica: the runtime docker used, the runtime's own state, the process tree and
# the limits in its cgroups.
for n in $nodes; do
  cid=$(d "$n" ps -q -f label=com.docker.swarm.service.name=web | head -1)
  [ -n "$cid" ] || { fail "replica on node $n" "none"; continue; }
  full=$(d "$n" inspect -f '{{.Id}}' "$cid")
  pid=$(d "$n" inspect -f '{{.State.Pid}}' "$cid")
  check "node $n replica: runtime in docker inspect" carrack "$(d "$n" inspect -f '{{.HostConfig.Runtime}}' "$cid")"
  root=$(dirname "$(find "$tmp/n$n/exec" -maxdepth 3 -type d -name "$full" -path '*runtime-*' | head -1)")
  check "node $n replica: the runtime's state has its pid" "running $pid" \
    "$("$BIN" --root "$root" state "$full" 2>/dev/null | jq -r '"\(.status) \(.pid)"')"
  ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)
  check "node $n replica: child of its node's shim" "containerd-shim carrack-swarm-n$n" \
    "$(tr '\0' ' ' <"/proc/$ppid/cmdline" 2>/dev/null | grep -o "containerd-shim\|-namespace [^ ]*" | sed 's/-namespace //' | xargs)"
  check "node $n replica: --limit-memory in memory.limit_in_bytes" 67108864 "$(cgroup_file "$pid" memory memory.limit_in_bytes)"
  check "node $n replica: --limit-cpu in cpu.cfs_quota_us" 50000 "$(cgroup_file "$pid" cpu cpu.cfs_quota_us)"
  case "$(awk -F: '$2=="memory"{print $3}' "/proc/$pid/cgroup")" in
    "/$(cgparent "$n")/"*) ok "node $n replica: under the node's cgroup parent" ;;
    *) fail "node $n replica: under the node's cgroup parent" "$(cat "/proc/$pid/cgroup")" ;;
  esac
done

# --- 3. replicas reach each other by name over the overlay; the node reaches its replica.
phase "reach by name"
# names_from N: the hostnames served by every task of the service, asked from node N's replica.
names_from() {
  local cid
  cid=$(d "$1" ps -q -f label=com.docker.swarm.service.name=web | head -1)
  d "$1" exec "$cid" sh -c 'for ip in $(nslookup tasks.web 2>/dev/null | awk "/^Address/ && !/#53/ {print \$NF}" | grep -v :); do
      timeout 5 wget -q -O - http://$ip:8080/name; done' 2>/dev/null | sort | xargs
}
all_names=$(for n in $nodes; do d "$n" ps -q -f label=com.docker.swarm.service.name=web | xargs -r -I{} env DOCKER_HOST=unix://$tmp/n$n/docker.sock timeout 30 "$DOCKER" inspect -f '{{.Config.Hostname}}' {}; done | sort | xargs)
# Not vacuous: without three replicas no name list can match.
[ "$(wc -w <<<"$all_names")" = 3 ] || all_names="three replicas, not '$all_names'"
for n in $nodes; do
  check "node $n replica reaches all 3 replicas by name (tasks.web)" "$all_names" "$(names_from "$n")"
done
cid=$(d 2 ps -q -f label=com.docker.swarm.service.name=web | head -1)
check "a replica reaches the service by name (web)" "hello-from-swarm v1" \
  "$(d 2 exec "$cid" timeout 10 wget -q -O - http://web:8080/ 2>&1)"
# The node's side: its replica's address on docker_gwbridge (keyed by container id there; the
# ingress sandbox has one too), from the node's own namespace.
for n in $nodes; do
  cid=$(d "$n" ps -q --no-trunc -f label=com.docker.swarm.service.name=web | head -1)
  gw=$(d "$n" network inspect docker_gwbridge -f '{{range $id, $e := .Containers}}{{$id}} {{$e.IPv4Address}}{{"\n"}}{{end}}' 2>/dev/null | awk -v c="${cid:-none}" '$1==c{print $2}')
  check "node $n reaches its replica from its own namespace" "hello-from-swarm v1" \
    "$(inns "$n" timeout 10 busybox wget -q -O - "http://${gw%/*}:8080/" 2>&1)"
done

# --- 4. scale, rolling update, drain, a killed replica, logs.
phase "scale, update, drain, kill, logs"
d 1 service scale -d web=6 >/dev/null 2>&1
wait_for 120 converged 6
check "scale to 6" 6 "$(running | wc -l)"
check "scale to 6: two on each node" "2 2 2" "$(running | awk '{print $1}' | sort | uniq -c | awk '{print $1}' | xargs)"
d 1 service scale -d web=2 >/dev/null 2>&1
wait_for 120 converged 2
check "scale back to 2" 2 "$(running | wc -l)"
d 1 service update -d --update-parallelism 1 --image "$reg/web:2" web >/dev/null 2>&1
wait_for 120 converged 2 2
check "update --image: every running replica has the second tag" "$reg/web:2" "$(running | awk '{print $2}' | sort -u)"
cid=$(for n in $nodes; do d "$n" ps -q -f label=com.docker.swarm.service.name=web | sed "s/^/$n /"; done | head -1)
check "update --image: replicas serve the second version" "hello-from-swarm v2" \
  "$(d "${cid% *}" exec "${cid#* }" timeout 10 wget -q -O - http://web:8080/ 2>&1)"
# Drain a worker that has a replica: its tasks move to the other nodes.
victim=$(running | awk '$1!="swarm-node1"{print $1}' | head -1)
victim=${victim:-swarm-node2}
d 1 node update --availability drain "$(nodeid "${victim#swarm-node}")" >/dev/null 2>&1
drained() { converged 2 2 && ! running | grep -q "^$victim "; }
wait_for 120 drained
check "drain: 2 replicas run, none on the drained worker" "2 0" \
  "$(running | wc -l) $(running | grep -c "^$victim ")"
# Kill a replica's process: swarm starts a new task.
n=$(running | head -1 | awk '{print $1}'); n=${n#swarm-node}
cid=$(d "$n" ps -q -f label=com.docker.swarm.service.name=web | head -1)
[ -n "$n" ] && [ -n "$cid" ] && kill -9 "$(d "$n" inspect -f '{{.State.Pid}}' "$cid")" 2>/dev/null
failed() { [ "$(d 1 service ps web --format '{{.CurrentState}}' | grep -c '^Failed')" -ge 1 ]; }
# First the failure, then the replacement (one poll could see the old task running and the
# failure reported a moment later).
wait_for 60 failed && wait_for 120 converged 2 2
check "a killed replica fails and is replaced" "1 2" \
  "$(echo "$(d 1 service ps web --format '{{.CurrentState}}' | grep -c '^Failed') $(running | wc -l)")"
# Service logs: every running replica's start line, gathered from the nodes by the manager.
want=$(for n in $nodes; do d "$n" ps -q -f label=com.docker.swarm.service.name=web | xargs -r -I{} env DOCKER_HOST=unix://$tmp/n$n/docker.sock timeout 30 "$DOCKER" inspect -f 'started {{.Config.Hostname}}' {}; done | sort)
got=$(d 1 service logs --raw web 2>&1 | sort -u)
[ -n "$want" ] || want="the running replicas' start lines"
check "service logs: every running replica's output" "$want" "$(comm -12 <(echo "$want") <(echo "$got"))"

# --- save/load and export/import round trips, between nodes.
phase "save/load, export/import"
d 1 save "$reg/web:2" -o "$tmp/web.tar" >/dev/null 2>&1 || fail save "docker save failed"
d 3 load -i "$tmp/web.tar" >/dev/null 2>&1 || fail load "docker load failed"
check "save on node 1, load on node 3, run" "hello-from-swarm v2" \
  "$(d 3 run --rm "$reg/web:2" cat /www/index.html 2>&1)"
d 1 create --name carrack-export "$reg/web:1" >/dev/null 2>&1
d 1 export carrack-export -o "$tmp/export.tar" 2>/dev/null || fail export "docker export failed"
d 2 import "$tmp/export.tar" carrack-imported:1 >/dev/null 2>&1 || fail import "docker import of the export failed"
check "export on node 1, import on node 2, run" "copied built" \
  "$(d 2 run --rm carrack-imported:1 sh -c 'cat /www/page.txt /www/built' 2>&1 | xargs)"
d 1 rm carrack-export >/dev/null 2>&1

# --- 5. teardown through the engine, then the rest (teardown, from the EXIT trap).
phase "teardown"
d 1 service rm web >/dev/null 2>&1 && ok "service rm" || fail "service rm" failed
gone() { [ -z "$(for n in $nodes; do d "$n" ps -q -f label=com.docker.swarm.service.name=web; done)" ]; }
wait_for 60 gone
check "service rm: no replica left on any node" "" "$(for n in $nodes; do d "$n" ps -q -f label=com.docker.swarm.service.name=web; done)"
for n in 3 2; do d "$n" swarm leave >/dev/null 2>&1; done
d 1 swarm leave --force >/dev/null 2>&1
check "every node leaves the swarm" "inactive inactive inactive" \
  "$(for n in $nodes; do d "$n" info -f '{{.Swarm.LocalNodeState}}'; done | xargs)"
