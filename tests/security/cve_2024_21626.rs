//! CVE-2024-21626 ("Leaky Vessels"): the runtime still holds an fd on a host directory (runc:
//! /sys/fs/cgroup) when it chdirs to `process.cwd`; a cwd of `/proc/self/fd/N` then resolves
//! through that fd, and the process starts with its working directory on the host, outside
//! the container's root, from where `..` climbs the host's tree.
//!
//! Both `run` (init) and `exec` are tried with every fd number a runtime plausibly holds. A
//! cwd inside the container is one from which climbing `..` ends at the container's `/`;
//! anywhere else it ends at the top of some host mount. The runtime may also refuse the cwd.
//! That no fd past stdio reaches the process is tests/fds.rs (`run`); `exec` is checked here.

use crate::common::*;
use crate::util::*;

/// Climb 40 levels of `..` (physically) and compare the top with `/`.
const CLIMB: &str = "i=0; while [ $i -lt 40 ]; do cd -P .. 2>/dev/null; i=$((i+1)); done; \
                     echo \"top=$(stat -c %d:%i .) root=$(stat -c %d:%i /)\"; ls | head -5";

/// `None` when the process ran inside the root, else what it saw.
fn escaped(stdout: &str) -> Option<String> {
    let line = stdout.lines().find(|l| l.starts_with("top="))?;
    let (top, root) = line.trim_start_matches("top=").split_once(" root=")?;
    (top != root).then(|| stdout.to_string())
}

const FDS: std::ops::RangeInclusive<u32> = 3..=24;

#[test]
fn init_cwd_through_a_runtime_fd_stays_in_the_container() {
    let Some(()) = can_run() else { return };
    let mut b = new_bundle(&["sh", "-c", CLIMB]);
    let mut ran = 0;
    for n in FDS {
        b.config["process"]["cwd"] = format!("/proc/self/fd/{n}").into();
        b.write_config();
        let id = b.id(&format!("21626-run-{n}"));
        let out = b.rt_bundle("run", &id, &[]);
        if !out.status.success() {
            continue; // refused: fine
        }
        ran += 1;
        if let Some(seen) = escaped(&text(&out.stdout)) {
            panic!(
                "process.cwd /proc/self/fd/{n}: init started outside the container's root \
                 (an fd the runtime held was a host directory); it saw:\n{seen}"
            );
        }
    }
    println!("{ran} of {} cwds were accepted, none escaped", FDS.count());
}

#[test]
fn exec_cwd_through_a_runtime_fd_stays_in_the_container() {
    let Some(()) = can_run() else { return };
    let b = new_bundle(&["sleep", "60"]);
    let id = b.id("21626-exec");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    for n in FDS {
        let cwd = format!("/proc/self/fd/{n}");
        let out = b.rt(&["exec", "--cwd", &cwd, &id, "sh", "-c", CLIMB]);
        if !out.status.success() {
            continue;
        }
        if let Some(seen) = escaped(&text(&out.stdout)) {
            panic!("exec --cwd {cwd}: the process started outside the container's root:\n{seen}");
        }
    }
}

/// The exec'd process holds stdio and nothing else: no fd of the runtime (cgroup dir, state
/// dir, namespace files, channel) survives its execve.
#[test]
fn exec_process_gets_no_runtime_fd() {
    let Some(()) = can_run() else { return };
    let b = new_bundle(&["sleep", "60"]);
    let id = b.id("21626-fds");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    // ls itself holds one directory fd (3) on /proc/self/fd.
    let out = b.rt(&["exec", &id, "ls", "/proc/self/fd"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    let mut fds: Vec<u32> = text(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort();
    assert_eq!(fds, [0, 1, 2, 3], "fds of an exec'd process");
}
