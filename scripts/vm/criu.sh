# checkpoint and restore with CRIU, sourced by tests.sh. `scripts/vm-test --criu` adds criu,
# runc and the kernel modules CRIU needs to the VM and runs these; without them they skip.
# Each step runs with carrack and (the _runc twin) with runc, which must give the same result.
# The containers' stdio are pipes (CRIU cannot dump a host file such as /dev/null as stdio;
# restore hands the new pipes in, runc's descriptors.json).
# shellcheck shell=sh disable=SC3043,SC2086
# One line: scripts/vm-test --criu reads it with sed.
CRIU_TESTS="criu_version criu_counter criu_counter_runc criu_leave_running criu_leave_running_runc criu_predump criu_predump_runc criu_new_id criu_new_id_runc criu_tcp criu_tcp_runc criu_tty criu_tty_runc"

# A dump or restore takes seconds under TCG, more on a loaded host: the tests get 3 minutes.
! command -v criu >/dev/null || TEST_TIMEOUT=180

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

# wait_for FILE PATTERN: up to 60 s of VM time for a line matching PATTERN (a loaded host
# slows the VM down many times).
wait_for() {
  local end=$(( $(uptime_cs) + 6000 ))
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

# checkpoint ARGS: checkpoint $ID into $IMG with ARGS; sets CP_MS to "N ms (CRIU's dump M ms)",
# M by the last timestamp of CRIU's log.
checkpoint() {
  local t0
  t0=$(uptime_cs)
  rt checkpoint --image-path "$IMG" "$@" "$ID" || fail "$RT checkpoint $* failed: $(criu_errors "$IMG/dump.log")"
  CP_MS="$(( ($(uptime_cs) - t0) * 10 )) ms (CRIU's dump $(criu_ms "$IMG/dump.log") ms)"
}

# criu_ms LOG: the time CRIU logged its last line at, in ms since it started.
criu_ms() { tail -n 1 "$1" 2>/dev/null | sed -n 's/^(\([0-9]*\)\.\([0-9][0-9][0-9]\).*/\1\2/p' | sed 's/^0*\(.\)/\1/'; }

# restore ID2 ARGS: restore $IMG as ID2, detached, with piped stdio into $WORK/ID2.rout; sets
# RS_MS and waits until it counts on.
restore() {
  local id2=$1 t0
  shift
  t0=$(uptime_cs)
  piped "$WORK/$id2.rout" restore -d -b "$B" --image-path "$IMG" "$@" "$id2"
  wait_for "$WORK/$id2.rout" '^rc=' || fail "restore did not return: $(cat "$WORK/$id2.rout")"
  RS_MS="$(( ($(uptime_cs) - t0) * 10 )) ms (CRIU's restore $(criu_ms "$IMG/restore.log") ms)"
  grep -q '^rc=0' "$WORK/$id2.rout" \
    || fail "$RT restore failed: $(tr '\n' ' ' < "$WORK/$id2.rout") | $(criu_errors "$IMG/restore.log")"
  [ "$(rstatus "$id2")" = running ] || fail "restored $id2 is '$(rstatus "$id2")', want running"
}

# counts_on ID2: the restored counter prints AT+1 first (on the new stdout pipe) and goes on
# counting in /count, AT being the last count the dumped process printed on its old stdout
# ($WORK/$ID.out, drained by now: the dump ended it seconds ago). Not /count: the dump can fall
# between a loop's echo to stdout and its write of /count, which then lags by one (a flake
# seen under a slow TCG: "printed 8 first, want 7"), or even between that write's truncation
# and its data. One echo is one write(2), so stdout has no such gap.
counts_on() {
  local id2=$1 first
  AT=$(grep -x '[0-9][0-9]*' "$WORK/$ID.out" | tail -n1)
  [ -n "$AT" ] || fail "the counter printed nothing before the dump: $(tr '\n' ' ' < "$WORK/$ID.out")"
  wait_for "$WORK/$id2.rout" "^$((AT + 2))\$" || fail "restored counter does not count on from $AT: $(tr '\n' ' ' < "$WORK/$id2.rout")"
  first=$(grep -v '^rc=' "$WORK/$id2.rout" | head -n1)
  [ "$first" = $((AT + 1)) ] || fail "restored counter printed $first first, want $((AT + 1)) (dumped at $AT)"
}

t_criu_version() {
  need_criu
  out=$(cr features) || fail "features failed"
  echo "$out" | grep -q '"org.opencontainers.runc.checkpoint.enabled": "true"' || fail "features: checkpoint not enabled: $out"
  # CRIU probes the kernel once per boot (its kerndat, cached in /run): here, not in the first
  # checkpoint the tests time.
  criu check >/dev/null 2>&1
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
  restore "$ID"
  counts_on "$ID"
  out=$(rt exec "$ID" cat /count </dev/null) || fail "exec in the restored container failed"
  [ "$out" -gt "$AT" ] || fail "exec read count $out, want > $AT"
  grep -q "/carrack-vm/$ID\$" "/proc/$(rpid "$ID")/cgroup" || fail "restored init in $(cat "/proc/$(rpid "$ID")/cgroup")"
  rt kill "$ID" KILL || fail "kill failed"
  i=0
  while [ "$(rstatus "$ID")" != stopped ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  [ "$(rstatus "$ID")" = stopped ] || fail "status '$(rstatus "$ID")' after kill, want stopped"
  rt delete "$ID" || fail "delete failed"
  [ ! -e "$(cgdir)" ] || fail "cgroup $(cgdir) left after delete"
  echo "ok $NAME ($RT: checkpoint ${CP_MS}, restore ${RS_MS})"
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
  restore "$ID"
  counts_on "$ID"
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
  sed -i "s|/carrack-vm/$ID|/carrack-vm/$ID-new|" "$B/config.json"
  restore "$ID-new"
  counts_on "$ID-new"
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

# A TCP listener on 127.0.0.1 and a connection to it held open by a second process, dumped and
# restored with --tcp-established: after restore lo is up, the held connection goes on answering
# and the listener answers a new connection (exec). Both runtimes dump the network namespace
# empty (empty_ns); runc 1.1.5 restores it with lo down, so CRIU cannot reconnect the held
# connection and the restore fails; carrack brings lo up when CRIU has made the namespace
# (setup-namespaces, checkpoint.rs loopback_up_in).
tcp() {
  need_criu "$1"
  IMG=$WORK/$ID.img
  bundle criu '/bin/crhelper serve 7777 & exec /bin/crhelper hold 7777 /held'
  piped "$WORK/$ID.out" run -d -b "$B" "$ID"
  wait_for "$WORK/$ID.out" '^rc=' || fail "run -d did not return: $(cat "$WORK/$ID.out")"
  grep -q '^rc=0' "$WORK/$ID.out" || fail "run -d failed: $(cat "$WORK/$ID.out")"
  held_reaches 3 || fail "the connection does not get answers: $(cat "$WORK/$ID.out")"
  out=$(rt exec "$ID" /bin/crhelper ask 7777 </dev/null 2>&1)
  [ "$out" = pong ] || fail "the listener does not answer before the checkpoint: $out"
  checkpoint --tcp-established
  at=$(cat "$B/rootfs/held")
  if [ "$RT" = runc ]; then
    piped "$WORK/$ID.rout" restore -d -b "$B" --image-path "$IMG" --tcp-established "$ID"
    wait_for "$WORK/$ID.rout" '^rc=' || fail "restore did not return: $(cat "$WORK/$ID.rout")"
    if ! grep -q '^rc=0' "$WORK/$ID.rout"; then
      grep -q 'Network is unreachable' "$IMG/restore.log" \
        || fail "runc restore failed otherwise: $(criu_errors "$IMG/restore.log")"
      echo "ok $NAME (runc: restore --tcp-established fails, lo down: $(grep -m1 -o 'Can.t connect inet socket back.*' "$IMG/restore.log"); checkpoint ${CP_MS})"
      exit 0
    fi
  else
    restore "$ID" --tcp-established
  fi
  out=$(rt exec "$ID" /bin/crhelper ask 7777 </dev/null 2>&1)
  lo=$(rt exec "$ID" ip -o link show lo </dev/null 2>&1)
  case $lo in *'<LOOPBACK,UP'*) ;; *) fail "lo in the restored container: $lo" ;; esac
  lo=up
  held=no
  held_reaches $((at + 3)) && held=yes
  [ "$out" = pong ] || fail "the restored listener does not answer on 127.0.0.1 (lo $lo): $out"
  [ $held = yes ] || fail "the held connection stopped at $(cat "$B/rootfs/held") (dumped at $at)"
  echo "ok $NAME ($RT: lo $lo, listener and held connection answer; checkpoint ${CP_MS}, restore ${RS_MS})"
  exit 0
}
# held_reaches N: up to 60 s of VM time for the held connection's count (rewritten five times
# a second, so compared, not matched) to reach N.
held_reaches() {
  local end=$(( $(uptime_cs) + 6000 ))
  while [ "$(uptime_cs)" -lt $end ]; do
    [ "$(cat "$B/rootfs/held" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

t_criu_tcp() { tcp carrack; }
t_criu_tcp_runc() { tcp runc; }

# A pty container (process.terminal): its master goes to a --console-socket receiver at run;
# restore --console-socket hands a new master to a second receiver, and the restored counter
# writes on to it.
tty() {
  need_criu "$1"
  IMG=$WORK/$ID.img
  bundle criu_tty "$COUNTER"
  crhelper console "$WORK/$ID.sock1" "$WORK/$ID.tty1" &
  c1=$!
  sleep 0.2
  rt run -d --console-socket "$WORK/$ID.sock1" -b "$B" "$ID" </dev/null >/dev/null || fail "run -d failed"
  wait_for "$WORK/$ID.tty1" '^3' || fail "no count on the first pty: $(cat "$WORK/$ID.tty1" 2>&1)"
  checkpoint
  crhelper console "$WORK/$ID.sock2" "$WORK/$ID.tty2" &
  c2=$!
  sleep 0.2
  t0=$(uptime_cs)
  rt restore -d --console-socket "$WORK/$ID.sock2" -b "$B" --image-path "$IMG" "$ID" </dev/null >/dev/null \
    || { kill $c1 $c2 2>/dev/null; fail "$RT restore --console-socket failed: $(criu_errors "$IMG/restore.log")"; }
  RS_MS="$(( ($(uptime_cs) - t0) * 10 )) ms (CRIU's restore $(criu_ms "$IMG/restore.log") ms)"
  # The last count on the first pty, not /count (counts_on says why).
  at=$(tr -d '\r' < "$WORK/$ID.tty1" | grep -x '[0-9][0-9]*' | tail -n1)
  wait_for "$WORK/$ID.tty2" "^$((at + 2))" || { kill $c1 $c2 2>/dev/null; fail "the restored counter does not write to the new pty: $(tr '\r\n' '  ' < "$WORK/$ID.tty2" 2>&1)"; }
  first=$(tr -d '\r' < "$WORK/$ID.tty2" | head -n1)
  rt delete --force "$ID" || fail "delete --force failed"
  kill $c1 $c2 2>/dev/null
  [ "$first" = $((at + 1)) ] || fail "the restored counter wrote $first first, want $((at + 1))"
  echo "ok $NAME ($RT: checkpoint ${CP_MS}, restore ${RS_MS})"
  exit 0
}
t_criu_tty() { tty carrack; }
t_criu_tty_runc() { tty runc; }
