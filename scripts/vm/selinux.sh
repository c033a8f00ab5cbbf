# SELinux labels, sourced by tests.sh. `scripts/vm-test --selinux` boots the VM with
# security=selinux, loads Debian's policy (permissive) and runs these; without it they skip.
# The container's labels are those of the `selinux` config (scripts/vm/configs); busybox
# cannot show file or keyring labels, /bin/selabel (scripts/vm/selabel.c) does.
# shellcheck shell=sh disable=SC3043,SC2086
SELINUX_TESTS="selinux_run selinux_process_label selinux_exec_label selinux_bad_labels"

# The label under KEY in /vm/configs/selinux.json (jq writes one key per line).
config_label() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" /vm/configs/selinux.json; }

need_selinux() {
  [ -e /sys/fs/selinux/enforce ] || skip no-selinux "SELinux is not enabled in this VM (scripts/vm-test --selinux)"
  ML=$(config_label mountLabel) PL=$(config_label selinuxLabel)
  [ -n "$ML" ] && [ -n "$PL" ] || fail "no mountLabel/selinuxLabel in /vm/configs/selinux.json"
}

# A process's label, without the trailing NUL.
label_of() { tr -d '\0' < "/proc/$1/attr/current"; }

# run: every tmpfs and devpts mount has context="<mountLabel>" (the masking tmpfs of
# maskedPaths too), proc, sysfs, mqueue and cgroup mounts have none, /dev/mqueue's root and a
# device created in /dev carry the label, and pid 1 has process.selinuxLabel.
t_selinux_run() {
  need_selinux
  bundle selinux 'cat /proc/self/mountinfo
    echo "mqueue: $(selabel file /dev/mqueue)"
    echo "null: $(selabel file /dev/null)"
    echo "pid1: $(tr -d "\0" < /proc/1/attr/current)"'
  out=$(cr run -b "$B" "$ID" </dev/null) || fail "run failed: $out"
  want="context=\"$ML\""
  n=0
  while read -r line; do
    fs=${line#* - } fs=${fs%% *}
    # The rootfs is a bind (of the VM's /tmp tmpfs): binds take no label.
    set -- $line
    [ "$5" != / ] || continue
    case $fs in
      tmpfs|devpts)
        n=$((n + 1))
        case $line in *"$want"*) ;; *) fail "a $fs mount without $want: $line" ;; esac ;;
      proc|sysfs|mqueue|cgroup|cgroup2)
        case $line in *context=*) fail "a $fs mount with a context: $line" ;; esac ;;
    esac
  done <<EOT
$(echo "$out" | grep ' - ')
EOT
  [ "$n" -ge 3 ] || fail "only $n tmpfs/devpts mounts (want /dev, /dev/pts, /dev/shm at least): $out"
  echo "$n tmpfs/devpts mounts labelled" >&2
  for f in mqueue null; do
    got=$(echo "$out" | sed -n "s/^$f: //p")
    [ "$got" = "$ML" ] || fail "/dev/$f is labelled '$got', want '$ML'"
  done
  got=$(echo "$out" | sed -n 's/^pid1: //p')
  [ "$got" = "$PL" ] || fail "pid 1 runs as '$got', want process.selinuxLabel '$PL'"
  ok
}

# create/start: init's label seen from outside, and the session keyring init made carries
# process.selinuxLabel (runc's SetKeyLabel).
t_selinux_process_label() {
  need_selinux
  create_started selinux 'echo "keyring: $(selabel keyring)"; exec sleep 1000'
  got=$(label_of "$PID")
  [ "$got" = "$PL" ] || fail "init $PID runs as '$got', want '$PL'"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    grep -q '^keyring: ' "$WORK/$ID.out" && break
    sleep 0.2
  done
  got=$(sed -n 's/^keyring: //p' "$WORK/$ID.out")
  [ "$got" = "$PL" ] || fail "the session keyring is labelled '$got', want '$PL' ($(cat "$WORK/$ID.out"))"
  ok
}

# exec: the config's process.selinuxLabel by default, --process-label when given.
t_selinux_exec_label() {
  need_selinux
  create_started selinux 'exec sleep 1000'
  got=$(cr exec "$ID" cat /proc/self/attr/current </dev/null | tr -d '\0') || fail "exec failed"
  [ "$got" = "$PL" ] || fail "exec'd process runs as '$got', want the config's '$PL'"
  el=system_u:system_r:initrc_t:s0:c3,c4
  got=$(cr exec --process-label "$el" "$ID" cat /proc/self/attr/current </dev/null | tr -d '\0') \
    || fail "exec --process-label failed"
  [ "$got" = "$el" ] || fail "exec --process-label: the process runs as '$got', want '$el'"
  ok
}

# A label the policy does not know fails the container, naming the field, and leaves nothing.
t_selinux_bad_labels() {
  need_selinux
  for field in mountLabel selinuxLabel; do
    bundle selinux 'true'
    sed -i "s/\"$field\": *\"[^\"]*\"/\"$field\": \"carrack_u:carrack_r:carrack_t:s0\"/" "$B/config.json"
    grep -q carrack_t "$B/config.json" || fail "setup: $field not replaced"
    : > "$ERR"
    if cr run -b "$B" "$ID" </dev/null >/dev/null; then fail "run with an unknown $field succeeded"; fi
    grep -q "$field" "$ERR" || fail "the error does not name $field: $(cat "$ERR")"
    [ -z "$(cr list -q)" ] || fail "left behind after the failed run: $(cr list -q)"
  done
  ok
}
