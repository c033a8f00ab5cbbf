//! exec: a new process in a running container, in all its namespaces and its cgroup, with the
//! container's process settings as the template (runc's rules for merging the flags).

use crate::cli::ExecArgs;
use crate::init::exec::ExecCtx;
use crate::launcher;
use crate::linux::namespaces;
use crate::state::{Status, Store};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use serde_json::{json, Value};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Returns the exit code: the process's in the foreground, 0 with --detach.
pub fn exec(root: &Path, a: &ExecArgs) -> Result<i32> {
    crate::config::validate_id(&a.id)?;
    let store = Store::new(root)?;
    let c = store.lock(&a.id)?;
    let paused = c.status() == Status::Paused;
    match c.status() {
        Status::Created | Status::Running => {}
        Status::Paused if a.ignore_paused => {}
        Status::Paused => bail!("cannot exec in a paused container (use --ignore-paused)"),
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
    let spec = c.config()?;
    let process = build_process(spec.process().as_ref(), a)?;
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
            bail!("exec --tty: cannot allocate tty if carrack will detach without setting console socket")
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
        .context("exec --pidfd-socket")?;
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
        launcher::clone_child(0, fd, &[c.lock_fd()], |chan| {
            crate::init::exec::run(&ctx, chan)
        })
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
    match ours
        .as_ref()
        .and_then(crate::commands::run::received_master)
    {
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
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("exec --pidfd-socket: pidfd_open");
    }
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    crate::linux::console::send_fd(sock.as_raw_fd(), "pidfd", fd.as_raw_fd())
        .context("exec --pidfd-socket: send")
}

/// The container's process as the template; `--process` replaces it whole, the other flags
/// amend it.
fn build_process(base: Option<&Process>, a: &ExecArgs) -> Result<Process> {
    if let Some(p) = &a.process {
        let text = std::fs::read(p).with_context(|| format!("--process {}", p.display()))?;
        let mut v: Value =
            serde_json::from_slice(&text).with_context(|| format!("--process {}", p.display()))?;
        crate::linux::scheduling::respell_flags(&mut v);
        // runc reads the file into Go's zero values: no `user` means uid 0, gid 0.
        if let Some(o) = v.as_object_mut() {
            o.entry("user")
                .or_insert_with(|| json!({"uid": 0, "gid": 0}));
        }
        let proc_: Process = crate::config::from_json_value(&v)
            .map_err(|e| anyhow::anyhow!("--process {}: {e:#}", p.display()))?;
        check(&proc_)?;
        return Ok(proc_);
    }
    if a.command.is_empty() {
        bail!("exec: no command given (arguments or --process)");
    }
    let mut v = serde_json::to_value(base.context("process: missing in the container's config")?)?;
    v["args"] = json!(a.command);
    v["terminal"] = json!(a.tty);
    if let Some(cwd) = &a.cwd {
        v["cwd"] = json!(cwd);
    }
    let mut env: Vec<String> = serde_json::from_value(v["env"].take()).unwrap_or_default();
    for e in &a.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    v["env"] = json!(env);
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| anyhow::anyhow!("--user {u:?}: must be uid[:gid] (numbers)"))
        };
        v["user"]["uid"] = json!(num(uid)?);
        v["user"]["gid"] = json!(num(gid)?);
    }
    if !a.additional_gids.is_empty() {
        v["user"]["additionalGids"] = json!(a.additional_gids);
    }
    for cap in &a.cap {
        let name = if cap.to_ascii_uppercase().starts_with("CAP_") {
            cap.to_ascii_uppercase()
        } else {
            format!("CAP_{}", cap.to_ascii_uppercase())
        };
        // Not inheritable or ambient: those stay as process.capabilities says, or an
        // unprivileged program run inside could keep the capability across execve
        // (CVE-2022-29162, closed in runc 1.1.2).
        for set in ["bounding", "effective", "permitted"] {
            let list = &mut v["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            let arr = list.as_array_mut().expect("made an array above");
            if !arr.contains(&Value::String(name.clone())) {
                arr.push(Value::String(name.clone()));
            }
        }
    }
    if a.no_new_privs {
        v["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &a.apparmor {
        v["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &a.process_label {
        v["selinuxLabel"] = json!(label);
    }
    let p: Process = crate::config::from_json_value(&v).context("exec: building the process")?;
    check(&p)?;
    Ok(p)
}

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
