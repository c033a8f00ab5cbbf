//! The foreground terminal of `run` and `exec -t` without a console socket: carrack receives
//! the pty master itself and relays between it and the caller's stdio, with the caller's
//! terminal in raw mode, window size forwarded, and the terminal restored on every exit path.

use anyhow::Result;
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Puts stdin in raw mode while alive.
struct RawGuard(Option<Termios>);

impl RawGuard {
    fn new() -> RawGuard {
        // SAFETY: fd 0 stays open for the process's life: the entry point (main.rs stdio_open),
        // as std's start-up, opens /dev/null on a closed fd 0-2, and nothing here closes it.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        let Ok(orig) = termios::tcgetattr(stdin) else {
            return RawGuard(None); // not a terminal: nothing to restore
        };
        let mut raw = orig.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin, SetArg::TCSANOW, &raw);
        RawGuard(Some(orig))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            // SAFETY: fd 0 is open for the process's life (see RawGuard::new).
            let _ = termios::tcsetattr(unsafe { BorrowedFd::borrow_raw(0) }, SetArg::TCSANOW, orig);
        }
    }
}

fn copy_size(from: RawFd, to: RawFd) {
    // SAFETY: winsize is a C struct of integers, for which all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize, to a live one on the stack; a bad or non-tty fd only
    // fails.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads one winsize, from a live one on the stack; a bad or non-tty fd
        // only fails.
        unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
    }
}

/// Relay until `pid` (our child) exits; returns its exit code.
pub fn relay(master: OwnedFd, pid: i32) -> Result<i32> {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let _raw = RawGuard::new();
    let m = master.as_raw_fd();
    copy_size(0, m);
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: m,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two pollfds in a stack array and a count of 2; poll ignores the fd -1.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
        if fds[0].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            // SAFETY: buf is a live stack buffer and the length passed is its own; m is the master,
            // owned by `master` for the whole loop.
            let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                write_all(1, &buf[..n as usize]);
            }
        }
        if fds[1].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            // SAFETY: buf is a live stack buffer and the length passed is its own.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                write_all(m, &buf[..n as usize]);
            } else {
                stdin_open = false;
            }
        }
        copy_size(0, m); // cheap, and covers SIGWINCH without a handler
        match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, c)) => return finish(m, &mut buf, c),
            Ok(WaitStatus::Signaled(_, s, _)) => return finish(m, &mut buf, 128 + s as i32),
            _ => {}
        }
    }
}

/// Drain what the process wrote before it exited.
fn finish(m: RawFd, buf: &mut [u8], code: i32) -> Result<i32> {
    // SAFETY: F_SETFL takes an int; m is the master, still owned by relay's `master`.
    unsafe { libc::fcntl(m, libc::F_SETFL, libc::O_NONBLOCK) };
    loop {
        // SAFETY: the pointer and length are those of `buf`, a live mutable slice.
        let n = unsafe { libc::read(m, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return Ok(code);
        }
        write_all(1, &buf[..n as usize]);
    }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: the pointer and length are those of `data`, a live slice; a bad fd only fails.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            return;
        }
        data = &data[n as usize..];
    }
}

/// The pty master if init sent one on `s` (it did so before create or exec returned).
pub fn received_master(s: &std::os::unix::net::UnixStream) -> Option<std::os::fd::OwnedFd> {
    s.set_nonblocking(true).ok()?;
    crate::linux::console::recv_fd(s.as_raw_fd()).ok()
}
