#!/bin/sh
# carrack on pure cgroup v2, run inside the test VM by /init (scripts/vm-test builds it all).
#
#   sh tests.sh [NAME...]     run the tests (all when none is named), one process each, with a
#                             timeout; prints one line per test and a VM-TEST-RESULT line.
#   sh tests.sh --one NAME    run one test in this process.
#
# A test is a function t_NAME that ends with `ok`, or calls `fail DETAIL` / `skip FACT REASON`
# (each exits: every test runs in its own process). To add one: write t_NAME, add NAME to
# TESTS; a new config variant goes in scripts/vm/configs.
# Runs under busybox ash, which has `local`; lists are split on purpose.
# shellcheck disable=SC3043,SC2086
TESTS="version features run_output lifecycle cgroup_placement default_cgroup_path
  delete_force_cgroup exec_cgroup cgroupns_root cgroup_mount_v2 cgroupns_mount_view
  exec_cgroupns nested_subcgroup exec_delegated ps_json pause_resume devices resources update
  events_stats memory_oom events_oom relative_nested cgroup_born_inside mounts seccomp_docker
  create_frozen_parent"
TEST_TIMEOUT=60

ROOT=/run/carrack-vm
CG=/sys/fs/cgroup
WORK=/tmp/carrack-vm-tests

# --- helpers (for the test functions) ---------------------------------------------------------

# carrack with the test state root; its stderr and log (warnings go only there) are kept for
# the failure detail.
cr() { carrack --root "$ROOT" --log "$LOG" "$@" 2>>"$ERR"; }

ok() { echo "ok $NAME"; exit 0; }
# skip FACT REASON: FACT names a host fact; scripts/vm-test fails the run in CI unless it is in
# tests/allowed-skips.
skip() { f=$1; shift; echo "skip $NAME: [$f] $*"; exit 0; }
fail() {
  local err=""
  [ -s "$ERR" ] && err=" | carrack stderr: $(tail -c 600 "$ERR" | tr '\n' ' ')"
  [ -s "$LOG" ] && err="$err | carrack log: $(tail -c 600 "$LOG" | tr '\n' ' ')"
  echo "FAIL $NAME: $(echo "$*" | tr '\n' ' ')$err"
  exit 1
}

# bundle CONFIG CMD: a fresh bundle at $B running CMD (as `/bin/sh /cmd.sh`) with
# /vm/configs/CONFIG.json, for container $ID.
bundle() {
  B=$WORK/$ID
  rm -rf "$B" && mkdir -p "$B" && cp -a /vm/rootfs "$B/rootfs" || fail "cannot make bundle $B"
  printf '%s\n' "$2" > "$B/rootfs/cmd.sh"
  sed "s/@ID@/$ID/g" "/vm/configs/$1.json" > "$B/config.json"
}

# state_field ID FIELD: a string or number field of `carrack state`.
state_field() {
  cr state "$1" | tr -d ' \n' | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
status() { state_field "$1" status; }

# wait_status ID WANT: poll for up to 10 s of VM time (a busy container slows each poll).
wait_status() {
  local end=$(( $(uptime_cs) + 1000 ))
  while [ "$(uptime_cs)" -lt $end ]; do
    [ "$(status "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  [ "$(status "$1")" = "$2" ]
}

uptime_cs() { tr -d . < /proc/uptime | cut -d' ' -f1; }

# create_started CONFIG CMD: create and start $ID (stdio away from our pipes); sets PID.
create_started() {
  bundle "$1" "$2"
  cr create -b "$B" "$ID" </dev/null >"$WORK/$ID.out" || fail "create failed"
  cr start "$ID" || fail "start failed"
  wait_status "$ID" running || fail "status $(status "$ID") after start, want running"
  PID=$(state_field "$ID" pid)
}

# The container's cgroup dir for the base config (cgroupsPath /carrack-vm/<id>).
cgdir() { echo "$CG/carrack-vm/$ID"; }

cleanup() {
  cr delete --force "$ID" >/dev/null 2>&1
  rm -rf "$WORK/${ID:?}"
}

# --- tests --------------------------------------------------------------------------------------

t_version() {
  out=$(cr --version) || fail "--version failed"
  echo "$out" | grep -q '^carrack version ' || fail "unexpected --version output: $out"
  echo "$out" | grep -q '^spec: 1\.' || fail "no spec line: $out"
  ok
}

t_features() {
  out=$(cr features) || fail "features failed: $out"
  cg=$(echo "$out" | tr -d ' \n\t' | grep -o '"cgroup":{[^}]*}')
  [ -n "$cg" ] || fail "no linux.cgroup in: $(echo "$out" | head -c 300)"
  echo "$cg" | grep -q '"v2":true' || fail "cgroup v2 not reported: $cg"
  echo "$cg" | grep -q '"v1":false' || fail "cgroup v1 reported on a pure v2 host: $cg"
  # The seccomp ABIs of this arch's kernel, and none other.
  archs=$(echo "$out" | tr -d ' \n\t' | grep -o '"archs":\[[^]]*\]')
  case $(uname -m) in
    aarch64) want='"archs":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"]' ;;
    x86_64) want='"archs":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]' ;;
    *) want=$archs ;;
  esac
  [ "$archs" = "$want" ] || fail "seccomp $archs on $(uname -m), want $want"
  ok
}

t_run_output() {
  bundle base 'echo hello-from-vm; exit 3'
  out=$(cr run -b "$B" "$ID" </dev/null)
  rc=$?
  [ "$out" = hello-from-vm ] || fail "output '$out', want hello-from-vm"
  [ $rc = 3 ] || fail "exit code $rc, want 3"
  [ ! -e "$(cgdir)" ] || fail "cgroup $(cgdir) left after run"
  ok
}

t_lifecycle() {
  bundle base 'exec sleep 1000'
  cr create -b "$B" "$ID" </dev/null >/dev/null || fail "create failed"
  s=$(status "$ID"); [ "$s" = created ] || fail "status '$s' after create, want created"
  cr start "$ID" || fail "start failed"
  wait_status "$ID" running || fail "status '$(status "$ID")' after start, want running"
  pid=$(state_field "$ID" pid)
  [ -d "/proc/$pid" ] || fail "init pid '$pid' not alive"
  cr kill "$ID" KILL || fail "kill failed"
  wait_status "$ID" stopped || fail "status '$(status "$ID")' after kill, want stopped"
  cr delete "$ID" || fail "delete failed"
  cr state "$ID" >/dev/null 2>&1 && fail "state still succeeds after delete"
  [ ! -e "$(cgdir)" ] || fail "cgroup $(cgdir) left after delete"
  ok
}

# Init is in the container's cgroup already while created (before start), as seen both from the
# cgroup (cgroup.procs) and from the process (/proc/PID/cgroup).
t_cgroup_placement() {
  bundle base 'exec sleep 1000'
  cr create -b "$B" "$ID" </dev/null >/dev/null || fail "create failed"
  pid=$(state_field "$ID" pid)
  d=$(cgdir)
  [ -d "$d" ] || fail "no cgroup dir $d (cgroup root has: $(ls $CG | tr '\n' ' '))"
  grep -qx "$pid" "$d/cgroup.procs" || fail "init $pid not in $d/cgroup.procs: $(cat "$d/cgroup.procs")"
  own=$(cat "/proc/$pid/cgroup")
  [ "$own" = "0::/carrack-vm/$ID" ] || fail "/proc/$pid/cgroup is '$own'"
  cr start "$ID" || fail "start failed"
  grep -qx "$pid" "$d/cgroup.procs" || fail "after start, $pid not in cgroup.procs: $(cat "$d/cgroup.procs")"
  ok
}

# No cgroupsPath: "<id>" relative to the parent of our cgroup (we are in the root cgroup).
t_default_cgroup_path() {
  bundle nocgpath 'exec sleep 1000'
  cr create -b "$B" "$ID" </dev/null >/dev/null || fail "create failed"
  pid=$(state_field "$ID" pid)
  [ -d "$CG/$ID" ] || fail "no cgroup dir $CG/$ID"
  grep -qx "$pid" "$CG/$ID/cgroup.procs" || fail "init $pid not in $CG/$ID/cgroup.procs"
  cr delete --force "$ID" || fail "delete --force failed"
  [ ! -e "$CG/$ID" ] || fail "$CG/$ID left after delete --force"
  ok
}

# delete --force on a running container with children: every process gone, cgroup dir gone.
t_delete_force_cgroup() {
  create_started base 'sleep 1000 & sleep 1000 & wait'
  d=$(cgdir)
  i=0
  while [ "$(wc -l < "$d/cgroup.procs")" -lt 3 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  procs=$(tr '\n' ' ' < "$d/cgroup.procs")
  [ "$(echo $procs | wc -w)" -ge 3 ] || fail "want 3 processes in $d, have: $procs"
  cr delete --force "$ID" || fail "delete --force failed"
  [ ! -e "$d" ] || fail "cgroup $d left after delete --force (procs: $(cat "$d/cgroup.procs" 2>&1))"
  for p in $procs; do
    [ ! -d "/proc/$p" ] || fail "process $p ($(tr '\0' ' ' < "/proc/$p/cmdline")) survived"
  done
  cr state "$ID" >/dev/null 2>&1 && fail "state still succeeds after delete --force"
  ok
}

# exec lands in the container's cgroup, seen from inside and from the cgroup.
t_exec_cgroup() {
  create_started base 'exec sleep 1000'
  out=$(cr exec "$ID" cat /proc/self/cgroup </dev/null) || fail "exec failed: $out"
  [ "$out" = "0::/carrack-vm/$ID" ] || fail "exec'd process in '$out', want 0::/carrack-vm/$ID"
  cr exec -d "$ID" sleep 777 </dev/null >/dev/null || fail "exec -d failed"
  d=$(cgdir)
  found=
  for p in $(cat "$d/cgroup.procs"); do
    [ "$(tr '\0' ' ' < "/proc/$p/cmdline")" = "sleep 777 " ] && found=$p
  done
  [ -n "$found" ] || fail "exec -d process not in $d/cgroup.procs: $(tr '\n' ' ' < "$d/cgroup.procs")"
  ok
}

t_cgroupns_root() {
  bundle cgroupns 'cat /proc/self/cgroup'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed ($?): $out"
  [ "$out" = "0::/" ] || fail "in a cgroup namespace /proc/self/cgroup is '$out', want 0::/"
  ok
}

# exec joins the container's cgroup namespace too, so it sees the same root.
t_exec_cgroupns() {
  create_started cgroupns 'exec sleep 1000'
  out=$(cr exec "$ID" cat /proc/self/cgroup </dev/null) || fail "exec failed: $out"
  [ "$out" = "0::/" ] || fail "exec'd process sees '$out', want 0::/"
  ok
}

# A container that manages its own sub-cgroups (systemd, docker-in-docker): with a cgroup
# namespace and a writable cgroup mount it moves itself into a child; delete --force removes
# the whole tree.
t_nested_subcgroup() {
  create_started cgroupns_rw 'mkdir /sys/fs/cgroup/inner && echo $$ > /sys/fs/cgroup/inner/cgroup.procs && exec sleep 1000'
  d=$(cgdir)
  inner=
  for i in 1 2 3 4 5 6 7 8 9 10; do
    grep -qx "$PID" "$d/inner/cgroup.procs" 2>/dev/null && inner=1 && break
    sleep 0.2
  done
  [ -n "$inner" ] || fail "init $PID did not move into $d/inner: $(cat "/proc/$PID/cgroup" 2>&1); container stdout: $(cat "$WORK/$ID.out")"
  cr delete --force "$ID" || fail "delete --force failed"
  [ ! -e "$d" ] || fail "$d left after delete --force: $(find "$d" -type d | tr '\n' ' ')"
  ok
}

# As docker-in-docker and systemd do: init moves into a child cgroup and enables a controller
# for the children, so no process may join the container's top cgroup (EBUSY, "no internal
# processes"). exec must still work; runc (since PR #2416) then joins init's cgroup.
t_exec_delegated() {
  create_started cgroupns_rw_pids 'mkdir /sys/fs/cgroup/init && echo $$ > /sys/fs/cgroup/init/cgroup.procs && echo +pids > /sys/fs/cgroup/cgroup.subtree_control && exec sleep 1000'
  d=$(cgdir)
  for i in 1 2 3 4 5 6 7 8 9 10; do
    grep -qw pids "$d/cgroup.subtree_control" 2>/dev/null && break
    sleep 0.2
  done
  grep -qw pids "$d/cgroup.subtree_control" \
    || fail "setup: the container did not delegate (subtree_control '$(cat "$d/cgroup.subtree_control")'; $(cat "$WORK/$ID.out"))"
  out=$(cr exec "$ID" cat /proc/self/cgroup </dev/null) || fail "exec into a container whose top cgroup has controllers enabled failed: $out"
  [ "$out" = "0::/init" ] || fail "exec'd process in '$out', want init's cgroup 0::/init (as runc)"
  ok
}

# The spec's {"type":"cgroup"} mount at /sys/fs/cgroup is a cgroup2 one on a v2 host.
t_cgroup_mount_v2() {
  bundle base 'grep " /sys/fs/cgroup " /proc/self/mounts'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed: $out"
  set -- $out
  [ "$3" = cgroup2 ] || fail "/sys/fs/cgroup in the container: '$out', want type cgroup2"
  case ",$4," in *,ro,*) ;; *) fail "/sys/fs/cgroup not read-only: '$out'" ;; esac
  ok
}

# With a cgroup namespace the mount shows the container's own cgroup as its root.
t_cgroupns_mount_view() {
  bundle cgroupns 'grep " /sys/fs/cgroup " /proc/self/mounts; echo procs: $(cat /sys/fs/cgroup/cgroup.procs)'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed: $out"
  echo "$out" | head -n1 | grep -q ' cgroup2 ' || fail "not cgroup2: $out"
  procs=$(echo "$out" | sed -n 's/^procs: //p')
  # pid 1 is sh, plus the cat forked by it.
  set -- $procs
  [ "$1" = 1 ] && [ $# -le 2 ] || fail "cgroup.procs at the mount's root: '$procs', want '1 <cat>'"
  ok
}

# ps lists the cgroup's processes, as pids of the host.
t_ps_json() {
  create_started base 'exec sleep 1000'
  out=$(cr ps --format json "$ID") || fail "ps failed: $out"
  [ "$(echo "$out" | tr -d ' \n')" = "[$PID]" ] || fail "ps --format json: '$out', want [$PID]"
  ok
}

# pause/resume is cgroup.freeze on v2: state paused and cgroup.events "frozen 1", then back.
t_pause_resume() {
  create_started base 'exec sleep 1000'
  d=$(cgdir)
  cr pause "$ID" || fail "pause failed"
  s=$(status "$ID"); [ "$s" = paused ] || fail "status '$s' after pause, want paused"
  grep -qx 'frozen 1' "$d/cgroup.events" || fail "cgroup.events after pause: $(tr '\n' ' ' < "$d/cgroup.events")"
  cr resume "$ID" || fail "resume failed"
  s=$(status "$ID"); [ "$s" = running ] || fail "status '$s' after resume, want running"
  grep -qx 'frozen 0' "$d/cgroup.events" || fail "cgroup.events after resume: $(tr '\n' ' ' < "$d/cgroup.events")"
  ok
}

# create under a frozen parent is refused, naming the reason, and leaves nothing: on v2 init is
# born in the new dir (CLONE_INTO_CGROUP), which the frozen parent would freeze at once.
t_create_frozen_parent() {
  p=$CG/carrack-vm-frozen
  mkdir -p "$p" || fail "mkdir $p"
  trap 'cleanup; echo 0 > "$p/cgroup.freeze"; rmdir "$p/$ID" "$p" 2>/dev/null' EXIT
  echo 1 > "$p/cgroup.freeze" || fail "cannot freeze $p"
  bundle frozen 'true'
  cr create -b "$B" "$ID" </dev/null >/dev/null && fail "create under a frozen parent succeeded"
  grep -q 'frozen cgroup' "$ERR" || fail "the error does not name the frozen cgroup"
  [ ! -e "$p/$ID" ] || fail "$p/$ID left behind"
  cr state "$ID" >/dev/null 2>&1 && fail "the state of $ID left behind"
  ok
}

# The device rules are a BPF program on v2 (no devices.allow file): a device node the container
# has (linux.devices) but is not allowed to use (linux.resources.devices) cannot be opened.
t_devices() {
  cmd='echo x > /dev/null && echo null-ok; echo "<7>carrack-vm devices test" > /dev/carrack-kmsg && echo kmsg-written || echo kmsg-refused'
  bundle devdeny "$cmd"
  out=$(cr run -b "$B" "$ID" </dev/null 2>&1) || fail "run (deny) failed: $out"
  echo "$out" | grep -q null-ok || fail "an allowed device (/dev/null) is refused: $out"
  echo "$out" | grep -q kmsg-refused || fail "a device outside linux.resources.devices is usable: $(echo "$out" | tr '\n' ' ')"
  ID=$ID-allow
  bundle devallow "$cmd"
  out=$(cr run -b "$B" "$ID" </dev/null 2>&1) || fail "run (allow) failed: $out"
  echo "$out" | grep -q kmsg-written || fail "a device allowed by linux.resources.devices is refused: $(echo "$out" | tr '\n' ' ')"
  ok
}

t_resources() {
  bundle resources 'exec sleep 1000'
  cr create -b "$B" "$ID" </dev/null >/dev/null || fail "create failed"
  d=$(cgdir)
  parent=$(cat "$CG/carrack-vm/cgroup.subtree_control" 2>&1)
  [ -e "$d/memory.max" ] || fail "no $d/memory.max (memory not enabled; parent subtree_control: '$parent')"
  [ -e "$d/pids.max" ] || fail "no $d/pids.max (pids not enabled; parent subtree_control: '$parent')"
  mem=$(cat "$d/memory.max") pids=$(cat "$d/pids.max")
  [ "$mem" = 33554432 ] || fail "memory.max is '$mem', want 33554432"
  [ "$pids" = 42 ] || fail "pids.max is '$pids', want 42"
  ok
}

# memory.max is enforced: with no swap in the VM, init growing past it is OOM-killed.
t_memory_oom() {
  # dd's 64 MiB buffer is touched by the read: 4 times the limit.
  bundle oom 'exec dd if=/dev/zero of=/dev/null bs=64M count=1'
  cr create -b "$B" "$ID" </dev/null >"$WORK/$ID.out" || fail "create failed"
  cr start "$ID" || fail "start failed"
  d=$(cgdir)
  wait_status "$ID" stopped || fail "still $(status "$ID") 10 s after start: not OOM-killed (memory.max $(cat "$d/memory.max" 2>&1), memory.current $(cat "$d/memory.current" 2>&1))"
  kills=$(sed -n 's/^oom_kill //p' "$d/memory.events" 2>/dev/null)
  [ "${kills:-0}" -ge 1 ] || fail "stopped but memory.events has oom_kill '${kills}' ($(tr '\n' ' ' < "$d/memory.events" 2>&1))"
  ok
}

# `events` streams {"type":"oom","id":…} when the kernel OOM-kills in the container (v2:
# memory.events polled for POLLPRI), between its stats lines.
t_events_oom() {
  bundle oom 'while [ ! -e /go ]; do sleep 0.05; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1'
  cr create -b "$B" "$ID" </dev/null >"$WORK/$ID.out" || fail "create failed"
  cr start "$ID" || fail "start failed"
  cr events --interval 1s "$ID" >"$WORK/$ID.events" &
  ev=$!
  sleep 0.5
  touch "$B/rootfs/go"
  end=$(( $(uptime_cs) + 1000 ))
  while [ "$(uptime_cs)" -lt $end ] && ! grep -q '"oom"' "$WORK/$ID.events"; do sleep 0.1; done
  kill $ev 2>/dev/null; wait $ev 2>/dev/null
  line=$(grep '"oom"' "$WORK/$ID.events" | head -1 | tr -d ' ')
  case $line in *'"type":"oom"'*'"id"'*|*'"id"'*'"type":"oom"'*) ;; *) line= ;; esac
  echo "$line" | grep -q "\"id\":\"$ID\"" || fail "no oom event in 10 s (got '$line'; memory.events: $(tr '\n' ' ' < "$(cgdir)/memory.events" 2>&1))"
  ok
}

# The usual case outside this VM: carrack runs in a non-root cgroup (a systemd slice). A relative
# (default) cgroup path goes next to our cgroup, under its parent, and limits still apply, which
# needs the controllers enabled on that whole chain.
t_relative_nested() {
  caller=$CG/carrack-vm-caller
  mkdir -p "$caller/leaf" || fail "mkdir $caller/leaf"
  trap 'cleanup; echo $$ > $CG/cgroup.procs; rmdir "$caller/leaf" "$caller" 2>/dev/null' EXIT
  echo $$ > "$caller/leaf/cgroup.procs" || fail "cannot move the test into $caller/leaf"
  bundle nocgpath_res 'exec sleep 1000'
  cr create -b "$B" "$ID" </dev/null >/dev/null || fail "create from $caller/leaf failed"
  pid=$(state_field "$ID" pid)
  d=$caller/$ID
  [ -d "$d" ] || fail "no $d; cgroup of init: $(cat "/proc/$pid/cgroup" 2>&1)"
  grep -qx "$pid" "$d/cgroup.procs" || fail "init $pid not in $d/cgroup.procs"
  mem=$(cat "$d/memory.max" 2>&1) pids=$(cat "$d/pids.max" 2>&1)
  [ "$mem" = 33554432 ] && [ "$pids" = 42 ] \
    || fail "memory.max '$mem' pids.max '$pids', want 33554432 42 (subtree_control of $caller: '$(cat "$caller/cgroup.subtree_control")')"
  cr delete --force "$ID" || fail "delete --force failed"
  [ ! -e "$d" ] || fail "$d left after delete --force"
  ok
}

# update rewrites the v2 limit files of a running container.
t_update() {
  create_started resources 'exec sleep 1000'
  d=$(cgdir)
  cr update --memory 67108864 --pids-limit 50 "$ID" || fail "update failed"
  mem=$(cat "$d/memory.max" 2>&1) pids=$(cat "$d/pids.max" 2>&1)
  [ "$mem" = 67108864 ] || fail "memory.max after update is '$mem', want 67108864"
  [ "$pids" = 50 ] || fail "pids.max after update is '$pids', want 50"
  ok
}

# events --stats reads the v2 stat files: the pids count is the cgroup's.
t_events_stats() {
  create_started resources 'sleep 1000 & exec sleep 1000'
  out=$(cr events --stats "$ID") || fail "events --stats failed"
  flat=$(echo "$out" | tr -d ' \n')
  want=$(cat "$(cgdir)/pids.current")
  cur=$(echo "$flat" | grep -o '"pids":{[^}]*}' | sed -n 's/.*"current":\([0-9]*\).*/\1/p')
  [ -n "$cur" ] || fail "no pids.current in: $(echo "$flat" | head -c 300)"
  [ "$cur" = "$want" ] || fail "pids current $cur, the cgroup's pids.current is $want"
  echo "$flat" | grep -q '"memory":{' || fail "no memory stats in: $(echo "$flat" | head -c 300)"
  ok
}

# Born inside, not moved in: the cgroup exists beforehand (carrack joins it) with pids.max=0.
# clone3(CLONE_INTO_CGROUP) must then fail (the pids limit is checked at fork in the target
# cgroup, and pids.events counts it), while fork-then-move would succeed.
t_cgroup_born_inside() {
  bundle base 'exec sleep 1000'
  parent=$CG/carrack-vm-born
  d=$parent/$ID
  mkdir -p "$d" || fail "mkdir $d"
  trap 'cr delete --force "$ID" >/dev/null 2>&1; rmdir "$d" "$parent" 2>/dev/null
        echo -pids > $CG/cgroup.subtree_control 2>/dev/null' EXIT
  echo +pids > "$CG/cgroup.subtree_control" && echo +pids > "$parent/cgroup.subtree_control" \
    || fail "cannot enable the pids controller"
  echo 0 > "$d/pids.max"
  sed -i "s|/carrack-vm/$ID|/carrack-vm-born/$ID|" "$B/config.json"
  if cr create -b "$B" "$ID" </dev/null >/dev/null; then
    pid=$(state_field "$ID" pid)
    fail "create succeeded in a cgroup with pids.max=0: init $pid was not forked into it (moved in afterwards?); /proc/$pid/cgroup: $(cat "/proc/$pid/cgroup" 2>&1)"
  fi
  events=$(sed -n 's/^max //p' "$d/pids.events")
  [ "${events:-0}" -ge 1 ] || fail "create failed but not at the pids limit of $d (pids.events max=$events)"
  ok
}

# The config's mounts as the container sees them: proc, a read-only sysfs, the tmpfs /dev and
# its devpts, cgroup2 (read-only), a tmpfs of the test with its options, and a masked path.
t_mounts() {
  bundle mounts 'cat /proc/self/mounts; echo ---; cat /proc/kcore 2>&1 | head -c 10 | wc -c
    echo x > /data/f && cat /data/f; touch /sys/x 2>/dev/null || echo sys-ro'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed: $out"
  m=${out%%---*}
  for want in '^proc /proc proc ' '^sysfs /sys sysfs ro,' '^tmpfs /dev tmpfs ' \
      '^devpts /dev/pts devpts ' ' /sys/fs/cgroup cgroup2 ro,' \
      '^tmpfs /data tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k'; do
    echo "$m" | grep -q "$want" || fail "no mount '$want' in: $(echo "$m" | tr '\n' '|')"
  done
  rest=$(echo "${out#*---}" | tr '\n' ' ')
  [ "$rest" = " 0 x sys-ro " ] || fail "masked /proc/kcore, /data write, /sys write: '$rest'"
  ok
}

# Docker 20.10's default profile: a shell runs under it; a syscall newer than the profile
# (fchmodat2) gets ENOSYS (runc's stub, with this arch's numbers), one it leaves out EPERM.
t_seccomp_docker() {
  bundle docker 'echo sh-ok; /bin/probe; grep Seccomp: /proc/self/status'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed: $out"
  want="sh-ok
fchmodat2 -1 38
kexec_load -1 1
fchmodat 0 0"
  case $out in "$want"*) ;; *) fail "output '$(echo "$out" | tr '\n' '|')', want '$(echo "$want" | tr '\n' '|')'" ;; esac
  echo "$out" | grep -q 'Seccomp:[[:space:]]*2' || fail "no filter mode in /proc/self/status: $out"
  ok
}

# SELinux labels (scripts/vm/selinux.sh; `scripts/vm-test --selinux` runs them).
# shellcheck source=scripts/vm/selinux.sh
[ ! -f /vm/selinux.sh ] || . /vm/selinux.sh

# checkpoint/restore (scripts/vm/criu.sh; `scripts/vm-test --criu` runs them).
# shellcheck source=scripts/vm/criu.sh
[ ! -f /vm/criu.sh ] || . /vm/criu.sh

# --- runner -------------------------------------------------------------------------------------

run_one() {
  NAME=$1 ID=carrack-vm-$1 ERR=$WORK/$1.err LOG=$WORK/$1.log
  : > "$ERR"; : > "$LOG"
  type "t_$NAME" >/dev/null 2>&1 || { echo "FAIL $NAME: no such test"; exit 1; }
  trap cleanup EXIT
  trap 'exit 1' TERM INT
  "t_$NAME"
  fail "test ended without a verdict"
}

run_all() {
  local pass=0 failed=0 skipped=0 t line out t1
  [ $# -gt 0 ] || set -- $TESTS
  t0=$(uptime_cs)
  for t in "$@"; do
    out=$WORK/$t.result
    # Output to a file, not a pipe: a leaked container holding it cannot hang the runner.
    t1=$(uptime_cs)
    timeout "$TEST_TIMEOUT" sh "$0" --one "$t" >"$out" 2>&1 </dev/null
    t1=$(( $(uptime_cs) - t1 ))
    line=$(grep -E "^(ok|FAIL|skip) $t( |:|$)" "$out" | tail -n1)
    [ -n "$line" ] || line="FAIL $t: no verdict (timed out after ${TEST_TIMEOUT}s?): $(tail -c 300 "$out" | tr '\n' ' ')"
    echo "$line [$((t1 / 100)).$((t1 / 10 % 10))s]"
    case $line in
      ok*) pass=$((pass + 1)) ;;
      skip*) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)) ;;
    esac
    # Whatever a timed-out test left behind.
    for c in $(carrack --root "$ROOT" list -q 2>/dev/null); do
      carrack --root "$ROOT" delete --force "$c" >/dev/null 2>&1
    done
  done
  echo "VM-TEST-RESULT: $pass passed, $failed failed, $skipped skipped" \
    "(tests took $(( $(uptime_cs) - t0 ))0 ms, VM uptime $(cut -d' ' -f1 /proc/uptime) s)"
}

mkdir -p "$WORK" "$ROOT"
if [ "$1" = --one ]; then
  run_one "$2"
else
  run_all "$@"
fi
