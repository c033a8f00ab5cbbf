//! Path handling inside the container's rootfs. Every lookup goes through
//! `openat2(RESOLVE_IN_ROOT)`, so a symlink in a hostile rootfs (`/etc -> /host/etc`,
//! `../../..`) resolves inside the rootfs, never on the host. Mount targets are then addressed
//! through `/proc/self/fd/N`, which names the exact inode that was opened.

use anyhow::{Context, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path};

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;
/// 0 only in the test-only insecure no-resolve-in-root control (src/insecure.rs), the
/// positive control of tests/security/cve_2021_30465.rs.
fn resolve_in_root() -> u64 {
    if crate::insecure::off(crate::insecure::Defence::ResolveInRoot) {
        0
    } else {
        0x10
    }
}
const PROC_ROOT_INO: u64 = 1;

/// `what` the caller wants to exist at a path being created.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Dir,
    File,
}

fn cstr(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).with_context(|| format!("{p:?}: contains NUL"))
}

/// openat2 with `path` resolved as if `root` were `/`.
pub fn open_in_root(root: RawFd, path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    openat2(
        root,
        strip_root(path),
        flags,
        resolve_in_root() | RESOLVE_NO_MAGICLINKS,
    )
}

/// mount_setattr(2) on the mount `fd` names: set and clear MOUNT_ATTR_* (with a user
/// namespace fd for MOUNT_ATTR_IDMAP), on the whole subtree when `recursive`.
pub fn mount_setattr(
    fd: &impl AsRawFd,
    set: u64,
    clr: u64,
    userns: Option<RawFd>,
    recursive: bool,
) -> std::io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        set: u64,
        clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        set,
        clr,
        propagation: 0,
        userns_fd: userns.map_or(0, |u| u as u64),
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: MountAttr is repr(C) with the kernel's struct mount_attr layout (four u64) and its
    // size is passed; it and the empty C string live on the stack for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn openat2(dir: RawFd, path: &Path, flags: i32, resolve: u64) -> std::io::Result<OwnedFd> {
    let c = cstr(path).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is a C struct of integers, for which all zeroes is a valid value (and the
    // kernel wants unused fields 0).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    // SAFETY: `c` is a NUL-terminated CString and `how` a live open_how whose size is passed; the
    // fd returned is checked and owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is the new fd openat2 returned, checked >= 0 above; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Open `rel` (e.g. "sys/kernel/shmmax", "self/attr/exec") under the calling process's /proc
/// for a write that must reach procfs itself (CVE-2025-52881): /proc must be the root of a
/// procfs mount, and the walk may not cross a mount (RESOLVE_NO_XDEV: no volume or bind over
/// a /proc entry), leave /proc, or follow a magic link; the file found must be procfs too.
pub fn proc_open(rel: &str, flags: i32) -> Result<OwnedFd> {
    // Test-only insecure no-proc-checks control (src/insecure.rs): by path, created if
    // missing (runc's os.WriteFile before 1.2.8).
    if crate::insecure::off(crate::insecure::Defence::ProcChecks) {
        let path = format!("/proc/{rel}");
        return Ok(openat2(
            libc::AT_FDCWD,
            Path::new(&path),
            flags | libc::O_CREAT,
            0,
        )?);
    }
    let proc_ = openat2(
        libc::AT_FDCWD,
        Path::new("/proc"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    )
    .context("open /proc")?;
    let st = nix::sys::stat::fstat(&proc_).context("stat /proc")?;
    if !is_procfs(proc_.as_raw_fd()) || st.st_ino != PROC_ROOT_INO {
        anyhow::bail!("/proc is not the root of a procfs mount");
    }
    let resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
    let fd = openat2(proc_.as_raw_fd(), Path::new(rel), flags, resolve)
        .with_context(|| format!("open /proc/{rel} (on procfs, no mount crossed)"))?;
    if !is_procfs(fd.as_raw_fd()) {
        anyhow::bail!("/proc/{rel} is not on procfs");
    }
    Ok(fd)
}

/// Open `path` as a directory inside `root` without any magic link on the way (a cwd of
/// /proc/self/fd/N must not reach a host directory through an inherited fd: CVE-2024-21626).
pub fn open_dir_in_root(root: RawFd, path: &Path) -> std::io::Result<OwnedFd> {
    openat2(
        root,
        strip_root(path),
        libc::O_PATH | libc::O_DIRECTORY,
        resolve_in_root() | RESOLVE_NO_MAGICLINKS,
    )
}

/// "." for "/", else the path without its leading "/".
fn strip_root(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// Make `path` exist inside `root` (parents as directories, the last as `kind`) and return an
/// O_PATH fd of it. Symlinks met on the way, dangling ones included, are followed inside the
/// root (a link to `/x` means `<root>/x`), so the created entries always land in the rootfs.
pub fn ensure_in_root(root: RawFd, path: &Path, kind: Kind) -> Result<OwnedFd> {
    match open_in_root(root, path, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            if let Some(fd) = create_last(root, path, kind) {
                return Ok(fd);
            }
        }
        Err(_) => {}
    }
    let mut todo: std::collections::VecDeque<std::ffi::OsString> = components(path).collect();
    let mut cur = std::path::PathBuf::from("/");
    let mut links = 0;
    while let Some(comp) = todo.pop_front() {
        if comp == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&comp);
        match open_in_root(root, &next, libc::O_PATH | libc::O_NOFOLLOW) {
            Ok(fd) if is_symlink(&fd) => {
                links += 1;
                if links > 40 {
                    anyhow::bail!("{}: too many levels of symbolic links", path.display());
                }
                let target = nix::fcntl::readlinkat(&fd, "")
                    .with_context(|| format!("readlink {} in rootfs", next.display()))?;
                let target = Path::new(&target);
                if target.is_absolute() {
                    cur = std::path::PathBuf::from("/");
                }
                for (i, c) in components(target).enumerate() {
                    todo.insert(i, c);
                }
            }
            Ok(_) => cur = next,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let parent = open_in_root(root, &cur, libc::O_PATH | libc::O_DIRECTORY)
                    .with_context(|| format!("open {} in rootfs", cur.display()))?;
                let k = if todo.is_empty() { kind } else { Kind::Dir };
                match create_at(parent.as_raw_fd(), &comp, k) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                        return Err(e)
                            .with_context(|| format!("create {} in rootfs", next.display()));
                    }
                    _ => {}
                }
                cur = next;
            }
            Err(e) => return Err(e).with_context(|| format!("open {} in rootfs", next.display())),
        }
    }
    open_in_root(root, &cur, libc::O_PATH)
        .with_context(|| format!("open {} in rootfs", path.display()))
}

/// The common case, in 4 syscalls instead of a walk: only the last component is missing.
/// Create it in its parent (opened inside the root like every lookup) and open it. None when
/// that does not apply (a missing parent, or an entry that exists after all, such as a
/// dangling symlink): the caller then walks the path.
fn create_last(root: RawFd, path: &Path, kind: Kind) -> Option<OwnedFd> {
    let Some(Component::Normal(name)) = path.components().next_back() else {
        return None;
    };
    let parent = open_in_root(root, path.parent()?, libc::O_PATH | libc::O_DIRECTORY).ok()?;
    create_at(parent.as_raw_fd(), name, kind).ok()?;
    open_in_root(root, path, libc::O_PATH).ok()
}

/// Normal and `..` components; `/` and `.` carry no step.
fn components(p: &Path) -> impl Iterator<Item = std::ffi::OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    })
}

fn is_symlink(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

fn create_at(dir: RawFd, name: &std::ffi::OsStr, kind: Kind) -> std::io::Result<()> {
    let c = cstr(Path::new(name)).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let r = match kind {
        // SAFETY: `c` is a NUL-terminated CString alive for the call.
        Kind::Dir => unsafe { libc::mkdirat(dir, c.as_ptr(), 0o755) },
        Kind::File => {
            // SAFETY: `c` is a NUL-terminated CString alive for the call; the fd returned is closed
            // just below.
            let fd = unsafe {
                libc::openat(
                    dir,
                    c.as_ptr(),
                    libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_WRONLY
                        | libc::O_CLOEXEC
                        | libc::O_NOFOLLOW,
                    0o644,
                )
            };
            if fd >= 0 {
                // SAFETY: fd is the one openat just created, ours alone and not used after this.
                unsafe { libc::close(fd) };
            }
            fd.min(0)
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A small file, whole, in few syscalls: no stat for a size hint (procfs and cgroupfs report
/// 0, which makes std's reader start at 32 bytes and double), so most files take one read
/// and the read that sees EOF.
pub fn read_text(path: impl AsRef<Path>) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path.as_ref())?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// `read_text`'s bytes: openat, reads, close (`list` reads three small files per container).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    read_bytes_at(libc::AT_FDCWD, path)
}

/// `read_bytes` of `path` relative to the directory fd `dir` (or AT_FDCWD).
pub fn read_bytes_at(dir: RawFd, path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::from(open_cloexec_at(dir, path, libc::O_RDONLY)?);
    let mut buf = Vec::with_capacity(8192);
    (&f).take(u64::MAX).read_to_end(&mut buf)?;
    Ok(buf)
}

/// `read_bytes_at` of a regular file that is replaced whole, never written in place (a state
/// file, renamed over its old self): a read that returns less than it asked for has reached
/// the end, so the read that would see EOF is saved (`list` reads one such file per
/// container).
pub fn read_replaced_file_at(dir: RawFd, path: &Path) -> std::io::Result<Vec<u8>> {
    let fd = open_cloexec_at(dir, path, libc::O_RDONLY)?;
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` is the Vec's unused, writable capacity of spare.len() bytes; the fd
        // is open (owned above). The kernel initialises the n bytes it returns, which
        // set_len then covers.
        let n = unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        let asked = spare.len();
        match usize::try_from(n) {
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
            }
            Err(_) => return Err(std::io::Error::last_os_error()),
            Ok(n) => {
                // SAFETY: see above: n <= spare.len() bytes past len were written by read.
                unsafe { buf.set_len(buf.len() + n) };
                if n < asked {
                    return Ok(buf);
                }
                buf.reserve(buf.len());
            }
        }
    }
}

/// A small procfs or cgroupfs file into `buf`, in one read: these are seq_files, whose read
/// fills the buffer as far as the content goes, so a short read is the whole file and the
/// read that would see EOF is saved (`list` reads two such files per container). A file
/// that fills `buf` is an error, never silently cut.
pub fn read_small<'a>(path: &Path, buf: &'a mut [u8]) -> std::io::Result<&'a [u8]> {
    read_small_at(libc::AT_FDCWD, path, buf)
}

/// `read_small` of `path` relative to the directory fd `dir` (or AT_FDCWD).
pub fn read_small_at<'a>(dir: RawFd, path: &Path, buf: &'a mut [u8]) -> std::io::Result<&'a [u8]> {
    let fd = open_cloexec_at(dir, path, libc::O_RDONLY)?;
    // SAFETY: `buf` is a live, writable slice of buf.len() bytes; the fd is open (owned above).
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    match usize::try_from(n) {
        Err(_) => Err(std::io::Error::last_os_error()),
        Ok(n) if n == buf.len() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: larger than {} bytes", path.display(), buf.len()),
        )),
        Ok(n) => Ok(&buf[..n]),
    }
}

/// open(2) with O_CLOEXEC as one syscall: musl's open() follows an O_CLOEXEC open with
/// fcntl(F_SETFD) for kernels older than 2.6.23, one syscall more for every file carrack
/// opens through std.
pub fn open_cloexec(path: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    open_cloexec_at(libc::AT_FDCWD, path, flags)
}

/// `open_cloexec` of `path` relative to the directory fd `dir` (or AT_FDCWD): a walk of one
/// or two components instead of the whole path (path lookup was a third of the kernel's
/// time in `list`).
pub fn open_cloexec_at(dir: RawFd, path: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a NUL-terminated CString alive for the call; the other arguments are
    // integers (`dir` is only a number to the kernel, EBADF if not open); the fd returned is
    // checked and owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            dir,
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from openat, checked above; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// fstatat(2) of `path` relative to the directory fd `dir` (or AT_FDCWD), following links.
pub fn stat_at(dir: RawFd, path: &Path) -> std::io::Result<libc::stat> {
    stat_at_flags(dir, path, 0)
}

/// `stat_at` of the path itself when it is a symlink (AT_SYMLINK_NOFOLLOW).
pub fn lstat_at(dir: RawFd, path: &Path) -> std::io::Result<libc::stat> {
    stat_at_flags(dir, path, libc::AT_SYMLINK_NOFOLLOW)
}

fn stat_at_flags(dir: RawFd, path: &Path, flags: libc::c_int) -> std::io::Result<libc::stat> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: all-zero bytes are a valid libc::stat (integers only).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated CString alive for the call; the kernel writes one stat
    // into `st`, a live local.
    if unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// fstat(2) of an open fd (O_PATH fds too).
pub fn fstat(fd: RawFd) -> std::io::Result<libc::stat> {
    // SAFETY: all-zero bytes are a valid libc::stat (integers only).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is only a number to the kernel (EBADF if not open); it writes one stat into
    // `st`, a live local.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// The entries of a directory (without `.` and `..`) with their d_type, read with getdents64
/// into a stack buffer. std's read_dir goes through libc's opendir, which allocates its
/// buffer from libc's malloc: with musl an 8 KiB mmap and munmap per directory, and delete
/// lists every cgroup hierarchy twice.
pub fn dir_entries(path: &Path) -> std::io::Result<Vec<(std::ffi::OsString, u8)>> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a NUL-terminated CString alive for the call; the fd returned is checked and
    // owned below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is the new fd open returned, checked >= 0 above; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut out = Vec::new();
    // u64 elements: the kernel's dirent64 records are 8-byte aligned.
    let mut buf = [0u64; 1024];
    loop {
        // SAFETY: the kernel writes at most size_of_val(&buf) bytes into `buf`, a live stack array;
        // fd is open.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(out);
        }
        // SAFETY: the kernel wrote n <= size_of_val(&buf) bytes, and the u64 array was fully
        // initialised anyway; u8 has no alignment need, and the slice ends before buf is written
        // again.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        let mut off = 0;
        // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
        while off + 19 < bytes.len() {
            let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            if reclen == 0 || off + reclen > bytes.len() {
                break;
            }
            let d_type = bytes[off + 18];
            let name = &bytes[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                out.push((std::ffi::OsStr::from_bytes(name).to_owned(), d_type));
            }
            off += reclen;
        }
    }
}

/// The magic-link path that names an opened fd, for syscalls that take paths (mount).
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// True when `path` is a real procfs (not something a hostile rootfs put there).
pub fn is_procfs(fd: RawFd) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    // SAFETY: libc::statfs is a C struct of integers, for which all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes one statfs into `st`, a live local; a bad fd only fails.
    unsafe { libc::fstatfs(fd, &mut st) == 0 && st.f_type as i64 == PROC_SUPER_MAGIC }
}

/// mountinfo escapes space, tab, newline and backslash as \ooo octal; undone here (the one
/// copy, for the cgroup planner and the rootfs propagation code).
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn dir_entries_lists_names_and_types() {
        let tmp = tempfile::tempdir().unwrap();
        // More than one getdents64 buffer's worth, and long names.
        let mut want = Vec::new();
        for i in 0..300 {
            let name = format!("dir-{i:03}-{}", "x".repeat(40));
            fs::create_dir(tmp.path().join(&name)).unwrap();
            want.push((name, libc::DT_DIR));
        }
        fs::write(tmp.path().join("file"), b"").unwrap();
        want.push(("file".into(), libc::DT_REG));
        let mut got: Vec<(String, u8)> = dir_entries(tmp.path())
            .unwrap()
            .into_iter()
            .map(|(n, t)| (n.into_string().unwrap(), t))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        let err = dir_entries(&tmp.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        // An absolute and a relative escape attempt.
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../../outside", root.join("rel")).unwrap();
        let rootfd = fs::File::open(&root).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), Path::new("/abs/made"), Kind::Dir).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), Path::new("/rel/file"), Kind::File).unwrap();
        assert!(
            fs::read_dir(&outside).unwrap().next().is_none(),
            "escaped the root"
        );
        // The absolute link pointed at <root>/<tmp>/outside, created inside the root.
        assert!(root
            .join(outside.strip_prefix("/").unwrap())
            .join("made")
            .is_dir());
        assert!(root.join("outside/file").is_file());
    }

    #[test]
    fn existing_path_is_opened_and_kind_is_respected() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfd = fs::File::open(tmp.path()).unwrap();
        ensure_in_root(rootfd.as_raw_fd(), Path::new("/a/b/c"), Kind::File).unwrap();
        assert!(tmp.path().join("a/b").is_dir());
        assert!(tmp.path().join("a/b/c").is_file());
        ensure_in_root(rootfd.as_raw_fd(), Path::new("/a/b/c"), Kind::File).unwrap();
        let proc_fd = fs::File::open("/proc").unwrap();
        assert!(is_procfs(proc_fd.as_raw_fd()));
        assert!(!is_procfs(rootfd.as_raw_fd()));
    }
}
