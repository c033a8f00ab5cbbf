#!/bin/sh
# The systemd cgroup driver, inside the systemd VM (scripts/vm-systemd): run as the service
# carrack-tests.service on systemd as PID 1, pure cgroup v2. Each test runs once with carrack
# and once with Debian's runc (names "carrack:NAME" and "runc:NAME"), so the two are compared
# line by line. Results go to the console, to /dev/vdc (the host reads them) and end with
# "N passed, N failed, N skipped".
#
# /vm (unpacked from /dev/vdb): carrack, rootfs/ (busybox), configs/*.json (made on the host,
# "@ID@" replaced here), only (test names to run, comma-separated; empty: all).
# A test is t_NAME; it returns 0 (ok) or calls fail/skip (which exit its subshell).
# shellcheck disable=SC3043
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
V=/vm
OUT=/tmp/results.txt
: > "$OUT"
pass=0 failed=0 skipped=0

say() { echo "$*"; echo "$*" >> "$OUT"; }
fail() { echo "FAIL $T: $*" >&2; echo "fail $T: $*" >> "$OUT"; exit 1; }
skip() { f=$1; shift; echo "skip $T: [$f] $*" >> "$OUT"; echo "skip $T: [$f] $*"; exit 3; }

# rtc ARGS...: the runtime under test with its own root and the systemd driver.
rtc() { "$RT" --root "$ROOT" --systemd-cgroup "$@"; }

# bundle NAME ID: /tmp/b-ID with the config NAME for container ID.
bundle() {
  local b=/tmp/b-$2
  mkdir -p "$b"
  # A copy: runc refuses a rootfs that is a symlink.
  [ -e "$b/rootfs" ] || cp -a "$V/rootfs" "$b/rootfs"
  sed "s/@ID@/$2/g" "$V/configs/$1.json" > "$b/config.json"
  echo "$b"
}

unit() { echo "carrack-test-$1.scope"; }
cgdir() { echo "/sys/fs/cgroup/system.slice/$(unit "$1")"; }
prop() { systemctl show -P "$2" "$1"; }

# gone ID: no unit, no cgroup, no state.
gone() {
  local u; u=$(unit "$1")
  if systemctl list-units --all --plain --no-legend "$u" | grep -q .; then fail "unit $u is still loaded: $(systemctl list-units --all --plain --no-legend "$u")"; fi
  [ ! -e "$(cgdir "$1")" ] || fail "$(cgdir "$1") is left"
  [ ! -e "$ROOT/$1" ] || fail "state $ROOT/$1 is left"
}

eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

t_lifecycle() {
  local id=lc$RTN b pid
  b=$(bundle sleep "$id")
  rtc create --bundle "$b" "$id" || fail "create failed"
  pid=$(rtc state "$id" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
  grep -q "0::/system.slice/$(unit $id)$" "/proc/$pid/cgroup" || fail "init is in $(cat /proc/$pid/cgroup)"
  eq "$(prop "$(unit $id)" ActiveState)" active ActiveState
  eq "$(prop "$(unit $id)" Delegate)" yes Delegate
  eq "$(prop "$(unit $id)" Slice)" system.slice Slice
  rtc start "$id" || fail "start failed"
  rtc ps "$id" | grep -q sleep || fail "ps shows no sleep: $(rtc ps "$id")"
  rtc kill "$id" KILL || fail "kill failed"
  sleep 0.5
  rtc delete "$id" || fail "delete failed"
  gone "$id"
}

t_resources() {
  local id=res$RTN b u d
  b=$(bundle resources "$id")
  rtc run -d --bundle "$b" "$id" >/dev/null || fail "run failed"
  u=$(unit $id) d=$(cgdir $id)
  eq "$(prop $u MemoryMax)" 104857600 MemoryMax
  eq "$(cat $d/memory.max)" 104857600 memory.max
  eq "$(prop $u MemoryLow)" 52428800 MemoryLow
  eq "$(cat $d/memory.low)" 52428800 memory.low
  eq "$(prop $u MemorySwapMax)" 104857600 MemorySwapMax
  eq "$(cat $d/memory.swap.max)" 104857600 memory.swap.max
  eq "$(prop $u CPUQuotaPerSecUSec)" 500ms CPUQuotaPerSecUSec
  eq "$(cat $d/cpu.max)" "50000 100000" cpu.max
  eq "$(cat $d/cpu.weight)" "$(prop $u CPUWeight)" "cpu.weight vs CPUWeight"
  eq "$(prop $u AllowedCPUs)" 0 AllowedCPUs
  eq "$(cat $d/cpuset.cpus)" 0 cpuset.cpus
  eq "$(prop $u TasksMax)" 42 TasksMax
  eq "$(cat $d/pids.max)" 42 pids.max
  eq "$(prop $u DevicePolicy)" strict DevicePolicy
  prop $u DeviceAllow | grep -q "/dev/char/1:3 rwm" || fail "DeviceAllow: $(prop $u DeviceAllow)"
  rtc exec "$id" sh -c 'echo x > /dev/null' || fail "/dev/null is not writable"
  rtc delete --force "$id" || fail "delete failed"
  gone "$id"
}

t_annotations() {
  local id=ann$RTN b
  b=$(bundle annotations "$id")
  rtc run -d --bundle "$b" "$id" >/dev/null || fail "run failed"
  eq "$(prop $(unit $id) TimeoutStopUSec)" 17s TimeoutStopUSec
  eq "$(prop $(unit $id) CollectMode)" inactive-or-failed CollectMode
  rtc delete --force "$id" || fail "delete failed"
  gone "$id"
}

t_update() {
  local id=upd$RTN b u d
  b=$(bundle resources "$id")
  rtc run -d --bundle "$b" "$id" >/dev/null || fail "run failed"
  u=$(unit $id) d=$(cgdir $id)
  rtc update --memory 209715200 --memory-swap 419430400 --pids-limit 50 "$id" || fail "update failed"
  eq "$(prop $u MemoryMax)" 209715200 MemoryMax
  eq "$(cat $d/memory.max)" 209715200 memory.max
  eq "$(prop $u TasksMax)" 50 TasksMax
  eq "$(cat $d/pids.max)" 50 pids.max
  # A daemon-reload re-applies the unit's properties: the update must survive it.
  systemctl daemon-reload
  eq "$(cat $d/memory.max)" 209715200 "memory.max after daemon-reload"
  eq "$(cat $d/pids.max)" 50 "pids.max after daemon-reload"
  rtc delete --force "$id" || fail "delete failed"
  gone "$id"
}

t_pause() {
  local id=pau$RTN b d
  b=$(bundle sleep "$id")
  rtc run -d --bundle "$b" "$id" >/dev/null || fail "run failed"
  d=$(cgdir $id)
  rtc pause "$id" || fail "pause failed"
  rtc state "$id" | grep -q '"paused"' || fail "state is not paused"
  grep -q "frozen 1" $d/cgroup.events || fail "cgroup.events: $(cat $d/cgroup.events)"
  rtc resume "$id" || fail "resume failed"
  grep -q "frozen 0" $d/cgroup.events || fail "cgroup.events after resume: $(cat $d/cgroup.events)"
  rtc kill --all "$id" KILL || fail "kill --all failed"
  sleep 0.5
  rtc delete "$id" || fail "delete failed"
  gone "$id"
}

# A runtime killed in the middle of create (a prestart hook holds it after the unit exists):
# delete --force leaves nothing.
t_killed_create() {
  local id=kc$RTN b cpid i
  b=$(bundle hook "$id")
  # The runtime itself, not a subshell running rtc: $! must be the process we kill.
  "$RT" --root "$ROOT" --systemd-cgroup create --bundle "$b" "$id" >/dev/null 2>&1 &
  cpid=$!
  i=0
  until [ -d "$(cgdir $id)" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
  systemctl is-active -q "$(unit $id)" || fail "the unit never became active"
  kill -9 $cpid
  wait $cpid 2>/dev/null
  kill -0 $cpid 2>/dev/null && fail "the runtime $cpid survived SIGKILL"
  rtc delete --force "$id" || fail "delete --force failed"
  pkill -f "sleep 37" 2>/dev/null
  gone "$id"
}

# expect_error ID PATTERN ARGS...: the runtime fails with PATTERN on stderr, leaving nothing.
expect_error() {
  local id=$1 pat=$2 err; shift 2
  if err=$("$@" 2>&1 >/dev/null); then fail "succeeded: $*"; fi
  echo "$err" | grep -q "$pat" || fail "error does not match '$pat': $err"
  [ "$(echo "$err" | wc -l)" -le 2 ] || fail "more than one line: $err"
  gone "$id"
}

t_bad_input() {
  local id=bad$RTN b
  b=$(bundle sleep "$id")
  sed -i "s/system.slice:carrack-test:$id/notaslice:carrack-test:$id/" "$b/config.json"
  expect_error "$id" "cgroupsPath\|slice" rtc create --bundle "$b" "$id"
  sed -i "s/notaslice:carrack-test:$id/$id/" "$b/config.json"
  expect_error "$id" "cgroupsPath\|slice:prefix:name" rtc create --bundle "$b" "$id"
  b=$(bundle badprop "$id")
  expect_error "$id" "NoSuchProperty\|Unknown\|unknown" rtc create --bundle "$b" "$id"
  b=$(bundle sleep "$id")
  # No bus at all: the system bus and systemd's private socket hidden in a mount namespace.
  expect_error "$id" "bus\|dbus\|D-Bus\|systemd" unshare -m sh -c \
    "mount -t tmpfs tmpfs /run/dbus && mount --bind /dev/null /run/systemd/private && \"$RT\" --root \"$ROOT\" --systemd-cgroup create --bundle \"$b\" \"$id\""
}

# The OOM killer in the scope: events reports it (the kernel's memory.events oom_kill).
t_oom() {
  local id=oom$RTN b epid i
  b=$(bundle oom "$id")
  rtc run -d --bundle "$b" "$id" >/dev/null || fail "run failed"
  eq "$(prop "$(unit $id)" MemoryMax)" 33554432 MemoryMax
  rtc events "$id" > "/tmp/events-$id" 2>&1 &
  epid=$!
  sleep 1
  # busybox dd fills a buffer of bs bytes: 64 MiB in a 32 MiB scope without swap.
  rtc exec "$id" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1 && fail "dd of 64M survived a 32M limit"
  i=0
  until grep -q '"type": *"oom"' "/tmp/events-$id" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill $epid 2>/dev/null; wait $epid 2>/dev/null
  grep -q '"type": *"oom"' "/tmp/events-$id" \
    || fail "no oom event: $(head -c 300 "/tmp/events-$id"); memory.events: $(cat "$(cgdir $id)/memory.events" 2>&1)"
  rtc delete --force "$id" || fail "delete failed"
  gone "$id"
}

# --- The engines, each in its systemd-host configuration, with $RT as the OCI runtime. ---

# The engine's name for $RT: carrack is added to each engine under that name.
ert() { case $RTN in carrack) echo carrack ;; *) echo runc ;; esac; }

# cg_of PID: the pid's v2 cgroup path.
cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }

# limits CGPATH: the scope has --memory 64m and --cpus 0.5, in systemd and in its files.
limits() {
  local cg=$1 u
  u=$(basename "$cg")
  case $u in *.scope) ;; *) fail "the container's cgroup $cg is not a scope" ;; esac
  eq "$(prop "$u" ActiveState)" active "$u ActiveState"
  eq "$(prop "$u" MemoryMax)" 67108864 "$u MemoryMax"
  eq "$(cat "/sys/fs/cgroup$cg/memory.max")" 67108864 "$cg/memory.max"
  eq "$(prop "$u" CPUQuotaPerSecUSec)" 500ms "$u CPUQuotaPerSecUSec"
  eq "$(cat "/sys/fs/cgroup$cg/cpu.max")" "50000 100000" "$cg/cpu.max"
}

# unit_gone CGPATH: no unit and no cgroup left for the container.
unit_gone() {
  local u; u=$(basename "$1")
  if systemctl list-units --all --plain --no-legend "$u" | grep -q .; then fail "unit $u is still loaded"; fi
  [ ! -e "/sys/fs/cgroup$1" ] || fail "/sys/fs/cgroup$1 is left"
}

# The engines' configuration on this host (README "On a systemd host"), written once.
engines_setup() {
  [ ! -e /tmp/engines-ready ] || return 0
  tar -C "$V/rootfs" -cf /tmp/bb-rootfs.tar .
  mkdir -p /etc/containers /etc/docker /etc/containerd
  # podman: the systemd driver (its default on a systemd host, said explicitly) and carrack.
  printf '%s\n' '[engine]' 'cgroup_manager = "systemd"' 'runtime_supports_json = ["carrack", "runc"]' \
    '[engine.runtimes]' "carrack = [\"$V/carrack\"]" > /etc/containers/containers.conf
  # dockerd: the systemd driver and carrack. No bridge or iptables: the VM has no netfilter
  # modules, and the containers use --network none.
  printf '%s\n' '{ "exec-opts": ["native.cgroupdriver=systemd"],' \
    "  \"runtimes\": { \"carrack\": { \"path\": \"$V/carrack\" } }," \
    '  "bridge": "none", "iptables": false }' > /etc/docker/daemon.json
  # containerd: the Kubernetes node configuration of the runc v2 shim (the CRI plugin's; ctr
  # hands the shim the same options with --runc-binary and --runc-systemd-cgroup).
  printf '%s\n' 'version = 2' \
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]' \
    '  runtime_type = "io.containerd.runc.v2"' \
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' \
    '  SystemdCgroup = true' "  BinaryName = \"$V/carrack\"" > /etc/containerd/config.toml
  touch /tmp/engines-ready
}

podman_image() {
  podman image exists localhost/carrack-bb \
    || podman import -q /tmp/bb-rootfs.tar localhost/carrack-bb >/dev/null || fail "podman import failed"
}

t_podman() {
  local n=pod$RTN pid cg
  engines_setup
  podman_image
  podman --runtime "$(ert)" run -d --name "$n" --network none --memory 64m --cpus 0.5 localhost/carrack-bb \
    sh -c "echo hello-$n; exec sleep 300" >/dev/null || fail "podman run failed"
  pid=$(podman inspect -f '{{.State.Pid}}' "$n")
  cg=$(cg_of "$pid")
  case $cg in /machine.slice/libpod-*.scope) ;; *) fail "cgroup $cg is not machine.slice/libpod-*.scope" ;; esac
  limits "$cg"
  eq "$(podman exec "$n" sh -c 'echo exec-$((6 * 7))')" exec-42 "podman exec"
  eq "$(podman logs "$n")" "hello-$n" "podman logs"
  podman stop -t 2 "$n" >/dev/null || fail "podman stop failed"
  eq "$(podman inspect -f '{{.State.Status}}' "$n")" exited "status after stop"
  podman rm "$n" >/dev/null || fail "podman rm failed"
  unit_gone "$cg"
}

t_containerd() {
  local n=ctr$RTN ns=carrack-test pid cg img i
  engines_setup
  systemctl start containerd || fail "containerd did not start"
  if ! ctr -n $ns images ls -q | grep -q carrack-bb; then
    podman_image
    rm -f /tmp/bb-docker.tar
    # A docker archive of the imported rootfs: ctr imports only archives.
    podman save -q -o /tmp/bb-docker.tar localhost/carrack-bb || fail "podman save failed"
    ctr -n $ns images import /tmp/bb-docker.tar >/dev/null || fail "ctr images import failed"
  fi
  img=$(ctr -n $ns images ls -q | grep carrack-bb | head -n1)
  ctr -n $ns run -d --null-io --runtime io.containerd.runc.v2 --runc-binary "$RT" --runc-systemd-cgroup \
    --cgroup "system.slice:carrack-ctr:$n" --memory-limit 67108864 --cpu-quota 50000 --cpu-period 100000 \
    "$img" "$n" sleep 300 || fail "ctr run failed"
  pid=$(ctr -n $ns task ls | awk -v n="$n" '$1 == n {print $2}')
  cg=$(cg_of "$pid")
  eq "$cg" "/system.slice/carrack-ctr-$n.scope" "the task's cgroup"
  limits "$cg"
  eq "$(ctr -n $ns task exec --exec-id e1 "$n" sh -c 'echo exec-$((6 * 7))')" exec-42 "ctr task exec"
  ctr -n $ns task kill -s SIGKILL "$n" || fail "ctr task kill failed"
  i=0
  until ctr -n $ns task ls | awk -v n="$n" '$1 == n {print $3}' | grep -q STOPPED || [ $i -ge 100 ]; do
    sleep 0.1; i=$((i + 1))
  done
  ctr -n $ns task delete "$n" >/dev/null || fail "ctr task delete failed"
  ctr -n $ns containers delete "$n" || fail "ctr containers delete failed"
  unit_gone "$cg"
}

t_docker() {
  local n=dock$RTN pid cg
  engines_setup
  systemctl start docker || fail "dockerd did not start: $(journalctl -u docker --no-pager | tail -n 5)"
  docker image inspect carrack-bb >/dev/null 2>&1 || docker import /tmp/bb-rootfs.tar carrack-bb >/dev/null \
    || fail "docker import failed"
  docker run -d --name "$n" --runtime "$(ert)" --network none --memory 64m --cpus 0.5 carrack-bb \
    sh -c "echo hello-$n; exec sleep 300" >/dev/null || fail "docker run failed"
  pid=$(docker inspect -f '{{.State.Pid}}' "$n")
  cg=$(cg_of "$pid")
  case $cg in /system.slice/docker-*.scope) ;; *) fail "cgroup $cg is not system.slice/docker-*.scope" ;; esac
  eq "$(docker inspect -f '{{.HostConfig.Runtime}}' "$n")" "$(ert)" "docker's runtime"
  limits "$cg"
  eq "$(docker exec "$n" sh -c 'echo exec-$((6 * 7))')" exec-42 "docker exec"
  eq "$(docker logs "$n")" "hello-$n" "docker logs"
  docker stop -t 2 "$n" >/dev/null || fail "docker stop failed"
  docker rm "$n" >/dev/null || fail "docker rm failed"
  unit_gone "$cg"
}

# oci-tests' cgroup cases with --systemd-cgroup (cgroupsPath system.slice:oci-test:ID). carrack
# must pass each (oci-tests/known-failures is empty); runc is the reference: its result is
# listed and only a suite that did not finish fails.
t_oci_tests() {
  local out=/tmp/oci-$RTN.txt
  "$V/oci-tests" --runtime "$RT" --systemd-cgroup --filter cgroups --jobs 2 > "$out" 2>&1
  grep -E '^(FAIL|skip) ' "$out" | cut -c1-240 | sed "s/^/  $RTN oci-tests: /" >> "$OUT"
  tail -n1 "$out" | grep -q ' passed, ' || fail "oci-tests did not finish: $(tail -n 3 "$out")"
  echo "  $RTN oci-tests --systemd-cgroup: $(tail -n1 "$out")" >> "$OUT"
  [ "$RTN" = runc ] && return 0
  if grep -q '^FAIL ' "$out"; then fail "$(grep '^FAIL ' "$out" | head -n 5)"; fi
}

# --- Rootless (issue 21): a user with a systemd user session (lingering), its own systemd
# instance on its session bus, cgroup v2 delegated by user@.service. ---

RL_USER=carrack-test-rl
# ru ARGS...: ARGS as the rootless user, in its session's environment.
ru() {
  setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups -- env -i PATH="$PATH" \
    HOME="/home/$RL_USER" USER="$RL_USER" XDG_RUNTIME_DIR="/run/user/$RL_UID" \
    DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$RL_UID/bus" "$@"
}

# The user (once): subordinate ids, linger (logind starts user@UID.service), its session
# bus, podman's vfs store (no fuse here) and the busybox image.
rootless_setup() {
  RL_UID=$(id -u "$RL_USER" 2>/dev/null) || {
    useradd -m -s /bin/sh "$RL_USER" || fail "useradd failed"
    RL_UID=$(id -u "$RL_USER")
  }
  RL_GID=$(id -g "$RL_USER")
  export RL_UID RL_GID
  [ ! -e /tmp/rootless-ready ] || return 0
  grep -q "^$RL_USER:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$RL_USER" \
    || fail "usermod --add-subuids failed"
  loginctl enable-linger "$RL_USER" || fail "loginctl enable-linger failed"
  i=0
  until [ -S "/run/user/$RL_UID/bus" ] || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
  [ -S "/run/user/$RL_UID/bus" ] || fail "no session bus: $(systemctl status "user@$RL_UID.service" 2>&1 | tail -n 5)"
  ctl=/sys/fs/cgroup/user.slice/user-$RL_UID.slice/user@$RL_UID.service/cgroup.controllers
  grep -qw memory "$ctl" || fail "user@$RL_UID.service has no memory controller delegated: $(cat "$ctl")"
  mkdir -p "/home/$RL_USER/.config/containers"
  printf '%s\n' '[storage]' 'driver = "vfs"' > "/home/$RL_USER/.config/containers/storage.conf"
  chown -R "$RL_USER:" "/home/$RL_USER"
  # As udev's 50-udev-default.rules makes it on a full host (the image has no udev): every
  # user may open tun, which slirp4netns needs.
  chmod 0666 /dev/net/tun || fail "no /dev/net/tun"
  engines_setup
  chmod 0644 /tmp/bb-rootfs.tar
  ru podman import -q /tmp/bb-rootfs.tar localhost/carrack-bb >/dev/null || fail "podman import (rootless) failed"
  touch /tmp/rootless-ready
}

# rrt ARGS...: the runtime under test as the user, with its root and the systemd driver.
rrt() { ru "$RT" --root "$root" --systemd-cgroup "$@"; }

# rl_cg SCOPE: the path a scope of the user's systemd has in user.slice of its instance.
rl_cg() { echo "/user.slice/user-$RL_UID.slice/user@$RL_UID.service/user.slice/$1"; }

# Rootless podman with $RT: run, exec, logs, a 32m memory limit that really kills, a port
# published on the VM's loopback, stop, rm.
t_rootless_podman() {
  local n=rlpod$RTN pid cg port page
  rootless_setup
  case $RTN in carrack) port=18081 ;; *) port=18082 ;; esac
  ru podman --runtime "$(ert)" run -d --name "$n" --memory 32m -p "127.0.0.1:$port:80" localhost/carrack-bb \
    sh -c "echo hello-$n; mkdir -p /www; echo page-$n > /www/index.html; exec httpd -f -p 80 -h /www" \
    >/dev/null 2>/tmp/rlpod.err || fail "podman run failed: $(tail -n 3 /tmp/rlpod.err)"
  pid=$(ru podman inspect -f '{{.State.Pid}}' "$n")
  cg=$(cg_of "$pid")
  case $cg in "$(rl_cg libpod-)"*.scope) ;; *) fail "cgroup $cg is not the user's user.slice/libpod-*.scope" ;; esac
  eq "$(cat "/sys/fs/cgroup$cg/memory.max")" 33554432 "$cg/memory.max"
  eq "$(ru podman exec "$n" sh -c 'echo exec-$((6 * 7))')" exec-42 "podman exec"
  # busybox dd fills a buffer of bs bytes: 64 MiB in a 32 MiB container.
  ru podman exec "$n" dd if=/dev/zero of=/dev/null bs=64M count=1 >/dev/null 2>&1 && fail "dd of 64M survived --memory 32m"
  grep -q "oom_kill [1-9]" "/sys/fs/cgroup$cg/memory.events" || fail "memory.events: $(cat "/sys/fs/cgroup$cg/memory.events")"
  eq "$(ru podman logs "$n")" "hello-$n" "podman logs"
  i=0 page=
  until [ -n "$page" ] || [ $i -ge 50 ]; do page=$(busybox wget -qO- "http://127.0.0.1:$port/index.html" 2>/dev/null); [ -n "$page" ] || sleep 0.2; i=$((i + 1)); done
  eq "$page" "page-$n" "http://127.0.0.1:$port/ (published port)"
  ru podman stop -t 2 "$n" >/dev/null || fail "podman stop failed"
  eq "$(ru podman inspect -f '{{.State.Status}}' "$n")" exited "status after stop"
  ru podman rm "$n" >/dev/null || fail "podman rm failed"
  [ ! -e "/sys/fs/cgroup$cg" ] || fail "/sys/fs/cgroup$cg is left"
}

# The runtime itself as the user with --systemd-cgroup and no cgroupsPath: the scope
# <runtime>-ID.scope in user.slice of the user's systemd, the memory limit in it, gone after
# delete.
t_rootless_systemd() {
  local id=rlsd$RTN b u cg pid root=/tmp/rl-root-$RTN
  rootless_setup
  b=/tmp/rl-b-$id
  rm -rf "$b"; mkdir -p "$b" "$root"
  cp -a "$V/rootfs" "$b/rootfs"
  sed "s/\"@UID@\"/$RL_UID/; s/\"@GID@\"/$RL_GID/" "$V/configs/rootless.json" > "$b/config.json"
  chown -R "$RL_USER:" "$b" "$root"
  u=$(ert)-$id.scope
  rrt run -d --bundle "$b" "$id" >/dev/null 2>/tmp/rlsd.err || fail "run failed: $(tail -n 3 /tmp/rlsd.err)"
  pid=$(rrt state "$id" | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
  cg=$(cg_of "$pid")
  eq "$cg" "$(rl_cg "$u")" "init's cgroup"
  eq "$(ru systemctl --user show -P ActiveState "$u")" active "$u ActiveState"
  eq "$(ru systemctl --user show -P MemoryMax "$u")" 33554432 "$u MemoryMax"
  eq "$(cat "/sys/fs/cgroup$cg/memory.max")" 33554432 "$cg/memory.max"
  eq "$(rrt exec "$id" sh -c 'echo exec-$((6 * 7))')" exec-42 "exec"
  rrt delete --force "$id" || fail "delete failed"
  if ru systemctl --user list-units --all --plain --no-legend "$u" | grep -q .; then fail "unit $u is still loaded"; fi
  [ ! -e "/sys/fs/cgroup$cg" ] || fail "/sys/fs/cgroup$cg is left"
}

TESTS="lifecycle resources annotations update pause killed_create bad_input oom podman containerd docker oci_tests"
TESTS="$TESTS rootless_podman rootless_systemd"
only=$(tr ',' ' ' < $V/only 2>/dev/null || true)
[ -n "$only" ] || only=$TESTS

say "systemd VM: $(systemctl --version | head -n1), kernel $(uname -r), $(grep -c ' cgroup ' /proc/mounts) cgroup v1 mounts, $(cat /sys/fs/cgroup/cgroup.controllers)"
systemctl is-system-running >/dev/null 2>&1 || true
for rt in carrack runc; do
  case $rt in carrack) RT=$V/carrack ;; runc) RT=$(command -v runc) ;; esac
  RTN=$rt ROOT=/run/test-$rt
  export RT RTN ROOT
  for t in $only; do
    T=$rt:$t
    t0=$(date +%s)
    ( "t_$t" ) >/tmp/test.log 2>&1
    rc=$?
    case $rc in
      0) pass=$((pass + 1)); say "ok $T ($(($(date +%s) - t0))s)" ;;
      3) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)); say "FAIL $T"; sed 's/^/  | /' /tmp/test.log | tail -n 15 | tee -a "$OUT" ;;
    esac
  done
done
left=$(systemctl list-units --all --plain --no-legend 'carrack-test-*')
[ -z "$left" ] || { failed=$((failed + 1)); say "FAIL leftovers: $left"; }
say "$pass passed, $failed failed, $skipped skipped"
cat "$OUT" > /dev/vdc
sync
# The results are on disk: power off now rather than wait for the service's SuccessAction
# (systemd waited for it past the timeout once; the image is opened with snapshot=on).
systemctl poweroff -ff || echo o > /proc/sysrq-trigger
