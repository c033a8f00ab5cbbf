//! `tmpcopyup`: fill a freshly mounted tmpfs with the content of the directory it covers,
//! keeping owners, modes and symlinks. Both sides are directory fds (the covered one opened
//! before the mount), so no path is ever resolved outside the rootfs.

use anyhow::{Context, Result};
use nix::dir::Dir;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Copy every entry of `src` into `dst`, recursively.
pub fn copy_tree(src: &OwnedFd, dst: &OwnedFd) -> Result<()> {
    let st = fstat(src.as_raw_fd(), c"")?;
    // The tmpfs root takes the covered directory's owner and mode.
    chown_mode(dst.as_raw_fd(), c"", &st)?;
    let mut dir = Dir::openat(
        src,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .context("tmpcopyup: read the covered directory")?;
    for entry in dir.iter() {
        let entry = entry.context("tmpcopyup: readdir")?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(src.as_raw_fd(), dst.as_raw_fd(), name)
            .with_context(|| format!("tmpcopyup: {}", name.to_string_lossy()))?;
    }
    Ok(())
}

fn copy_entry(src: RawFd, dst: RawFd, name: &CStr) -> Result<()> {
    let st = fstat(src, name)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            // SAFETY: `name` is a &CStr (NUL-terminated) alive for the call; dst is the caller's
            // open dir fd.
            check(unsafe { libc::mkdirat(dst, name.as_ptr(), 0o700) })?;
            let s = open(src, name, libc::O_DIRECTORY | libc::O_RDONLY)?;
            let d = open(dst, name, libc::O_DIRECTORY | libc::O_RDONLY)?;
            copy_tree(&s, &d)?;
        }
        libc::S_IFREG => {
            let s = std::fs::File::from(open(src, name, libc::O_RDONLY)?);
            // SAFETY: `name` is a &CStr alive for the call; the fd returned is checked and owned
            // just below.
            let fd = unsafe {
                libc::openat(
                    dst,
                    name.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600,
                )
            };
            check(fd)?;
            // SAFETY: fd is the new fd openat returned, checked >= 0 by check(); nothing else owns
            // it.
            let mut d = unsafe { std::fs::File::from_raw_fd(fd) };
            std::io::copy(&mut &s, &mut d)?;
        }
        libc::S_IFLNK => {
            let mut buf = vec![0u8; libc::PATH_MAX as usize];
            let n =
                // SAFETY: the pointer and length are those of `buf`, a live Vec; `name` is a &CStr.
                unsafe { libc::readlinkat(src, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            check(n as i32)?;
            buf.truncate(n as usize);
            let target = CString::new(buf)?;
            // SAFETY: `target` and `name` are NUL-terminated (CString, &CStr) and alive for the
            // call.
            check(unsafe { libc::symlinkat(target.as_ptr(), dst, name.as_ptr()) })?;
        }
        // SAFETY: `name` is a &CStr alive for the call; mode and dev are integers.
        _ => check(unsafe { libc::mknodat(dst, name.as_ptr(), st.st_mode, st.st_rdev) })?,
    }
    chown_mode(dst, name, &st)
}

fn chown_mode(dir: RawFd, name: &CStr, st: &libc::stat) -> Result<()> {
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        0
    } | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: `name` is a &CStr alive for the call (empty with AT_EMPTY_PATH: the dir fd itself).
    check(unsafe { libc::fchownat(dir, name.as_ptr(), st.st_uid, st.st_gid, flags) })?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Ok(());
    }
    let mode = st.st_mode & 0o7777;
    if name.is_empty() {
        // SAFETY: fchmod takes an fd and a mode, both integers.
        check(unsafe { libc::fchmod(dir, mode) })
    } else {
        // SAFETY: `name` is a &CStr alive for the call.
        check(unsafe { libc::fchmodat(dir, name.as_ptr(), mode, 0) })
    }
}

fn fstat(dir: RawFd, name: &CStr) -> Result<libc::stat> {
    // SAFETY: libc::stat is a C struct of integers, for which all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        0
    } | libc::AT_SYMLINK_NOFOLLOW;
    // SAFETY: `name` is a &CStr alive for the call; fstatat writes one stat into `st`, a live
    // local.
    check(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

fn open(dir: RawFd, name: &CStr, flags: i32) -> Result<OwnedFd> {
    // SAFETY: `name` is a &CStr alive for the call; the fd returned is checked and owned just
    // below.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    check(fd)?;
    // SAFETY: fd is the new fd openat returned, checked >= 0 by check(); nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn check(r: i32) -> Result<()> {
    if r < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}
