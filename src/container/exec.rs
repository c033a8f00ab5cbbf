//! exec: a new process in a running container, in all its namespaces and its cgroup, with the
//! container's process settings as the template (runc's rules for merging the flags).

use crate::error::{Opt, OptContext};
use crate::init::exec::ExecCtx;
use crate::linux::namespaces;
use crate::state::{Status, Store, WrongStatus};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Builds the exec'd process from the container's own (see ExecProcess::Derived).
pub type DeriveProcess = Box<dyn FnOnce(Option<&Process>) -> Result<Process>>;

/// The process `exec` runs.
pub enum ExecProcess {
    /// This process, whole (runc's `exec --process file`).
    Given(Box<Process>),
    /// Built from the container's own process (config.json's, `None` without one): runc's
    /// other exec flags amend it. Called once the container is found and may run a process.
    Derived(DeriveProcess),
}

/// A new process in a running container: what `exec` takes besides the container's id.
pub struct ExecRequest {
    pub process: ExecProcess,
    /// A unix socket that receives the pty master (process.terminal); without one, in the
    /// foreground, the pty is relayed to our stdio.
    pub console_socket: Option<PathBuf>,
    /// A unix socket that receives a pidfd of the new process.
    pub pidfd_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs (exit code 0) instead of waiting for it.
    pub detach: bool,
    /// fds 3..3+N of the caller are passed to the process.
    pub preserve_fds: u32,
    /// A sub-cgroup of the container's to run in (runc's `--cgroup [controller:]path`);
    /// empty: the container's.
    pub cgroup: Vec<String>,
    /// Exec into a paused container too (the process runs once it is resumed).
    pub ignore_paused: bool,
}

impl ExecRequest {
    /// Defaults for everything but the process: foreground, no sockets, no pid file.
    pub fn new(process: ExecProcess) -> ExecRequest {
        ExecRequest {
            process,
            console_socket: None,
            pidfd_socket: None,
            pid_file: None,
            detach: false,
            preserve_fds: 0,
            cgroup: Vec::new(),
            ignore_paused: false,
        }
    }
}

/// Returns the exit code: the process's in the foreground, 0 with `detach`.
pub fn exec(root: &Path, id: &str, a: ExecRequest) -> Result<i32> {
    crate::config::validate_id(id)?;
    let store = Store::new(root)?;
    let c = store.lock(id)?;
    let status = c.status();
    let paused = status == Status::Paused;
    match status {
        Status::Created | Status::Running => {}
        Status::Paused if a.ignore_paused => {}
        s => return Err(WrongStatus(s).into()),
    }
    let spec = c.config()?;
    let process = match a.process {
        ExecProcess::Given(p) => *p,
        ExecProcess::Derived(build) => build(spec.process().as_ref())?,
    };
    check(&process)?;
    let mut ns = namespaces::plan_exec(
        c.state.pid,
        c.state.pid_start,
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]),
    )?;
    if ns.join_pid.is_some() && crate::rootless::euid() {
        enter_user_ns(&mut ns)?;
    }
    if let Some(pidns) = &ns.join_pid {
        nix::sched::setns(pidns.as_fd(), nix::sched::CloneFlags::CLONE_NEWPID)
            .context("join the container's pid namespace")?;
    }
    let cgroup = match a.cgroup.is_empty() {
        true => c.state.cgroup.clone(),
        false => c.state.cgroup.sub(&a.cgroup)?,
    };
    let entry = cgroup.entry().context("join the container's cgroup")?;
    // The pty master goes to --console-socket, or comes back to us in the foreground.
    let terminal = process.terminal().unwrap_or(false);
    let (ours, theirs): (Option<UnixStream>, Option<OwnedFd>) = match (&a.console_socket, terminal)
    {
        (_, false) => (None, None),
        (Some(path), true) => (None, Some(crate::linux::console::connect(path)?)),
        (None, true) if a.detach => {
            let msg = ": cannot allocate tty if carrack will detach without setting console socket";
            return Err(Opt::ExecTty.said(msg).into());
        }
        (None, true) => {
            let (x, y) = UnixStream::pair()?;
            (Some(x), Some(y.into()))
        }
    };
    // Connected now, so a bad path fails before anything runs.
    let pidfd_sock = a
        .pidfd_socket
        .as_deref()
        .map(crate::linux::console::connect)
        .transpose()
        .opt_context(Opt::ExecPidfdSocket.said(""))?;
    let seccomp =
        super::create::compile_seccomp(spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
    let ctx = ExecCtx {
        process: &process,
        ns: &ns,
        preserve_fds: a.preserve_fds,
        console: theirs.as_ref().map(|s| s.as_raw_fd()),
        seccomp: seccomp.as_ref(),
        linux: spec.linux().as_ref(),
        cgroup_tasks: &entry.tasks,
        new_keyring: !c.state.no_new_keyring,
    };
    // Before the child exists: it inherits this affinity until it reaches the cgroup.
    if let Some(list) = process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref())
    {
        crate::linux::scheduling::apply_cpu_affinity("process.execCPUAffinity.initial", list)?;
    }
    let spawn = |fd: Option<&std::os::fd::OwnedFd>| {
        // SAFETY: exec is single-threaded (checked) and holds no lock the child takes (the
        // state lock is a file lock, closed in the child); init::exec::run ends in execve or
        // _exit.
        unsafe {
            crate::linux::clone::clone_child(0, fd, &[c.lock_fd()], |chan| {
                crate::init::exec::run(&ctx, chan)
            })
        }
    };
    let child = match spawn(entry.clone_into.as_ref()) {
        // The container delegated its cgroup (controllers enabled, processes moved into a
        // child such as /init): the top is no longer a leaf. Join init's own cgroup, as runc.
        Err(e) if entry.clone_into.is_some() && a.cgroup.is_empty() && is_ebusy(&e) => {
            spawn(Some(&init_cgroup_fd(c.state.pid)?))?
        }
        // Rootless, from outside the user's delegated subtree (the common ancestor of our
        // cgroup and the container's is not the user's to write): runc ignores the failed
        // join and the process stays in our cgroup.
        Err(e) if entry.clone_into.is_some() && crate::rootless::cgroups() && is_denied(&e) => {
            crate::logging::warn(&format!(
                "exec: the container's cgroup cannot be joined from here ({e:#}); the process stays in ours"
            ));
            spawn(None)?
        }
        other => other?,
    };
    let notify_msg = match seccomp.as_ref().filter(|f| f.uses_notify()) {
        Some(f) => crate::linux::seccomp::listener_message(
            child.pid.into(),
            f.metadata(),
            &crate::state::state_json(&c.state, crate::state::Status::Running).to_string(),
        ),
        None => String::new(),
    };
    let mut held = Some(c);
    let started = child.go(notify_msg).and_then(|()| {
        // --ignore-paused: the child stops as soon as it joins the frozen cgroup and only
        // reaches execve after `resume`, which needs the lock: release it first.
        if paused {
            held = None;
        }
        child.wait_exec()
    });
    if let Err(e) = started {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child.pid), None);
        return Err(e);
    }
    if let Some(sock) = &pidfd_sock {
        send_pidfd(sock, child.pid)?;
    }
    drop(held); // other commands on this container may proceed while the process runs
    if let Some(p) = &a.pid_file {
        super::write_pid_file(p, child.pid)?;
    }
    if a.detach {
        return Ok(0);
    }
    match ours.as_ref().and_then(super::tty::received_master) {
        Some(master) => super::tty::relay(master, child.pid),
        None => super::wait_foreground(child.pid),
    }
}

/// A rootless caller may join a pid namespace only from inside its user namespace (setns
/// needs CAP_SYS_ADMIN in our own namespace too): join the container's user namespace
/// here, where we are single-threaded, as runc's nsexec joins it first. The child is then
/// born in it and joins the rest. Our uid stays the same host uid, so the state, pid file
/// and sockets are reached as before.
fn enter_user_ns(ns: &mut namespaces::Plan) -> Result<()> {
    let user = nix::sched::CloneFlags::CLONE_NEWUSER;
    if let Some(i) = ns.join.iter().position(|(_, f, _)| *f == user) {
        let (fd, _, field) = ns.join.remove(i);
        nix::sched::setns(fd.as_fd(), user).with_context(|| format!("{field}: setns"))?;
    }
    Ok(())
}

/// `--pidfd-socket`: a pidfd of the new process, sent with SCM_RIGHTS (runc 1.2).
fn send_pidfd(sock: &std::os::fd::OwnedFd, pid: i32) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags (integers) and returns a new fd or -1, checked
    // below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error())
            .opt_context(Opt::ExecPidfdSocket.said(": pidfd_open"));
    }
    // SAFETY: fd is the new pidfd, checked >= 0 above; nothing else owns it.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    crate::linux::console::send_fd(sock.as_raw_fd(), "pidfd", fd.as_raw_fd())
        .opt_context(Opt::ExecPidfdSocket.said(": send"))
}

/// What the kernel or init would refuse later, refused before anything runs.
fn check(p: &Process) -> Result<()> {
    if !p.cwd().is_absolute() {
        bail!("process.cwd {:?}: must be an absolute path", p.cwd());
    }
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must not be empty");
    }
    let extra_gids = p.user().additional_gids().as_ref();
    if crate::rootless::euid() && extra_gids.is_some_and(|g| !g.is_empty()) {
        bail!(
            "process.user.additionalGids: cannot set any additional groups in a rootless container"
        );
    }
    crate::linux::lsm::check(p)?;
    crate::config::check_process_scheduling(p)
}

fn is_ebusy(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.raw_os_error() == Some(libc::EBUSY))
}

fn is_denied(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| matches!(io.raw_os_error(), Some(libc::EACCES | libc::EPERM)))
}

/// An O_DIRECTORY fd of the v2 cgroup `pid` is in now.
fn init_cgroup_fd(pid: i32) -> Result<OwnedFd> {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).context("read init's cgroup")?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("init has no cgroup v2 path")?;
    let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let f = std::fs::File::open(&dir).with_context(|| format!("open {}", dir.display()))?;
    Ok(f.into())
}
