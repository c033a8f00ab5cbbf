//! Named fault points for crash tests. Built only with the `fault-injection` feature: then
//! `CARRACK_FAULT=<name>` makes the process that reaches point <name> SIGKILL itself there.
//! In a normal build `point` is empty and compiles away.

/// Every point, so a test can walk them all (tests/faults.rs includes this file).
#[allow(dead_code)]
pub const POINTS: &[&str] = &[
    "create:after-state-dir",
    "create:after-cgroup",
    "create:after-clone",
    "create:after-cgroups-made",
    "create:after-pid-recorded",
    "create:after-go",
    "init:after-mounts",
    "init:before-ready",
    "create:after-ready",
    "start:before-fifo",
    "start:after-fifo",
    "delete:after-kill",
    "delete:after-cgroup-remove",
];

#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown fault point {name}");
    if std::env::var("CARRACK_FAULT").is_ok_and(|v| v == name) {
        // SAFETY: getpid and kill take integers only; SIGKILL to ourselves is the crash point's
        // purpose.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
