#!/bin/sh
# scripts/bench-vm's part inside the VM (pure cgroup v2): carrack, crun and runc side by side
# on the same bundle, in interleaved rounds of hyperfine. Prints one line per sample,
# `SAMPLE ROW RUNTIME SECONDS`, and the host (scripts/bench-vm) makes the table. TCG makes the
# absolute times meaningless: only ratios within this one run count.
#
#   sh bench.sh ROUNDS RUNS
# Runs under busybox ash.
# shellcheck disable=SC3043
ROUNDS=${1:-3}
RUNS=${2:-5}
B=/vm/bench
RTS="carrack crun runc"
n=0

# The times array of hyperfine's JSON export, one number a line.
times_of() { sed -n '/"times": \[/,/\]/p' "$1" | grep -E '^ *[0-9][0-9.e+-]*,?$' | tr -d ' ,'; }

# row NAME SHELL RT:CMD...: every runtime's command, ROUNDS rounds in rotated order.
row() {
  local name=$1 shell=$2 r rt cmd i order
  shift 2
  for r in $(seq 1 "$ROUNDS"); do
    order=""
    i=0
    for rt in $RTS; do i=$((i + 1)); [ $i -gt $((r % 3)) ] && order="$order $rt"; done
    i=0
    for rt in $RTS; do i=$((i + 1)); [ $i -le $((r % 3)) ] && order="$order $rt"; done
    for rt in $order; do
      eval "cmd=\$CMD_$rt"
      if ! hyperfine $shell --style none --warmup 1 --runs "$RUNS" --export-json /tmp/hf.json "$cmd" \
        >/tmp/hf.log 2>&1; then
        echo "ERROR $name $rt: $(tail -n 3 /tmp/hf.log | tr '\n' ' ')"
        continue
      fi
      for t in $(times_of /tmp/hf.json); do echo "SAMPLE $name $rt $t"; done
    done
  done
}

# newid RT: a fresh container id.
newid() { n=$((n + 1)); echo "bench-$1-$n"; }

for rt in $RTS; do mkdir -p "/run/bench-$rt"; done
# Through a file: a pipe closed after the first line would cut the writers short.
v=""
for rt in $RTS; do $rt --version >/tmp/version 2>&1; v="$v${v:+; }$(head -n1 /tmp/version)"; done
echo "VERSIONS $v"

# Sanity: each runtime really runs a container here (pid 1 of a new pid namespace).
for rt in $RTS; do
  out=$($rt --root "/run/bench-$rt" run --bundle $B/pid "$(newid "$rt")" 2>&1 </dev/null | tail -n1)
  echo "SANITY $rt: echo \$\$ printed '$out'"
done

for rt in $RTS; do
  eval "CMD_$rt=\"$rt --root /run/bench-$rt run --bundle $B/true $(newid "$rt")\""
done
row run -N

for rt in $RTS; do
  i=$(newid "$rt")
  eval "CMD_$rt=\"bench-reap $rt --root /run/bench-$rt create --bundle $B/true $i ';' $rt --root /run/bench-$rt start $i ';' $rt --root /run/bench-$rt delete $i\""
done
row cswd -N

for rt in $RTS; do
  i=$(newid "$rt")
  eval "CMD_$rt=\"$rt --root /run/bench-$rt create --bundle $B/true $i && $rt --root /run/bench-$rt start $i && $rt --root /run/bench-$rt delete --force $i\""
done
row csd "--shell=sh"

echo "VM-TEST-RESULT: bench done"
