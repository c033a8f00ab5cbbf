//! /dev inside the container: the default devices every runtime provides, `linux.devices`, and
//! the standard links. Created before pivot_root, inside the rootfs via openat2.

use super::fs::{ensure_in_root, fd_path, open_in_root, Kind};
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

/// (path, major, minor): what runc calls the default "allowed" devices, mode 0666 root:root.
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

/// Create the default devices and then `linux.devices`. In a user namespace mknod is not
/// allowed, so the host's device is bound instead (as runc does).
pub fn create_all(rootfs: RawFd, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    let mut dirs = Dirs::default();
    for (path, major, minor) in DEFAULT_DEVICES {
        if devices.iter().any(|d| d.path() == Path::new(path)) {
            continue; // the config's entry wins
        }
        make_device(
            &mut dirs,
            rootfs,
            Path::new(path),
            libc::S_IFCHR,
            *major,
            *minor,
            0o666,
            0,
            0,
            in_userns,
        )
        .with_context(|| format!("default device {path}"))?;
    }
    for (i, d) in devices.iter().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => bail!("linux.devices[{i}].type \"a\": not a device type"),
        };
        make_device(
            &mut dirs,
            rootfs,
            d.path(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
            in_userns,
        )
        .with_context(|| format!("linux.devices[{i}] {:?}", d.path()))?;
    }
    Ok(())
}

/// The directory the last device went into, open: the six default devices share /dev, which
/// was resolved (two openat2) once per device.
#[derive(Default)]
struct Dirs(Option<(std::path::PathBuf, std::os::fd::OwnedFd)>);

impl Dirs {
    fn open(&mut self, rootfs: RawFd, parent: &Path) -> Result<RawFd> {
        if let Some((p, dir)) = &self.0 {
            if p == parent {
                return Ok(dir.as_raw_fd());
            }
        }
        ensure_in_root(rootfs, parent, Kind::Dir)?;
        let dir = open_in_root(rootfs, parent, libc::O_DIRECTORY | libc::O_RDONLY)
            .with_context(|| format!("open {}", parent.display()))?;
        let (_, dir) = self.0.insert((parent.to_owned(), dir));
        Ok(dir.as_raw_fd())
    }
}

#[allow(clippy::too_many_arguments)]
fn make_device(
    dirs: &mut Dirs,
    rootfs: RawFd,
    path: &Path,
    kind: u32,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    in_userns: bool,
) -> Result<()> {
    let parent = path.parent().context("device path has no parent")?;
    let name = path.file_name().context("device path has no name")?;
    if in_userns {
        let target = ensure_in_root(rootfs, path, Kind::File)?;
        return mount(
            Some(path),
            fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind host {}", path.display()));
    }
    let dir = dirs.open(rootfs, parent)?;
    let c = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name))?;
    let dev = libc::makedev(major as u32, minor as u32);
    // SAFETY: `c` is a NUL-terminated CString alive for the call; dir is open (held by `dirs`).
    unsafe { libc::unlinkat(dir, c.as_ptr(), 0) };
    // SAFETY: `c` is a NUL-terminated CString alive for the call; dir is open (held by `dirs`).
    if unsafe { libc::mknodat(dir, c.as_ptr(), kind | (mode & 0o7777), dev) } != 0 {
        return Err(std::io::Error::last_os_error()).context("mknod");
    }
    // mknod is subject to the umask; set the exact mode and owner the config asks for.
    // SAFETY: `c` is a NUL-terminated CString alive for both calls; dir is open (held by
    // `dirs`).
    unsafe {
        libc::fchmodat(dir, c.as_ptr(), mode & 0o7777, 0);
        if libc::fchownat(dir, c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(std::io::Error::last_os_error()).context("chown");
        }
    }
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err} and /dev/ptmx -> pts/ptmx when /dev/pts is a mount.
pub fn create_links(rootfs: RawFd, has_devpts: bool) -> Result<()> {
    ensure_in_root(rootfs, Path::new("/dev"), Kind::Dir)?;
    let dev = open_in_root(
        rootfs,
        Path::new("/dev"),
        libc::O_DIRECTORY | libc::O_RDONLY,
    )
    .context("open /dev")?;
    let mut links: Vec<(&str, &str)> = LINKS.to_vec();
    if has_devpts {
        links.push(("pts/ptmx", "/dev/ptmx"));
    }
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let name = CString::new(&link[5..])?;
        let t = CString::new(target)?;
        // SAFETY: `name` is a NUL-terminated CString alive for the call; dev is an open OwnedFd.
        unsafe { libc::unlinkat(dev.as_raw_fd(), name.as_ptr(), 0) };
        // SAFETY: `t` and `name` are NUL-terminated CStrings alive for the call; dev is an open
        // OwnedFd.
        if unsafe { libc::symlinkat(t.as_ptr(), dev.as_raw_fd(), name.as_ptr()) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e).with_context(|| format!("symlink {link}"));
            }
        }
    }
    Ok(())
}

/// Is `st` the null device (1:3), wherever it lives?
fn is_dev_null(st: &nix::sys::stat::FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
}

/// runc's reOpenDevNull, after pivot_root when the runtime made /dev: each of fds 0-2 that
/// the caller gave as the host's /dev/null becomes the container's own /dev/null. A file on a
/// mount outside the container is one CRIU cannot dump (podman's conmon gives /dev/null as
/// stdin without `-i`). Close-on-exec fds (carrack's own stand-ins for closed stdio, main.rs)
/// are left alone: they close at exec, as the caller had them.
pub fn reopen_dev_null() -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
    let mut null: Option<OwnedFd> = None;
    for fd in 0..3 {
        // SAFETY: fds 0-2 stay open for the whole call; the borrow does not outlive it.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(st) = nix::sys::stat::fstat(b) else {
            continue; // closed
        };
        if !is_dev_null(&st) {
            continue;
        }
        let flags = fcntl(b, FcntlArg::F_GETFD).context("fcntl F_GETFD")?;
        if FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC) {
            continue;
        }
        if null.is_none() {
            let c = c"/dev/null";
            // SAFETY: a NUL-terminated path; the fd returned is owned below.
            let n = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                )
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error()).context("reopen /dev/null");
            }
            // SAFETY: a fresh fd from open, owned only here.
            let n = unsafe { OwnedFd::from_raw_fd(n) };
            let st = nix::sys::stat::fstat(&n).context("fstat /dev/null")?;
            if !is_dev_null(&st) {
                bail!("reopen /dev/null: the container's /dev/null is not the null device");
            }
            null = Some(n);
        }
        let n = null.as_ref().expect("opened above");
        // SAFETY: dup3 onto fd 0-2 replaces the host's /dev/null with the container's; no
        // Rust object owns those fds.
        if unsafe { libc::dup3(n.as_raw_fd(), fd, 0) } < 0 {
            return Err(std::io::Error::last_os_error()).context("reopen /dev/null: dup3");
        }
    }
    Ok(())
}
