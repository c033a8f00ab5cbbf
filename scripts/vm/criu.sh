# checkpoint and restore with CRIU, sourced by tests.sh. `scripts/vm-test --criu` adds criu,
# runc and the kernel modules CRIU needs to the VM and runs these; without them they skip.
# Each step runs with carrack and (the _runc twin) with runc, which must give the same result.
# The containers' stdio are pipes (CRIU cannot dump a host file such as /dev/null as stdio;
# restore hands the new pipes in, runc's descriptors.json).
# shellcheck shell=sh disable=SC3043,SC2086
# One line: scripts/vm-test --criu reads it with sed.
CRIU_TESTS="criu_version criu_counter criu_counter_runc criu_leave_running criu_leave_running_runc criu_predump criu_predump_runc criu_new_id criu_new_id_runc"

# Counts five times a second, to stdout and to /count (the `criu` config: a writable rootfs).
COUNTER='i=0; while :; do i=$((i + 1)); echo $i; echo $i > /count; sleep 0.2; done'

need_criu() {
  command -v criu >/dev/null || skip no-criu "no criu in this VM (scripts/vm-test --criu)"
  RT=${1:-carrack}
  case $RT in
    runc) RTROOT=$ROOT-runc ;;
    *) RTROOT=$ROOT ;;
  esac
  trap 'rt delete --force "$ID" >/dev/null 2>&1; rt delete --force "$ID-new" >/dev/null 2>&1; rm -rf "$WORK/${ID:?}"*' EXIT
}

# rt ARGS: the runtime under test; its stderr goes to $ERR.
rt() {
  if [ "$RT" = runc ]; then
    runc --root "$RTROOT" "$@" 2>>"$ERR"
  else
    carrack --root "$RTROOT" --log "$LOG" "$@" 2>>"$ERR"
  fi
}

# piped OUT ARGS: the runtime in the background with pipes as stdin (at EOF), stdout and
# stderr; all output to OUT, then "rc=N" once the runtime itself exits.
piped() {
  local out=$1
  shift
  if [ "$RT" = runc ]; then
    { : | { runc --root "$RTROOT" "$@" 2>&1; echo "rc=$?"; } | cat > "$out"; } &
  else
    { : | { carrack --root "$RTROOT" --log "$LOG" "$@" 2>&1; echo "rc=$?"; } | cat > "$out"; } &
  fi
}

# wait_for FILE PATTERN: up to 20 s of VM time for a line matching PATTERN.
wait_for() {
  local end=$(( $(uptime_cs) + 2000 ))
  while [ "$(uptime_cs)" -lt $end ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# criu_errors LOG: the lines before and at CRIU's first errors.
criu_errors() { grep -B 3 -m 3 'Error' "$1" 2>/dev/null | cut -c 1-200 | tr '\n' ' '; }

rstatus() { rt state "$1" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"status":"\([^"]*\)".*/\1/p'; }
rpid() { rt state "$1" 2>/dev/null | tr -d ' \n' | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }

# start_counter: $ID running $COUNTER with piped stdio, counting already.
start_counter() {
  bundle criu "$COUNTER"
  piped "$WORK/$ID.out" run -d -b "$B" "$ID"
  wait_for "$WORK/$ID.out" '^rc=' || fail "run -d did not return: $(cat "$WORK/$ID.out")"
  grep -q '^rc=0' "$WORK/$ID.out" || fail "run -d failed: $(cat "$WORK/$ID.out")"
  wait_for "$WORK/$ID.out" '^3$' || fail "the counter does not count: $(cat "$WORK/$ID.out")"
}

# checkpoint ARGS: checkpoint $ID into $IMG with ARGS; sets CP_MS.
checkpoint() {
  local t0
  t0=$(uptime_cs)
  rt checkpoint --image-path "$IMG" "$@" "$ID" || fail "$RT checkpoint $* failed: $(criu_errors "$IMG/dump.log")"
  CP_MS=$(( ($(uptime_cs) - t0) * 10 ))
}

# restore ID2 ARGS: restore $IMG as ID2, detached, with piped stdio into $WORK/ID2.rout; sets
# RS_MS and waits until it counts on.
restore() {
  local id2=$1 t0
  shift
  t0=$(uptime_cs)
  piped "$WORK/$id2.rout" restore -d -b "$B" --image-path "$IMG" "$@" "$id2"
  wait_for "$WORK/$id2.rout" '^rc=' || fail "restore did not return: $(cat "$WORK/$id2.rout")"
  RS_MS=$(( ($(uptime_cs) - t0) * 10 ))
  grep -q '^rc=0' "$WORK/$id2.rout" \
    || fail "$RT restore failed: $(tr '\n' ' ' < "$WORK/$id2.rout") | $(criu_errors "$IMG/restore.log")"
  [ "$(rstatus "$id2")" = running ] || fail "restored $id2 is '$(rstatus "$id2")', want running"
}

# counts_on ID2 FROM: the restored counter prints FROM+1 first (on the new stdout pipe) and goes
# on counting in /count.
counts_on() {
  local id2=$1 from=$2 first
  wait_for "$WORK/$id2.rout" "^$((from + 2))\$" || fail "restored counter does not count on from $from: $(tr '\n' ' ' < "$WORK/$id2.rout")"
  first=$(grep -v '^rc=' "$WORK/$id2.rout" | head -n1)
  [ "$first" = $((from + 1)) ] || fail "restored counter printed $first first, want $((from + 1)) (dumped at $from)"
}

t_criu_version() {
  need_criu
  out=$(cr features) || fail "features failed"
  echo "$out" | grep -q '"org.opencontainers.runc.checkpoint.enabled": "true"' || fail "features: checkpoint not enabled: $out"
  v=$(criu --version | sed -n 's/^Version: //p')
  echo "$out" | grep -q "\"io.github.carrack.criu.version\": \"$v" || fail "features does not give criu $v: $(echo "$out" | grep criu)"
  ok
}

# checkpoint stops and removes the container; restore brings it back under the same id,
# counting on from where it was, with exec, kill and delete working on it.
counter() {
  need_criu "$1"
  IMG=$WORK/$ID.img
  start_counter
  pid=$(rpid "$ID")
  checkpoint
  [ ! -d "/proc/$pid" ] || fail "init $pid still alive after checkpoint"
  rt state "$ID" >/dev/null 2>&1 && fail "the container is still there after checkpoint"
  at=$(cat "$B/rootfs/count")
  restore "$ID"
  counts_on "$ID" "$at"
  out=$(rt exec "$ID" cat /count </dev/null) || fail "exec in the restored container failed"
  [ "$out" -gt "$at" ] || fail "exec read count $out, want > $at"
  grep -q "/carrack-vm/$ID\$" "/proc/$(rpid "$ID")/cgroup" || fail "restored init in $(cat "/proc/$(rpid "$ID")/cgroup")"
  rt kill "$ID" KILL || fail "kill failed"
  i=0
  while [ "$(rstatus "$ID")" != stopped ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(rstatus "$ID")" = stopped ] || fail "status '$(rstatus "$ID")' after kill, want stopped"
  rt delete "$ID" || fail "delete failed"
  [ ! -e "$(cgdir)" ] || fail "cgroup $(cgdir) left after delete"
  echo "ok $NAME ($RT: checkpoint ${CP_MS} ms, restore ${RS_MS} ms)"
  exit 0
}
t_criu_counter() { counter carrack; }
t_criu_counter_runc() { counter runc; }

# --leave-running: the container runs on (same pid, counting) and the images restore as a
# second container.
leave_running() {
  need_criu "$1"
  IMG=$WORK/$ID.img
  start_counter
  pid=$(rpid "$ID")
  checkpoint --leave-running
  [ "$(rstatus "$ID")" = running ] || fail "status '$(rstatus "$ID")' after checkpoint --leave-running"
  [ "$(rpid "$ID")" = "$pid" ] || fail "pid changed: $(rpid "$ID"), was $pid"
  at=$(cat "$B/rootfs/count")
  sleep 1
  [ "$(cat "$B/rootfs/count")" -gt "$at" ] || fail "the container stopped counting after --leave-running"
  rt delete --force "$ID" || fail "delete --force failed"
  restore "$ID"
  ok
}
t_criu_leave_running() { leave_running carrack; }
t_criu_leave_running_runc() { leave_running runc; }

# --pre-dump into IMG/pre, then the dump with --parent-path ../pre: the dump holds only the
# pages changed since, and the restore counts on.
predump() {
  need_criu "$1"
  start_counter
  IMG=$WORK/$ID.img/pre
  checkpoint --pre-dump
  [ "$(rstatus "$ID")" = running ] || fail "status '$(rstatus "$ID")' after --pre-dump, want running"
  ls "$IMG" | grep -q '^pages-' || fail "no pages in the pre-dump: $(ls "$IMG")"
  IMG=$WORK/$ID.img/final
  checkpoint --parent-path ../pre
  [ -L "$IMG/parent" ] || fail "the dump has no parent link: $(ls -l "$IMG")"
  at=$(cat "$B/rootfs/count")
  restore "$ID"
  counts_on "$ID" "$at"
  ok
}
t_criu_predump() { predump carrack; }
t_criu_predump_runc() { predump runc; }

# Restore under another id: its own state and cgroup (/carrack-vm/<new id>, with the
# config's cgroupsPath changed accordingly).
new_id() {
  need_criu "$1"
  IMG=$WORK/$ID.img
  start_counter
  checkpoint
  at=$(cat "$B/rootfs/count")
  sed -i "s|/carrack-vm/$ID|/carrack-vm/$ID-new|" "$B/config.json"
  restore "$ID-new"
  counts_on "$ID-new" "$at"
  rt state "$ID" >/dev/null 2>&1 && fail "the old id came back"
  cg=$(cat "/proc/$(rpid "$ID-new")/cgroup")
  note=
  case $cg in
    */carrack-vm/$ID-new) ;;
    # runc 1.1.5 restores into the cgroup path of the image (the old id's), not the config's.
    */carrack-vm/$ID) [ "$RT" = runc ] || fail "restored init in $cg, want /carrack-vm/$ID-new"
      note=" (runc: restored into the old id's cgroup)" ;;
    *) fail "restored init in $cg, want /carrack-vm/$ID-new" ;;
  esac
  rt delete --force "$ID-new" || fail "delete --force failed"
  echo "ok $NAME$note"
  exit 0
}
t_criu_new_id() { new_id carrack; }
t_criu_new_id_runc() { new_id runc; }
