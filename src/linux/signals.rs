//! Signals: carrack's own SIGPIPE disposition, and the names `kill` takes.
//!
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
    // SAFETY: SIG_IGN installs no handler, so there is no handler code to be async-signal-safe.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    CALLER_IGNORED.store(old == libc::SIG_IGN, Ordering::Relaxed);
}

/// Just before the container's execve: SIGPIPE as carrack's caller had it.
pub fn restore_sigpipe() {
    if !CALLER_IGNORED.load(Ordering::Relaxed) {
        // SAFETY: SIG_DFL installs no handler, so there is no handler code to be async-signal-safe.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
}

/// The signal names runc 1.1 knows (Go's x/sys/unix table for Linux), without "SIG".
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The first real-time signal as user space numbers them: glibc (and Go, so runc) keep the
/// kernel's 32 and 33 for themselves, so podman's and Docker's SIGRTMIN+3 is 37.
const RTMIN: i32 = 34;
/// The kernel's highest signal (_NSIG) on every architecture carrack builds for.
const RTMAX: i32 = 64;

/// `kill`'s signal: a number 0..=64 (0 probes that the process exists, as with runc), a name
/// with or without "SIG" in any case, or RTMIN, RTMIN+n, RTMAX, RTMAX-n as kill(1), crun and
/// the engines spell real-time signals (runc 1.1 refuses those names; it takes their numbers).
pub fn parse(s: &str) -> anyhow::Result<i32> {
    let bad = |why: &str| anyhow::anyhow!("invalid signal {s:?}: {why}");
    if let Ok(n) = s.parse::<i32>() {
        return match n {
            0..=RTMAX => Ok(n),
            _ => Err(bad("not between 0 and 64")),
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    if let Some(n) = realtime(name) {
        return Ok(n);
    }
    Err(bad("unknown name"))
}

/// RTMIN, RTMIN+n, RTMAX, RTMAX-n (upper case, without "SIG"), within RTMIN..=RTMAX.
fn realtime(name: &str) -> Option<i32> {
    let (base, sign, rest) = if let Some(r) = name.strip_prefix("RTMIN") {
        (RTMIN, '+', r)
    } else {
        (RTMAX, '-', name.strip_prefix("RTMAX")?)
    };
    let n: i32 = match rest.strip_prefix(sign) {
        None if rest.is_empty() => 0,
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => d.parse().ok()?,
        _ => return None,
    };
    if n > RTMAX - RTMIN {
        return None;
    }
    Some(if sign == '+' { base + n } else { base - n })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_numbers_and_realtime_signals() {
        for (s, want) in [
            ("KILL", 9),
            ("sigterm", 15),
            ("SIGUSR1", 10),
            ("sigHUP", 1),
            ("STKFLT", 16),
            ("9", 9),
            ("0", 0),
            ("37", 37),
            ("64", 64),
            ("RTMIN", 34),
            ("RTMIN+3", 37),
            ("SIGRTMIN+3", 37),
            ("sigrtmin+3", 37),
            ("RTMIN+30", 64),
            ("RTMAX", 64),
            ("SIGRTMAX-2", 62),
            ("RTMAX-30", 34),
        ] {
            assert_eq!(parse(s).unwrap(), want, "{s}");
        }
        for s in [
            "", "SIG", "NOPE", "SIGFOO", "65", "99", "-1", "RTMIN+31", "RTMAX-31", "RTMIN-1",
            "RTMAX+1", "RTMIN+", "RTMIN+x", "RTMIN++3", "RTMIN+-3", "RTMAX--2", "KILL9",
        ] {
            assert!(parse(s).is_err(), "{s:?} accepted");
        }
    }
}
