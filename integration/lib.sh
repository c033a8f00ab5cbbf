# Shared by the engine tests: result lines and the record integration/run compares with runc.
# The caller sets ENGINE before sourcing; RT_NAME names the runtime under test.
RT_NAME=${RT_NAME:-carrack}
fails=0
# RESULTS (set by integration/run): one "name<TAB>outcome" line per step, compared with runc's.
rec() { [ -n "${RESULTS:-}" ] && printf '%s\t%s\n' "$1" "$2" >> "$RESULTS"; return 0; }
ok() { echo "ok $ENGINE[$RT_NAME] $1"; rec "$1" ok; }
fail() { echo "FAIL $ENGINE[$RT_NAME] $1: $2"; rec "$1" FAIL; fails=$((fails + 1)); }
# skip FACT STEP REASON: a check this host cannot make, under a host fact. The line goes to
# $CARRACK_SKIP_LOG (scripts/test counts the facts); in CI (CI=true) a FACT that is not in
# tests/allowed-skips is a failure (returns 1, so `skip ... ; exit` exits non-zero).
allowed_skips=$(dirname "${BASH_SOURCE[0]}")/../tests/allowed-skips
skip() {
  echo "skip $ENGINE[$RT_NAME] $2: [$1] $3"
  [ -z "${CARRACK_SKIP_LOG:-}" ] ||
    printf '%s\tintegration:%s[%s] %s\t%s\n' "$1" "$ENGINE" "$RT_NAME" "$2" "$3" >>"$CARRACK_SKIP_LOG"
  if [ "${CI:-}" = true ] && ! grep -q "^$1 " "$allowed_skips"; then
    fail "$2" "skipped in CI: [$1] is not a host fact of tests/allowed-skips"
    return 1
  fi
}
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected $(printf %q "$2"), got $(printf %q "$3")"; fi; }
# cgroup_file PID CONTROLLER FILE: FILE of PID's cgroup on the v1 hierarchy of CONTROLLER.
cgroup_file() {
  local rel
  rel=$(awk -F: -v c="$2" '$2==c{print $3}' "/proc/$1/cgroup")
  cat "/sys/fs/cgroup/$2$rel/$3" 2>/dev/null
}
