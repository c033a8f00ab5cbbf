//! A process named by the pid and start time in state.json, held by a pidfd: once the pidfd
//! is open and the start time still matches, every signal and namespace join through it
//! reaches that process, never a newer one that reused its pid.

use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct PidFd(OwnedFd);

impl PidFd {
    /// Open `pid` and confirm it is the process that started at `start` (clock ticks). The
    /// check comes after pidfd_open, so a reuse in between is caught, not followed.
    pub fn open(pid: i32, start: u64) -> Result<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Err(crate::error::Kind::NotRunning.into());
            }
            return Err(e).with_context(|| format!("pidfd_open {pid}"));
        }
        // SAFETY: the kernel just gave us this fd; nothing else owns it.
        let p = PidFd(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        if !super::process::process_alive(pid, start) {
            return Err(crate::error::Kind::NotRunning.into());
        }
        Ok(p)
    }

    /// pidfd_send_signal; signal 0 probes that the process still exists.
    pub fn signal(&self, sig: i32) -> Result<()> {
        // SAFETY: plain syscall on our own fd; a null siginfo means "as kill(2) would".
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Err(crate::error::Kind::NotRunning.into());
            }
            return Err(e).context("kill");
        }
        Ok(())
    }

    /// The process has not exited (a pidfd polls readable once it has).
    pub fn alive(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut pfd, 1, 0) == 0 }
    }

    /// Another fd for the same process, e.g. one per namespace to join with setns(2).
    pub fn try_clone(&self) -> Result<OwnedFd> {
        self.0.try_clone().context("dup pidfd")
    }
}
