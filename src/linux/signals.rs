//! SIGPIPE. carrack writes to pipes whose reader may be gone (a hook's stdin when the hook
//! exits without reading it, a closed stdout), so it ignores SIGPIPE and handles EPIPE, as
//! std's start-up used to arrange. The container's process must not inherit that: execve
//! keeps SIG_IGN, and runc's processes start with the disposition their caller had.

use std::sync::atomic::{AtomicBool, Ordering};

/// The caller had SIGPIPE ignored already.
static CALLER_IGNORED: AtomicBool = AtomicBool::new(false);

/// At start-up: ignore SIGPIPE, remembering what the caller had.
#[cfg_attr(test, allow(dead_code))] // called from the entry point, which tests do not build
pub fn ignore_sigpipe() {
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    CALLER_IGNORED.store(old == libc::SIG_IGN, Ordering::Relaxed);
}

/// Just before the container's execve: SIGPIPE as carrack's caller had it.
pub fn restore_sigpipe() {
    if !CALLER_IGNORED.load(Ordering::Relaxed) {
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
}
