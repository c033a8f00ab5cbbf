//! The user process: rlimits, identity, umask, cwd, the executable's path, fds and execve.

use crate::error::{Opt, OptContext};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType, User};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

// glibc types the resource as an enum, musl as a plain int.
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn rlimit_resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as R;
    match t {
        R::RlimitCpu => libc::RLIMIT_CPU,
        R::RlimitFsize => libc::RLIMIT_FSIZE,
        R::RlimitData => libc::RLIMIT_DATA,
        R::RlimitStack => libc::RLIMIT_STACK,
        R::RlimitCore => libc::RLIMIT_CORE,
        R::RlimitRss => libc::RLIMIT_RSS,
        R::RlimitNproc => libc::RLIMIT_NPROC,
        R::RlimitNofile => libc::RLIMIT_NOFILE,
        R::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        R::RlimitAs => libc::RLIMIT_AS,
        R::RlimitLocks => libc::RLIMIT_LOCKS,
        R::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        R::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        R::RlimitNice => libc::RLIMIT_NICE,
        R::RlimitRtprio => libc::RLIMIT_RTPRIO,
        R::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// `process.rlimits`: a limit the kernel refuses names itself.
pub fn set_rlimits(limits: &[PosixRlimit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let r = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: setrlimit reads one rlimit, `r`, a live local.
        if unsafe { libc::setrlimit(rlimit_resource(l.typ()), &r) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!(
                    "process.rlimits[{i}] {:?} soft {} hard {}: setrlimit",
                    l.typ(),
                    l.soft(),
                    l.hard()
                )
            });
        }
    }
    Ok(())
}

/// EINVAL from setresuid/setresgid: the id is not mapped in our user namespace (exec into a
/// container with an unmapped user; create checks its config before). Says so, with the map.
fn unmapped(e: std::io::Error, kind: &str) -> anyhow::Error {
    if e.raw_os_error() != Some(libc::EINVAL) {
        return e.into();
    }
    let map = std::fs::read_to_string(format!("/proc/self/{kind}_map")).unwrap_or_default();
    let map: Vec<String> = map
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    anyhow::anyhow!(
        "not mapped in the container's user namespace ({kind}_map: {})",
        map.join(", ")
    )
}

/// `process.user`: groups, gid, uid (in that order: after setuid we may no longer change
/// groups), and the umask.
pub fn set_user(user: &User) -> Result<()> {
    let gids: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
    // Supplementary groups are cleared even when none are configured, so the host's don't leak.
    // SAFETY: the pointer and count are those of `gids`, a live Vec of gid_t.
    if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        // In a user namespace with setgroups denied, an empty list is the only option.
        if !(gids.is_empty() && e.raw_os_error() == Some(libc::EPERM)) {
            return Err(e).context("process.user.additionalGids: setgroups");
        }
    }
    let (uid, gid) = (user.uid(), user.gid());
    // SAFETY: setresgid takes integers only (in a multi-threaded process libc applies it to every
    // thread).
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        return Err(unmapped(std::io::Error::last_os_error(), "gid"))
            .with_context(|| format!("process.user.gid {gid}: setgid"));
    }
    // SAFETY: setresuid takes integers only (in a multi-threaded process libc applies it to every
    // thread).
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        return Err(unmapped(std::io::Error::last_os_error(), "uid"))
            .with_context(|| format!("process.user.uid {uid}: setuid"));
    }
    if let Some(mask) = user.umask() {
        // SAFETY: umask takes an integer and touches no memory of ours.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    Ok(())
}

/// Find `arg0` the way execvp would, but with the container's PATH (from `process.env`), inside
/// the container's root. Done before signalling ready, so `create` reports a missing binary.
pub fn resolve_exec(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        // runc's wording: engines match "no such file or directory" to answer 127.
        let meta = std::fs::metadata(&p).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            anyhow::anyhow!("exec: {arg0:?}: stat {arg0}: {why}")
        })?;
        check_executable_meta(&meta).with_context(|| format!("exec: {arg0:?}"))?;
        return Ok(p);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(arg0);
        if check_executable(&p).is_ok() {
            return Ok(p);
        }
    }
    bail!("exec: {arg0:?}: executable file not found in $PATH")
}

fn check_executable(p: &Path) -> Result<()> {
    check_executable_meta(&std::fs::metadata(p)?)
}

fn check_executable_meta(meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !meta.is_file() {
        bail!("not a regular file");
    }
    if meta.permissions().mode() & 0o111 == 0 {
        bail!("permission denied");
    }
    Ok(())
}

/// `process.cwd` opened in the container's root without magic links (a cwd of
/// /proc/self/fd/N must not reach a host directory through an inherited fd: CVE-2024-21626).
pub fn open_cwd(cwd: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    // Test-only insecure no-fd-isolation control (src/insecure.rs): by path, magic links
    // followed (runc < 1.1.12).
    if crate::insecure::off(crate::insecure::Defence::FdIsolation) {
        return std::fs::File::open(cwd).map(Into::into);
    }
    let root = std::fs::File::open("/")?;
    super::fs::open_dir_in_root(std::os::fd::AsRawFd::as_raw_fd(&root), cwd)
}

fn cwd_context(cwd: &Path) -> String {
    format!("process.cwd {cwd:?}: open (magic links such as /proc/self/fd/N are refused)")
}

/// Before the identity change, as runc: fchdir to the directory `open_cwd` found, so a cwd
/// that root can enter but `process.user` cannot still works. Returns false when root could
/// not open it (EACCES, e.g. in a user namespace): `enter_cwd_as_user` tries again.
pub fn enter_cwd_as_root(early: std::io::Result<std::os::fd::OwnedFd>, cwd: &Path) -> Result<bool> {
    let dir = match early {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Ok(false),
        Err(e) => return Err(e).with_context(|| cwd_context(cwd)),
    };
    nix::unistd::fchdir(&dir).with_context(|| format!("process.cwd {cwd:?}: chdir"))?;
    Ok(true)
}

/// After the identity change, when root could not open the cwd: open and enter it as the
/// process's user (a directory chowned to the container user that root cannot reach).
pub fn enter_cwd_as_user(cwd: &Path) -> Result<()> {
    let dir = open_cwd(cwd).with_context(|| cwd_context(cwd))?;
    nix::unistd::fchdir(&dir).with_context(|| format!("process.cwd {cwd:?}: chdir"))
}

/// Mark every fd from `first` up close-on-exec: nothing the runtime opened reaches the
/// container; fds 0..first (stdio and --preserve-fds) stay.
pub fn cloexec_from(first: u32) -> Result<()> {
    // Test-only insecure no-fd-isolation control (src/insecure.rs): the runtime's fds reach
    // the process, as runc < 1.1.12's did (std opens everything cloexec: clear the flag).
    if crate::insecure::off(crate::insecure::Defence::FdIsolation) {
        for fd in first..1024 {
            // SAFETY: F_SETFD on an fd number only changes that fd's flags (EBADF if closed).
            unsafe { libc::fcntl(fd as i32, libc::F_SETFD, 0) };
        }
        return Ok(());
    }
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: CLOSE_RANGE_CLOEXEC only sets close-on-exec on the range and closes nothing, so no fd
    // owned elsewhere in the process is invalidated.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("close_range");
    }
    Ok(())
}

/// Clear close-on-exec on the preserved fds 3..3+n (the caller may have opened them cloexec).
/// `n` was bounded by `check_preserved_fds`.
pub fn keep_fds(n: u32) {
    for fd in 3..3i32.saturating_add(n.try_into().unwrap_or(i32::MAX)) {
        // SAFETY: F_SETFD on an fd number only changes that fd's flags (EBADF if closed).
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}

/// The fds 3..3+`extra`+`n` (socket activation's, then --preserve-fds') must all be open when
/// carrack starts, before it opens anything itself: a number the caller did not open would be
/// filled later by one of carrack's own fds (a cgroup directory, exec.fifo, the init socket)
/// and handed to the container. runc refuses such a number too ("unable to stat preserved-fd").
pub fn check_preserved_fds(n: u32, extra: u32) -> Result<()> {
    let end = extra
        .checked_add(n)
        .and_then(|t| t.checked_add(3))
        .and_then(|e| i32::try_from(e).ok())
        .with_opt_context(|| Opt::PreserveFds.said(format!(" {n}: too large")))?;
    for fd in 3..end {
        // SAFETY: F_GETFD only reads the flags of an fd number; EBADF when it is not open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            let why = std::io::Error::last_os_error();
            let msg = format!(" {n}: unable to stat preserved-fd {fd}: {why}");
            return Err(Opt::PreserveFds.said(msg).into());
        }
    }
    Ok(())
}

pub struct Exec {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Exec {
    pub fn new(path: &Path, args: &[String], env: &[String]) -> Result<Exec> {
        let c = |s: &str| CString::new(s).with_context(|| format!("{s:?} contains NUL"));
        Ok(Exec {
            path: CString::new(path.as_os_str().as_bytes())?,
            argv: args.iter().map(|a| c(a)).collect::<Result<_>>()?,
            envp: env.iter().map(|e| c(e)).collect::<Result<_>>()?,
        })
    }

    /// execve; only returns on failure.
    pub fn exec(&self) -> anyhow::Error {
        crate::linux::signals::restore_sigpipe();
        let err = nix::unistd::execve(&self.path, &self.argv, &self.envp).unwrap_err();
        anyhow::anyhow!("exec {:?}: {}", self.path, err.desc())
    }
}

/// `process.oomScoreAdj` of our child `pid` (not reaped, so the pid is still its), written by
/// the runtime (lowering needs CAP_SYS_RESOURCE).
pub fn set_oom_score_adj(pid: i32, v: i32) -> Result<()> {
    let path = format!("/proc/{pid}/oom_score_adj");
    std::fs::write(&path, v.to_string())
        .with_context(|| format!("process.oomScoreAdj {v}: write {path}"))
}

/// After entering a user namespace (new or joined) we are still the host's root, unmapped
/// there: become the namespace's root.
pub fn become_userns_root() -> Result<()> {
    // SAFETY: setresgid and setresuid take integers only.
    if unsafe { libc::setresgid(0, 0, 0) } != 0 || unsafe { libc::setresuid(0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("linux.uidMappings: no mapping for root in the user namespace (setuid 0)");
    }
    Ok(())
}

/// Where /proc is for `proc_stat_in`: by path, or an fd of it opened once (`list`).
#[derive(Clone, Copy)]
pub enum Proc {
    Path,
    Fd(std::os::fd::RawFd),
}

/// `(state, starttime)` from /proc/<pid>/stat; None when there is no such process.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    proc_stat_in(Proc::Path, pid)
}

/// `proc_stat`, with /proc given.
pub fn proc_stat_in(proc_: Proc, pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    // At most ~1.1 KiB: 52 numeric fields and a 16-byte comm.
    let mut buf = [0u8; 2048];
    let bytes = match proc_ {
        Proc::Path => super::fs::read_small(Path::new(&format!("/proc/{pid}/stat")), &mut buf),
        Proc::Fd(fd) => super::fs::read_small_at(fd, Path::new(&format!("{pid}/stat")), &mut buf),
    };
    let text = std::str::from_utf8(bytes.ok()?).ok()?;
    // comm may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let st = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?; // field 22 overall
    Some((st, start))
}

/// Alive means: exists, is the same process (start time), and is not a zombie.
pub fn process_alive(pid: i32, start: u64) -> bool {
    process_alive_in(Proc::Path, pid, start)
}

/// `process_alive`, with /proc given.
pub fn process_alive_in(proc_: Proc, pid: i32, start: u64) -> bool {
    live_state_in(proc_, pid, start).is_some()
}

/// The state letter of `pid` (/proc/<pid>/stat field 3) if it is alive (`process_alive`).
pub fn live_state_in(proc_: Proc, pid: i32, start: u64) -> Option<char> {
    proc_stat_in(proc_, pid)
        .filter(|&(st, s)| s == start && st != 'Z' && st != 'X')
        .map(|(st, _)| st)
}
