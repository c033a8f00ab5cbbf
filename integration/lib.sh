# Shared by the engine tests: result lines and the record integration/run compares with runc.
# The caller sets ENGINE before sourcing; RT_NAME names the runtime under test.
RT_NAME=${RT_NAME:-carrack}
fails=0
# RESULTS (set by integration/run): one "name<TAB>outcome" line per step, compared with runc's.
rec() { [ -n "${RESULTS:-}" ] && printf '%s\t%s\n' "$1" "$2" >> "$RESULTS"; return 0; }
ok() { echo "ok $ENGINE[$RT_NAME] $1"; rec "$1" ok; }
fail() { echo "FAIL $ENGINE[$RT_NAME] $1: $2"; rec "$1" FAIL; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected $(printf %q "$2"), got $(printf %q "$3")"; fi; }
# cgroup_file PID CONTROLLER FILE: FILE of PID's cgroup on the v1 hierarchy of CONTROLLER.
cgroup_file() {
  local rel
  rel=$(awk -F: -v c="$2" '$2==c{print $3}' "/proc/$1/cgroup")
  cat "/sys/fs/cgroup/$2$rel/$3" 2>/dev/null
}
