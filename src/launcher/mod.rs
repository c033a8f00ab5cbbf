//! The parent side of create: clone3 init straight into its namespaces (no re-exec of
//! /proc/self/exe, no helper binary), then drive the handshake documented in `sync.rs`.

use crate::init::{self, InitCtx};
use crate::linux::namespaces::Plan;
use crate::sync::Msg;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct Launch<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub fifo: &'a Path,
    pub ns: &'a Plan,
    pub cgroup_dirs: &'a [(String, PathBuf)],
    /// How init joins the container's cgroups (`Cgroup::entry`): born in the v2 dir, moves
    /// itself into the v1 ones on CgroupsReady (sync.rs).
    pub cgroup: &'a crate::cgroups::Entry,
    /// The v1 dirs are made after Go and their `tasks` fds sent with CgroupsMade.
    pub cgroups_made_later: bool,
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
pub use crate::linux::clone::Child;

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
    // SAFETY: carrack's create is single-threaded and holds no lock here (clone_child checks
    // the threads); init::run ends in execve or _exit; parent_only is the state lock's fd.
    unsafe {
        crate::linux::clone::clone_child(
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
                    cgroups_made_later: l.cgroups_made_later,
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
            Some(Msg::Error(text)) => Err(crate::error::from_wire(&text)),
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

    /// Let init join its cgroups (sync.rs).
    pub fn cgroups_ready(&self) -> Result<()> {
        self.send_or_its_error(&Msg::CgroupsReady, &[])
    }

    /// The v1 cgroup dirs exist: their `tasks` files, for init to join them (sync.rs).
    pub fn cgroups_made(&self, tasks: &[(OwnedFd, PathBuf)]) -> Result<()> {
        use std::os::fd::AsRawFd;
        let names = tasks.iter().map(|(_, p)| p.to_string_lossy().into_owned());
        let fds: Vec<_> = tasks.iter().map(|(f, _)| f.as_raw_fd()).collect();
        self.send_or_its_error(&Msg::CgroupsMade(names.collect()), &fds)
    }

    /// Send `msg` to init, which may have failed (its mounts, while we worked on its cgroups)
    /// and closed its end with its error queued: that error is the one to report, not EPIPE.
    fn send_or_its_error(&self, msg: &Msg, fds: &[std::os::fd::RawFd]) -> Result<()> {
        let Err(e) = self.chan.send_fds(msg, fds) else {
            return Ok(());
        };
        let gone = matches!(
            e.root_cause().downcast_ref::<nix::errno::Errno>(),
            Some(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET)
        );
        if gone {
            if let Ok(Some(Msg::Error(text))) = self.chan.recv() {
                return Err(crate::error::from_wire(&text));
            }
        }
        Err(e)
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
                Some(Msg::Error(text)) => return Err(crate::error::from_wire(&text)),
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
