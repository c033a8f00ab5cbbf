//! Lifecycle orchestration: create, start, kill, delete. Commands call these; these call the
//! state store, the launcher and the Linux subsystems.

pub mod checkpoint;
mod create;
mod criu_options;
mod events;
mod exec;
pub mod tty;

pub use create::{create, create_held, listen_fds, CreateOptions};
pub use criu_options::{CheckpointOptions, CriuOptions, RestoreOptions};
pub use events::{sample as stats_sample, watch as watch_events, Event, Events};
pub use exec::{exec, ExecProcess, ExecRequest};

use crate::error::{Opt, OptContext};
use crate::state::{process_alive, Locked, Phase, Status, Store, WrongStatus};
use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

/// Release a created container: let init exec the user process, then run poststart hooks.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = Store::new(root)?.lock(id)?;
    match c.status() {
        Status::Created => start_held(c),
        s => Err(WrongStatus(s).into()),
    }
}

/// Start a container we hold locked, Created or just made by create_held (run).
pub fn start_held(mut c: Locked) -> Result<()> {
    crate::fault::point("start:before-fifo");
    let released = release_fifo(&c);
    crate::fault::point("start:after-fifo");
    std::fs::remove_file(c.fifo()).context("remove exec.fifo")?;
    released?;
    if c.state.phase != Phase::Created {
        // run: create_held left it Creating (see there).
        c.state.phase = Phase::Created;
        c.save()?;
    }
    let spec = c.config()?;
    let hooks = spec.hooks().as_ref().and_then(|h| h.poststart().as_ref());
    if hooks.is_some() {
        let st = crate::state::state_json(&c.state, Status::Running).to_string();
        // runtime-spec 1.3 (and runc): a failed poststart hook is an error, and the container
        // is stopped.
        if let Err(e) = crate::linux::hooks::run_all("poststart", hooks, &st) {
            stop_init(&c);
            return Err(e);
        }
    }
    Ok(())
}

/// What `run` takes besides the id: create's options, and what follows the start.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub create: CreateOptions,
    /// Return once the container runs (exit code 0) instead of waiting for it to exit.
    pub detach: bool,
    /// In the foreground: keep the stopped container instead of deleting it.
    pub keep: bool,
}

/// run = create + start, then (unless `detach`) wait and return the container's exit code.
/// In the foreground without a console socket, a terminal container's pty comes back to us
/// and is relayed to our stdio. The container stays locked from create to start: no state is
/// written or read back in between.
pub fn run(root: &Path, id: &str, o: &RunOptions) -> Result<i32> {
    let own_console = !o.detach && o.create.console_socket.is_none();
    let (ours, theirs) = if own_console {
        let (x, y) = std::os::unix::net::UnixStream::pair()?;
        (Some(x), Some(y.into()))
    } else {
        (None, None)
    };
    let (c, pid) = create_held(root, id, &o.create, theirs)?;
    if let Err(e) = start_held(c) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    if o.detach {
        return Ok(0);
    }
    let master = ours.as_ref().and_then(tty::received_master);
    let code = match master {
        Some(m) => tty::relay(m, pid)?,
        None => wait_foreground(pid)?,
    };
    if !o.keep {
        delete(root, id, true)?;
    }
    Ok(code)
}

/// SIGKILL the container's init (as runc's terminate) and wait, bounded, until it is gone.
fn stop_init(c: &Locked) {
    let (pid, start) = (c.state.pid, c.state.pid_start);
    let Ok(init) = crate::linux::pidfd::PidFd::open(pid, start) else {
        return;
    };
    let _ = init.signal(libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid, start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Open exec.fifo for reading (which unblocks init's open for writing) and read init's answer:
/// "0" when it goes on to execve, "1<error>" when a startContainer hook failed.
fn release_fifo(c: &Locked) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(c.fifo())
        .context("open exec.fifo")?;
    let mut answer = Vec::new();
    loop {
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&fifo),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd on the stack and a count of 1; its fd is `fifo`'s, open through the
        // loop.
        let r = unsafe { libc::poll(&mut pfd, 1, 20) };
        if r > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            let mut buf = [0u8; 4096];
            match fifo.read(&mut buf) {
                Ok(0) => break, // init closed its end: the answer is complete
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("read exec.fifo"),
            }
            continue;
        }
        // Hooks may run for a while: wait as long as init lives.
        if !process_alive(c.state.pid, c.state.pid_start) {
            break;
        }
    }
    match answer.split_first() {
        Some((b'0', _)) => Ok(()),
        Some((b'1', msg)) => bail!("{}", String::from_utf8_lossy(msg)),
        _ => Err(WrongStatus(Status::Stopped).into()),
    }
}

/// `sig` is a raw number (linux/signals.rs): 0 probes, and real-time signals have no nix Signal.
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = Store::new(root)?.lock(id)?;
    match c.status() {
        Status::Created | Status::Running | Status::Paused => {}
        s => return Err(WrongStatus(s).into()),
    }
    if all && c.state.cgroup.dirs.is_empty() {
        // A rootless container without a cgroup: its processes are init's descendants.
        for pid in processes(&c.state)? {
            // SAFETY: kill(2) with plain integers; ESRCH (already gone) is fine.
            unsafe { libc::kill(pid, sig) };
        }
        return Ok(());
    }
    if all {
        return c.state.cgroup.signal_all(sig);
    }
    crate::linux::pidfd::PidFd::open(c.state.pid, c.state.pid_start)?.signal(sig)
}

/// ps: the processes of the container `id`; none once it has stopped (its cgroup may be gone
/// with the last of them).
pub fn processes_of(root: &Path, id: &str) -> Result<Vec<i32>> {
    let (state, status) = Store::new(root)?.load(id)?;
    match processes(&state) {
        Ok(pids) => Ok(pids),
        Err(_) if status == Status::Stopped => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The container's processes, sorted: its cgroup's, or, for a rootless container that has
/// no cgroup, the processes of init's pid namespace when it is not ours (exec'd ones are
/// not init's children) and the descendants of all of those. Empty once init is gone.
pub fn processes(s: &crate::state::State) -> Result<Vec<i32>> {
    if !s.cgroup.dirs.is_empty() {
        return s.cgroup.pids();
    }
    if !process_alive(s.pid, s.pid_start) {
        return Ok(Vec::new());
    }
    let ns = |pid: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{pid}/ns/pid"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let theirs = ns(&s.pid.to_string()).filter(|n| Some(*n) != ns("self"));
    let mut found = std::collections::BTreeSet::from([s.pid]);
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").context("read /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if theirs.is_some() && ns(&pid.to_string()) == theirs {
            found.insert(pid);
        }
        if let Some(ppid) = crate::linux::fs::read_text(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| t[t.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok())
        {
            parent_of.push((pid, ppid));
        }
    }
    loop {
        let before = found.len();
        for (pid, ppid) in &parent_of {
            if found.contains(ppid) {
                found.insert(*pid);
            }
        }
        if found.len() == before {
            return Ok(found.into_iter().collect());
        }
    }
}

/// pause: freeze every process of the container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let c = Store::new(root)?.lock(id)?;
    match c.status() {
        Status::Running | Status::Created => c.state.cgroup.freeze(),
        s => Err(WrongStatus(s).into()),
    }
}

/// resume: thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let c = Store::new(root)?.lock(id)?;
    match c.status() {
        Status::Paused => c.state.cgroup.thaw(),
        s => Err(WrongStatus(s).into()),
    }
}

/// update: merge `changes` (a LinuxResources JSON object: present fields replace, the rest
/// stay) into the container's resources, apply the whole result, and keep it for next time.
pub fn update(root: &Path, id: &str, changes: serde_json::Value) -> Result<()> {
    let c = Store::new(root)?.lock(id)?;
    if let s @ (Status::Stopped | Status::Creating) = c.status() {
        return Err(WrongStatus(s).into());
    }
    let mut spec = std::sync::Arc::unwrap_or_clone(c.config()?);
    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut merged = serde_json::to_value(linux.resources().clone().unwrap_or_default())?;
    merge(&mut merged, changes);
    let resources: oci_spec::runtime::LinuxResources =
        crate::config::from_json_value(&merged).context("update: resources")?;
    c.state.cgroup.update_unit(&resources)?;
    c.state.cgroup.apply(&resources)?;
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    c.save_config(&spec)
}

/// Recursive merge of JSON objects: leaves present (and not null) in `from` win.
fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    continue;
                }
                match a.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let store = Store::new(root)?;
    if force {
        store.sweep_dead_creates(id);
    }
    let c = match store.lock(id) {
        Ok(c) => c,
        // Nothing usable to read (missing or corrupt state): remove what is there. A
        // directory we may not open (another user's) is an error, never "nothing there".
        Err(e) if force && !is_permission_error(&e) => {
            let dir = store.dir(id);
            if dir
                .try_exists()
                .with_context(|| format!("cannot stat {}", dir.display()))?
            {
                crate::config::validate_id(id)?;
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("remove {}", dir.display()))?;
            }
            crate::logging::debug(&format!(
                "forced delete of {id}: removed what was there ({e:#})"
            ));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match c.status() {
        Status::Stopped | Status::Created => {}
        s if !force => return Err(WrongStatus(s).into()),
        _ => {}
    }
    let spec = c.config().ok();
    let st = crate::state::state_json(&c.state, Status::Stopped).to_string();
    destroy(c)?;
    let hooks = spec
        .as_ref()
        .and_then(|s| s.hooks().as_ref())
        .and_then(|h| h.poststop().as_ref());
    crate::linux::hooks::run_all_logged("poststop", hooks, &st);
    Ok(())
}

/// The container has a new pid namespace (no `path`). Unknown (config unreadable): no.
fn own_pid_namespace(c: &Locked) -> bool {
    use oci_spec::runtime::LinuxNamespaceType;
    c.config().is_ok_and(|spec| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| {
                ns.iter()
                    .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
            })
    })
}

fn is_permission_error(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
}

/// Kill everything the container holds and remove it: init, the cgroup's processes, the
/// cgroup directories, the state directory. Used by delete and by a failed create.
///
/// A cgroup that cannot be removed is an error, and the state directory is then kept: the
/// container stays listed (stopped) and `delete` can be retried, where removing the state
/// would hide the leaked cgroup from every later command.
pub fn destroy(c: Locked) -> Result<()> {
    let pid = c.state.pid;
    let init = crate::linux::pidfd::PidFd::open(pid, c.state.pid_start).ok();
    let init_alive = init.is_some();
    if let Some(init) = &init {
        let _ = init.signal(libc::SIGKILL);
    }
    // When init of a pid namespace of its own has exited, the kernel has already killed
    // every other process in it (as runc reasons too): no cgroup walk is needed.
    if init_alive || !own_pid_namespace(&c) {
        let _ = c.state.cgroup.signal_all(libc::SIGKILL);
    }
    crate::fault::point("delete:after-kill");
    // Reap init if it is ours (a failed create, or run); otherwise wait for it to die.
    let _ = nix::sys::wait::waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid, c.state.pid_start) && Instant::now() < deadline {
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    c.state
        .cgroup
        .remove()
        .context("the container's state is kept: retry delete")?;
    crate::fault::point("delete:after-cgroup-remove");
    c.destroy().context("remove the container's state")
}

/// Written atomically: engines read it as soon as the command returns.
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let tmp = p.with_extension("carrack-tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|_| std::fs::rename(&tmp, p))
        .with_opt_context(|| Opt::PidFile.said(format!(" {}", p.display())))
}

static FOREGROUND_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = FOREGROUND_PID.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes integers only (pid from an atomic load).
        unsafe { libc::kill(pid, sig) };
    }
}

/// Wait for our child `pid` (run's init, exec's process), forwarding the signals a user or an
/// engine sends us, as runc does. Returns its exit code, 128+N when killed by signal N.
pub fn wait_foreground(pid: i32) -> Result<i32> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    use nix::sys::wait::{waitpid, WaitStatus};
    FOREGROUND_PID.store(pid, std::sync::atomic::Ordering::Relaxed);
    let act = SigAction::new(
        SigHandler::Handler(forward_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        // SAFETY: the handler, forward_signal, only loads an atomic and calls kill(2), both
        // async-signal-safe.
        unsafe { sigaction(s, &act) }?;
    }
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, c)) => return Ok(c),
            Ok(WaitStatus::Signaled(_, s, _)) => return Ok(128 + s as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
