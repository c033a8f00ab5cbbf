//! `process.terminal`: a pty made inside the container (its own devpts, through its
//! /dev/ptmx), the master sent over the console socket with SCM_RIGHTS (the protocol of
//! containerd, podman and runc's own `--console-socket`), the slave as the process's stdio and
//! controlling terminal.

use crate::error::{Opt, OptContext};
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const TIOCGPTPEER: libc::c_ulong = 0x5441;

/// In init or the exec child, after the container's mount namespace is in place and while
/// still root. `bind_console`: also bind the slave over /dev/console (create only, as runc).
/// `owner`: process.user's uid, which becomes the slave's owner.
pub fn setup_pty(
    socket: RawFd,
    size: Option<(u16, u16)>,
    bind_console: bool,
    owner: u32,
) -> Result<()> {
    let master = open_master().context("process.terminal: open /dev/ptmx in the container")?;
    let mut n: libc::c_int = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int and TIOCGPTN writes one, both live locals; the fd is
    // `master`'s, open.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0
            || libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) != 0
        {
            return Err(std::io::Error::last_os_error()).context("process.terminal: unlock pty");
        }
    }
    // The peer is opened from the master itself: no path lookup a container could redirect.
    // SAFETY: TIOCGPTPEER takes its flags by value and returns a new fd (checked below); the fd is
    // `master`'s, open.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(std::io::Error::last_os_error()).context("process.terminal: open pty peer");
    }
    // SAFETY: `slave` is the new fd TIOCGPTPEER returned, checked >= 0 above; nothing else owns it.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    give_to(&slave, owner)?;
    if let Some((h, w)) = size {
        set_size(master.as_raw_fd(), h, w)?;
    }
    let name = format!("/dev/pts/{n}");
    if bind_console {
        // From the fd: a name could be swapped under us (CVE-2025-52565). By name only in
        // the test-only insecure no-console-fd control (src/insecure.rs), as runc < 1.2.8.
        let by_name = crate::insecure::off(crate::insecure::Defence::ConsoleFd);
        bind_dev_console(&if by_name {
            name.clone()
        } else {
            super::fs::fd_path(&slave)
        })?;
    }
    send_fd(socket, &name, master.as_raw_fd())
        .opt_context(Opt::ConsoleSocket.said(": send the pty master"))?;
    drop(master);
    become_controlling(slave.as_raw_fd())
}

/// `process.consoleSize` as (rows, cols).
pub fn size_of(p: &oci_spec::runtime::Process) -> Option<(u16, u16)> {
    p.console_size()
        .map(|b| (b.height() as u16, b.width() as u16))
}

/// As runc: the process's user owns its terminal, so it can use it; the group stays the one
/// devpts chose (its `gid=` option, the tty group in the default config). Errors that mean
/// "cannot be done here" (owner or gid unmapped in a user namespace, read-only /dev) leave
/// the slave as it is, as runc does.
fn give_to(slave: &OwnedFd, uid: u32) -> Result<()> {
    use nix::errno::Errno;
    match nix::unistd::fchown(slave, Some(uid.into()), None) {
        Ok(()) | Err(Errno::EINVAL | Errno::EPERM | Errno::EROFS) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("process.terminal: chown the pty to uid {uid}")),
    }
}

fn open_master() -> Result<OwnedFd> {
    // SAFETY: the path is a NUL-terminated C string literal; the fd returned is checked and owned
    // below.
    let fd = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: fd is the new fd open returned, checked >= 0 above; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize, a live local; a bad or non-tty fd only fails.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error()).context("process.consoleSize: TIOCSWINSZ");
    }
    Ok(())
}

fn bind_dev_console(slave: &str) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let root = std::fs::File::open("/").context("open /")?;
    let target = super::fs::ensure_in_root(
        root.as_raw_fd(),
        std::path::Path::new("/dev/console"),
        super::fs::Kind::File,
    )?;
    mount(
        Some(slave),
        super::fs::fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind the pty over /dev/console")
}

fn become_controlling(slave: RawFd) -> Result<()> {
    // SAFETY: setsid and TIOCSCTTY take integers only; slave is an open fd of the caller's. dup2
    // onto 0-2 swaps the standard streams for the pty and leaves them open, as std assumes (the
    // swap rustix offers as the safe dup2_stdin).
    unsafe {
        libc::setsid();
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) != 0 {
            return Err(std::io::Error::last_os_error()).context("process.terminal: TIOCSCTTY");
        }
        for fd in 0..3 {
            if libc::dup2(slave, fd) < 0 {
                return Err(std::io::Error::last_os_error()).context("process.terminal: dup2");
            }
        }
    }
    Ok(())
}

/// SCM_RIGHTS with the pty name as the payload, as runc sends it.
pub fn send_fd(socket: RawFd, name: &str, fd: RawFd) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    let fds = [fd];
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// The receiving side, for run and exec in the foreground.
pub fn recv_fd(socket: RawFd) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    // Every fd received is owned (and so closed when dropped); the first is the master.
    let mut received = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: SCM_RIGHTS with MSG_CMSG_CLOEXEC just installed this fd in our
                // table; nothing else owns it.
                received.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    received
        .into_iter()
        .next()
        .context("console: no pty master received")
}

/// Connect to `--console-socket` (before pivot_root: the path is on the host).
pub fn connect(path: &std::path::Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .with_opt_context(|| Opt::ConsoleSocket.said(format!(" {}", path.display())))?;
    Ok(s.into())
}
