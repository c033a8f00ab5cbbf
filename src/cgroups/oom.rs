//! OOM notifications for `events`: v1 registers an eventfd on memory.oom_control through
//! cgroup.event_control (a wake-up is an OOM unless the cgroup was removed); v2 polls
//! memory.events for POLLPRI and compares its oom_kill counter.

use super::{Cgroup, Kind};
use anyhow::{Context, Result};
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

pub struct OomWatch {
    /// v1: the eventfd; v2: memory.events itself.
    wake: OwnedFd,
    /// The file with the `oom_kill N` line (memory.oom_control or memory.events).
    counter: PathBuf,
    seen: u64,
    v2: bool,
}

impl OomWatch {
    pub fn new(cg: &Cgroup) -> Result<Option<OomWatch>> {
        for d in &cg.dirs {
            match d.kind() {
                Kind::V1 { controllers } if controllers.split(',').any(|c| c == "memory") => {
                    let control = d.path.join("memory.oom_control");
                    // SAFETY: eventfd takes integers only; the fd it returns is checked and owned
                    // just below.
                    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
                    if efd < 0 {
                        return Err(std::io::Error::last_os_error()).context("eventfd");
                    }
                    // SAFETY: efd is the new eventfd, checked >= 0 above; nothing else owns it.
                    let wake = unsafe { OwnedFd::from_raw_fd(efd) };
                    let oc = std::fs::File::open(&control)
                        .with_context(|| format!("open {}", control.display()))?;
                    std::fs::write(
                        d.path.join("cgroup.event_control"),
                        format!("{} {}", wake.as_raw_fd(), oc.as_raw_fd()),
                    )
                    .context("register for OOM notifications (cgroup.event_control)")?;
                    let seen = count(&control);
                    return Ok(Some(OomWatch {
                        wake,
                        counter: control,
                        seen,
                        v2: false,
                    }));
                }
                Kind::Unified if d.path.join("memory.events").exists() => {
                    let events = d.path.join("memory.events");
                    let f = std::fs::File::open(&events)
                        .with_context(|| format!("open {}", events.display()))?;
                    let seen = count(&events);
                    return Ok(Some(OomWatch {
                        wake: f.into(),
                        counter: events,
                        seen,
                        v2: true,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Wait up to `timeout`; true when the OOM killer ran in the cgroup since the last call.
    pub fn wait(&mut self, timeout: std::time::Duration) -> bool {
        let events = if self.v2 { libc::POLLPRI } else { libc::POLLIN };
        let mut pfd = libc::pollfd {
            fd: self.wake.as_raw_fd(),
            events,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd on the stack and a count of 1; its fd is self.wake, open while self
        // lives.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n <= 0 {
            return false;
        }
        if self.v2 {
            // Re-arm: kernfs wakes POLLPRI pollers once per change after a read.
            let mut f = std::fs::File::from(self.wake.try_clone().expect("dup memory.events fd"));
            let _ = f.rewind();
            let _ = f.read_to_end(&mut Vec::new());
        } else {
            let mut buf = [0u8; 8];
            // SAFETY: an 8-byte stack buffer and a length of 8; the fd is self.wake's, open.
            unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        }
        if !self.v2 {
            // The eventfd fires when the OOM begins (oom_kill may not count it yet), and when
            // the cgroup is removed: an OOM unless the cgroup is gone, as runc decides.
            return self.counter.exists();
        }
        let now = count(&self.counter);
        let fired = now > self.seen;
        self.seen = now;
        fired
    }
}

/// The `oom_kill` count of memory.oom_control (v1) or memory.events (v2).
fn count(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
