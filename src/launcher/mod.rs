//! The parent side of create: clone3 init straight into its namespaces (no re-exec of
//! /proc/self/exe, no helper binary), then drive the handshake documented in `sync.rs`.

use crate::init::{self, InitCtx};
use crate::linux::namespaces::Plan;
use crate::sync::{self, Channel, Msg};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub struct Launch<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub fifo: &'a Path,
    pub ns: &'a Plan,
    pub cgroup_dirs: &'a [(String, PathBuf)],
    /// How init joins the container's cgroups (`Cgroup::entry`): born in the v2 dir, moves
    /// itself into the v1 ones right after Go.
    pub cgroup: &'a crate::cgroups::Entry,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Where init sends the pty master when process.terminal is set.
    pub console: Option<std::os::fd::RawFd>,
    pub preserve_fds: u32,
    /// How many of the preserved fds are socket-activation fds (LISTEN_FDS).
    pub listen_fds: u32,
    pub seccomp: Option<&'a crate::linux::seccomp::Filter>,
    /// Detached idmapped mounts made before clone (init attaches them).
    pub idmapped: &'a [(usize, OwnedFd)],
    /// Parent-only fds (the state lock) that init closes first thing.
    pub parent_only: &'a [std::os::fd::RawFd],
}

/// A cloned init that has not been told to go yet.
pub struct Child {
    pub pid: i32,
    chan: Channel,
}

/// clone3 the container's init. It waits for `Go` before touching anything.
pub fn spawn(l: &Launch) -> Result<Child> {
    let fifo = nix::fcntl::open(
        l.fifo,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context("open exec.fifo")?;
    if let Some(pidns) = &l.ns.join_pid {
        // Only affects our children: init is born in the namespace it must join.
        nix::sched::setns(pidns.as_fd(), nix::sched::CloneFlags::CLONE_NEWPID)
            .context("linux.namespaces pid path: setns")?;
    }
    clone_child(
        l.ns.clone_flags,
        l.cgroup.clone_into.as_ref(),
        l.parent_only,
        |chan| {
            let ctx = InitCtx {
                spec: l.spec,
                rootfs: l.rootfs,
                bundle: l.bundle,
                chan,
                fifo: &fifo,
                ns: l.ns,
                cgroup_dirs: l.cgroup_dirs,
                cgroup_tasks: &l.cgroup.tasks,
                no_pivot: l.no_pivot,
                no_new_keyring: l.no_new_keyring,
                console: l.console,
                preserve_fds: l.preserve_fds,
                listen_fds: l.listen_fds,
                seccomp: l.seccomp,
                idmapped: l.idmapped,
            };
            init::run(&ctx);
        },
    )
}

/// clone3 with `flags` (and into the v2 cgroup `cgroup_fd`); the child closes
/// `parent_only` and runs `body` with its end of the channel.
pub fn clone_child(
    flags: u64,
    cgroup_fd: Option<&OwnedFd>,
    parent_only: &[std::os::fd::RawFd],
    body: impl FnOnce(&Channel),
) -> Result<Child> {
    let (parent_end, child_end) = sync::pair()?;
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // Decided here, not in the child: there, geteuid() reads the new user namespace, where
    // it turns from 65534 to 0 the moment we write the uid map. A child that ran late read
    // 0, went non-dumpable, and our open of /proc/<pid>/root failed (EACCES).
    let stay_dumpable = flags & libc::CLONE_NEWUSER as u64 != 0 && crate::rootless::euid();
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context(if cgroup_fd.is_some() {
            "clone3 into the container's namespaces and cgroup"
        } else {
            "clone3 into the container's namespaces"
        });
    }
    if pid == 0 {
        // Child. carrack is single-threaded, so this copy of memory is consistent.
        // Non-dumpable until it execs: no container process may open its /proc files
        // (its exe is carrack's: CVE-2019-5736, see selfexe.rs).
        // Except a rootless create's init: /proc/<pid> of a non-dumpable process belongs to
        // the host's root, so its (non-root) parent could not write its id maps or open its
        // root for the mount sources; init turns non-dumpable on Go (init::setup), before
        // anything of the container exists, as runc's nsexec does.
        if !stay_dumpable && !crate::insecure::off(crate::insecure::Defence::ReadonlyExe) {
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
        }
        drop(parent_end);
        for fd in parent_only {
            unsafe { libc::close(*fd) };
        }
        body(&child_end);
        unsafe { libc::_exit(127) } // bodies end in execve or _exit; never return to the caller
    }
    drop(child_end);
    Ok(Child {
        pid: pid as i32,
        chan: parent_end,
    })
}

impl Child {
    /// Write the id maps of a new user namespace (before init does anything as "root"):
    /// linux/idmap.rs `write_maps`, runc's way for a rootless caller.
    pub fn write_id_maps(&self, spec: &Spec) -> Result<()> {
        let Some(linux) = spec.linux() else {
            return Ok(());
        };
        crate::linux::idmap::write_maps(
            self.pid,
            linux.uid_mappings().as_deref(),
            linux.gid_mappings().as_deref(),
        )
    }

    /// `process.oomScoreAdj`, written by us before Go rather than by init: once init is
    /// non-dumpable its /proc files belong to the host's root, which a user namespace does
    /// not map, so init could not write it there (EACCES). runc's nsexec writes it before
    /// it makes any namespace, for the same reason.
    pub fn set_oom_score_adj(&self, spec: &Spec) -> Result<()> {
        match spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
            Some(v) => crate::linux::process::set_oom_score_adj(self.pid, v),
            None => Ok(()),
        }
    }

    /// The outcome of an exec: EOF means execve succeeded (the channel is close-on-exec).
    pub fn wait_exec(&self) -> Result<()> {
        match self.chan.recv()? {
            None => Ok(()),
            Some(Msg::Error(text)) => bail!("{text}"),
            Some(m) => bail!("exec channel: unexpected {m:?}"),
        }
    }

    /// Under a new user namespace, before Go: the rootfs and bind sources, opened in init's
    /// mount namespace (linux/mount_sources.rs), sent in messages of at most MAX_FDS fds.
    pub fn send_sources(&self, sources: &crate::linux::mount_sources::Sources) -> Result<()> {
        for (names, fds) in sources.messages() {
            self.chan.send_fds(&Msg::Sources(names), &fds)?;
        }
        Ok(())
    }

    pub fn go(&self, state_json: String) -> Result<()> {
        self.chan.send(&Msg::Go(state_json))
    }

    /// Wait until init is set up and blocked on exec.fifo; its error text becomes ours.
    /// `runtime_hooks` runs when init asks for the prestart/createRuntime hooks.
    pub fn wait_ready(&self, mut runtime_hooks: impl FnMut() -> Result<()>) -> Result<()> {
        loop {
            match self.chan.recv()? {
                Some(Msg::Ready) => return Ok(()),
                Some(Msg::RunHooks) => {
                    runtime_hooks()?;
                    self.chan.send(&Msg::HooksDone)?;
                }
                Some(Msg::Error(text)) => bail!("{text}"),
                Some(m) => bail!("init channel: unexpected {m:?}"),
                None => bail!(
                    "container init exited during setup{}",
                    describe_exit(self.pid)
                ),
            }
        }
    }
}

fn describe_exit(pid: i32) -> String {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, c)) => format!(" (exit status {c})"),
        Ok(WaitStatus::Signaled(_, s, _)) => format!(" (killed by {s})"),
        _ => String::new(),
    }
}
