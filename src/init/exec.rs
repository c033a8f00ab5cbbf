//! The child side of `exec`: join the running container's namespaces, become its process,
//! execve. Success is silent (the channel closes on exec); failure is one Error message.

use crate::linux::{console, namespaces, process};
use crate::sync::{Channel, Msg};
use anyhow::{Context, Result};
use oci_spec::runtime::Process;

pub struct ExecCtx<'a> {
    pub process: &'a Process,
    pub ns: &'a namespaces::Plan,
    pub preserve_fds: u32,
    /// The console socket when process.terminal is set.
    pub console: Option<std::os::fd::RawFd>,
    pub seccomp: Option<&'a crate::linux::seccomp::Filter>,
    /// The container's linux.personality and linux.memoryPolicy (runc applies both to exec).
    pub linux: Option<&'a oci_spec::runtime::Linux>,
    /// v1 `tasks` files to move ourselves into (`cgroups::enter_self`).
    pub cgroup_tasks: &'a [(std::os::fd::OwnedFd, std::path::PathBuf)],
    /// A session keyring of its own, as init got (not after `create --no-new-keyring`).
    pub new_keyring: bool,
}

pub fn run(ctx: &ExecCtx, chan: &Channel) {
    let err = match setup(ctx, chan) {
        Ok((exec, msg)) => match super::seccomp_late(Some(ctx.process), ctx.seccomp, &msg) {
            Ok(()) => exec.exec(),
            Err(e) => e,
        },
        Err(e) => e,
    };
    let _ = chan.send(&Msg::Error(crate::error::to_wire(&err)));
    // SAFETY: _exit takes an int and never returns; skipping destructors and atexit handlers is the
    // point in this cloned child.
    unsafe { libc::_exit(1) }
}

fn setup(ctx: &ExecCtx, chan: &Channel) -> Result<(process::Exec, String)> {
    // SAFETY: PR_SET_PDEATHSIG takes integer arguments only and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // For exec, Go carries the seccomp agent's message (empty without SCMP_ACT_NOTIFY).
    let Msg::Go(notify_msg) = chan.expect(Msg::Go(String::new()))? else {
        unreachable!("expect checked the kind")
    };
    crate::cgroups::enter_self(ctx.cgroup_tasks).context("join the container's cgroup")?;
    namespaces::join_all(ctx.ns)?;
    if ctx.ns.enters_user() {
        process::become_userns_root()?;
    }
    let p = ctx.process;
    // runc's exec too: not the caller's keyring, labelled with the process's label.
    if ctx.new_keyring {
        crate::linux::lsm::set_key_label(p)?;
        super::join_session_keyring()?;
    }
    if let Some(sock) = ctx.console {
        console::setup_pty(sock, console::size_of(p), false, p.user().uid())?;
    }
    // Before the seccomp filter may be loaded: a profile need not allow close_range.
    process::keep_fds(ctx.preserve_fds);
    process::cloexec_from(ctx.preserve_fds.saturating_add(3))?;
    if let Some(l) = ctx.linux {
        if let Some(p) = l.personality() {
            crate::linux::scheduling::apply_personality(p)?;
        }
        if let Some(m) = l.memory_policy() {
            crate::linux::scheduling::apply_memory_policy(m)?;
        }
    }
    let exec = super::become_process(p, &[], ctx.seccomp, &notify_msg)?;
    // Only for exec: the spec does not apply execCPUAffinity to the container's init.
    if let Some(list) = p
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().as_deref())
    {
        crate::linux::scheduling::apply_cpu_affinity("process.execCPUAffinity.final", list)?;
    }
    // SAFETY: PR_SET_PDEATHSIG takes integer arguments only and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
    Ok((exec, notify_msg))
}
