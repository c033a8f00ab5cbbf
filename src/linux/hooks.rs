//! OCI hooks: run `path` with `args` and `env`, the container state JSON on stdin, killed at
//! `timeout`. The caller decides where (runtime or container namespace) and what a failure means.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Hook;
use std::io::{Read, Write};
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
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        run_one(h, state_json).with_context(|| format!("hooks.{kind}[{i}] {:?}", h.path()))?;
    }
    Ok(())
}

/// Like `run_all`, but a failure is only logged (poststart, poststop).
pub fn run_all_logged(kind: &str, hooks: Option<&Vec<Hook>>, state_json: &str) {
    for (i, h) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run_one(h, state_json) {
            crate::logging::warn(&format!("hooks.{kind}[{i}] {:?}: {e:#}", h.path()));
        }
    }
}

fn run_one(h: &Hook, state_json: &str) -> Result<()> {
    let args = h.args().as_deref().unwrap_or(&[]);
    let mut cmd = Command::new(h.path());
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to a memfd, not a pipe: a chatty hook cannot block on a full pipe.
    let out = memfd()?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?));
    let mut child = cmd.spawn().context("start")?;
    // A hook that does not read its stdin must not block us: ignore EPIPE.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let timeout = h.timeout().map(|t| Duration::from_secs(t.max(1) as u64));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().context("wait")? {
            break s;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", timeout.unwrap().as_secs());
        }
        std::thread::sleep(Duration::from_millis(2));
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

fn memfd() -> Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    let fd = unsafe { libc::memfd_create(c"carrack-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}
