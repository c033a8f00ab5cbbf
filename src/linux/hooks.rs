//! OCI hooks: run `path` with `args` and `env`, the container state JSON on stdin, killed at
//! `timeout`. The caller decides where (runtime or container namespace) and what a failure means.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hook kinds carrack runs (advertised by `features`; each is exercised by tests/hooks.rs).
pub const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Run `hooks` (the list named `kind`, e.g. "createRuntime") in order; the first failure stops.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) -> Result<()> {
    run_all_env(kind, hooks, state_json, &[])
}

/// Like `run_all`; a hook without `env` gets `default_env`. runc runs the hooks in the
/// container (createContainer, startContainer) from init after setting `process.env` as its
/// environment, and a hook without `env` inherits it.
pub fn run_all_env(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state_json: &str,
    default_env: &[String],
) -> Result<()> {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state_json, default_env)
            .with_context(|| format!("hooks.{kind}[{i}] {:?}", h.path()))?;
    }
    Ok(())
}

/// Like `run_all`, but a failure is only logged (poststop).
pub fn run_all_logged(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run_one(h, state_json, &[]) {
            crate::logging::warn(&format!("hooks.{kind}[{i}] {:?}: {e:#}", h.path()));
        }
    }
}

fn run_one(h: &Hook, state_json: &str, default_env: &[String]) -> Result<()> {
    let args = h.args().as_deref().unwrap_or(&[]);
    let mut cmd = Command::new(h.path());
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in h.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to a memfd, not a pipe: a chatty hook cannot block on a full pipe.
    let out = memfd()?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?));
    let timeout = h.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut child = cmd.spawn().context("start")?;
    // The timeout covers the write too: a state larger than a pipe (big annotations) must not
    // block us on a hook that never reads.
    let fed = match child.stdin.take() {
        Some(stdin) => feed(stdin.into(), state_json.as_bytes(), deadline),
        None => Ok(true),
    };
    let status = match fed {
        Ok(true) => wait_until(&mut child, deadline)?,
        Ok(false) => None,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("timed out after {}s", timeout.unwrap_or_default().as_secs());
    };
    let mut stderr = String::new();
    let mut out = out;
    use std::io::Seek;
    out.seek(std::io::SeekFrom::Start(0))?;
    let _ = out.take(64 * 1024).read_to_string(&mut stderr);
    if !stderr.trim().is_empty() {
        crate::logging::debug(&format!("hook {:?} output: {}", h.path(), stderr.trim()));
    }
    if !status.success() {
        let detail = stderr.trim();
        if detail.is_empty() {
            bail!("{status}");
        }
        bail!("{status}: {detail}");
    }
    Ok(())
}

/// Write `data` to the hook's stdin without blocking past `deadline`. Ok(false): the deadline
/// passed first. A hook that exits or closes its stdin early is not an error (EPIPE).
fn feed(pipe: OwnedFd, data: &[u8], deadline: Option<Instant>) -> Result<bool> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    fcntl(&pipe, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).context("stdin: O_NONBLOCK")?;
    let mut rest = data;
    while !rest.is_empty() {
        match nix::unistd::write(&pipe, rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EPIPE) => return Ok(true),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                let wait = match deadline {
                    None => PollTimeout::NONE,
                    Some(d) => match d.checked_duration_since(Instant::now()) {
                        Some(left) => PollTimeout::try_from(left.as_millis().max(1) as i32)
                            .unwrap_or(PollTimeout::MAX),
                        None => return Ok(false),
                    },
                };
                let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, wait) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e).context("stdin: poll"),
                }
            }
            Err(e) => return Err(e).context("stdin: write"),
        }
    }
    Ok(true)
}

/// Wait for the hook to exit; None when `deadline` passed first.
fn wait_until(
    child: &mut std::process::Child,
    deadline: Option<Instant>,
) -> Result<Option<std::process::ExitStatus>> {
    loop {
        if let Some(s) = child.try_wait().context("wait")? {
            return Ok(Some(s));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn memfd() -> Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: the name is a NUL-terminated C string literal; the fd returned is checked and owned
    // below.
    let fd = unsafe { libc::memfd_create(c"carrack-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fd is the new memfd, checked >= 0 above; nothing else owns it.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}
