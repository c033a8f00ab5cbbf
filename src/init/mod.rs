//! Init: the child side. Runs in the cloned process, in the container's new namespaces, with
//! the parent's memory (the parsed config) already in place: no re-exec, no serialization.
//! The order of steps is the order of `setup`; the protocol with the parent is in `sync.rs`.

pub mod exec;

use crate::linux::fs::{ensure_in_root, Kind};
use crate::linux::mount_sources::Sources;
use crate::linux::seccomp::Filter;
use crate::linux::{
    capabilities, console, devices, hooks, mounts, namespaces, network, process, rootfs,
};
use crate::sync::{Channel, Msg};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct InitCtx<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// Init's end of the channel.
    pub chan: &'a Channel,
    /// O_PATH fd of `<state dir>/exec.fifo`.
    pub fifo: &'a OwnedFd,
    pub ns: &'a namespaces::Plan,
    /// (hierarchy mount-point basename, host dir) of the container's cgroups, for `cgroup` mounts.
    pub cgroup_dirs: &'a [(String, PathBuf)],
    /// v1 `tasks` files to move ourselves into (`cgroups::enter_self`).
    pub cgroup_tasks: &'a [(OwnedFd, PathBuf)],
    /// The parent makes the v1 dirs after Go and sends their `tasks` files with CgroupsMade
    /// (sync.rs): the cgroupfs driver's create.
    pub cgroups_made_later: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// The console socket (process.terminal).
    pub console: Option<std::os::fd::RawFd>,
    pub preserve_fds: u32,
    /// The first `listen_fds` preserved fds came from socket activation: tell the process.
    pub listen_fds: u32,
    /// `linux.seccomp`, compiled by the parent.
    pub seccomp: Option<&'a Filter>,
    /// Detached idmapped mounts the parent made, by index in `mounts`.
    pub idmapped: &'a [(usize, OwnedFd)],
}

/// Init's v1 cgroups: the `tasks` files inherited at clone, or those the parent sends with
/// CgroupsMade (sync.rs), received when first needed: for a `cgroup` mount, which binds the
/// host dirs, or to join.
struct Cgroups<'a> {
    ctx: &'a InitCtx<'a>,
    made: std::cell::RefCell<Option<Vec<(OwnedFd, PathBuf)>>>,
}

impl Cgroups<'_> {
    /// Wait until the parent has made the v1 dirs (at once if they existed at clone).
    fn made(&self) -> Result<()> {
        if !self.ctx.cgroups_made_later || self.made.borrow().is_some() {
            return Ok(());
        }
        let (msg, fds) = self.ctx.chan.expect_fds(Msg::CgroupsMade(Vec::new()))?;
        let Msg::CgroupsMade(names) = msg else {
            unreachable!("expect_fds returns the kind asked for")
        };
        if names.len() != fds.len() {
            bail!(
                "init channel: CgroupsMade named {} tasks files and carried {} fds",
                names.len(),
                fds.len()
            );
        }
        *self.made.borrow_mut() = Some(
            fds.into_iter()
                .zip(names.into_iter().map(PathBuf::from))
                .collect(),
        );
        Ok(())
    }

    /// Wait until they are set up (CgroupsReady), then move ourselves into each v1 one.
    fn join(&self) -> Result<()> {
        self.made()?;
        self.ctx.chan.expect(Msg::CgroupsReady)?;
        let join = |tasks| crate::cgroups::enter_self(tasks).context("linux.cgroupsPath: join");
        join(self.ctx.cgroup_tasks)?;
        join(self.made.borrow().as_deref().unwrap_or_default())
    }
}

/// Entry point in the child after clone3. Never returns.
pub fn run(ctx: &InitCtx) -> ! {
    let err = match setup(ctx) {
        Ok((exec, host_proc, state_json)) => match wait_for_start(ctx, host_proc, &state_json) {
            Err(e) => e,
            // A filter with a listener was loaded before Ready (see `setup`).
            Ok(()) => match seccomp_late(
                ctx.spec.process().as_ref(),
                ctx.seccomp.filter(|f| !f.uses_notify()),
                "",
            ) {
                Ok(()) => exec.exec(),
                Err(e) => e,
            },
        },
        Err(e) => {
            // The parent prints it: one error line, with its cause.
            let _ = ctx.chan.send(&Msg::Error(crate::error::to_wire(&e)));
            // SAFETY: _exit takes an int and never returns; skipping destructors and atexit
            // handlers is the point in this cloned child.
            unsafe { libc::_exit(1) }
        }
    };
    // After Ready nobody listens on the channel: stderr is all that is left.
    eprintln!("carrack init: {err:#}");
    // SAFETY: as above: _exit never returns and runs nothing of the parent's.
    unsafe { libc::_exit(127) }
}

/// Everything up to Ready. Returns the prepared execve and the host procfs fd that
/// `wait_for_start` needs after pivot_root.
fn setup(ctx: &InitCtx) -> Result<(process::Exec, std::fs::File, String)> {
    // Die with the parent until we are ready: a create killed half-way leaves no orphan.
    // SAFETY: PR_SET_PDEATHSIG takes integer arguments only and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let (state_json, sources) = wait_for_go(ctx.chan)?;
    // In our own user namespace (the one the time namespace needs), while still dumpable:
    // see `new_time_ns`.
    let time_first = ctx.ns.new_time && ctx.ns.new_user;
    if time_first {
        new_time_ns(ctx.spec.linux().as_ref())?;
    }
    // A rootless parent left us dumpable for its id-map writes (linux::clone::clone_child).
    if !crate::insecure::off(crate::insecure::Defence::ReadonlyExe) {
        // SAFETY: PR_SET_DUMPABLE takes an int and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
    }
    // The parent makes the v1 cgroups and writes their files while we mount (sync.rs); a new
    // cgroup namespace is rooted where we are when we unshare it, so then we join first.
    let cgroups = Cgroups {
        ctx,
        made: Default::default(),
    };
    if ctx.ns.new_cgroup {
        cgroups.join()?;
    }
    let spec = ctx.spec;
    let linux = spec.linux().as_ref();
    let proc_ = spec.process().as_ref().context("process: required")?;

    namespaces::join_all(ctx.ns)?;
    if ctx.ns.new_time && !time_first {
        new_time_ns(linux)?;
    }
    if ctx.ns.enters_user() {
        process::become_userns_root()?;
    }
    if !ctx.no_new_keyring {
        crate::linux::lsm::set_key_label(proc_)?;
        join_session_keyring()?;
    }
    if ctx.ns.new_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .context("linux.namespaces cgroup: unshare")?;
    }
    if ctx.ns.new_net {
        network::loopback_up()?;
    }

    // A procfs fd from before pivot_root, to reopen exec.fifo later whatever the container mounts.
    let host_proc = std::fs::File::open("/proc").context("open /proc")?;
    if !crate::linux::fs::is_procfs(host_proc.as_raw_fd()) {
        bail!("/proc is not procfs");
    }

    let own_mnt = ctx.ns.own_mount_ns();
    // Here, while the host's selinuxfs is in sight.
    let mount_label = crate::linux::lsm::mount_label(linux);
    let (root, deferred_ro) = match own_mnt {
        true => setup_rootfs(
            ctx,
            &cgroups,
            proc_.cwd(),
            sources.as_ref(),
            mount_label.as_deref(),
        )?,
        false => {
            // Nothing is mounted: the runtime's mount namespace is the host's.
            let root = std::fs::File::open(ctx.rootfs).context("open rootfs")?;
            ensure_in_root(root.as_raw_fd(), proc_.cwd(), Kind::Dir)
                .with_context(|| format!("process.cwd {:?}", proc_.cwd()))?;
            (root, Vec::new())
        }
    };
    let reopen_root = sources.is_none();
    drop(sources);
    crate::fault::point("init:after-mounts");
    if !ctx.ns.new_cgroup {
        cgroups.join()?;
    }
    let hooks = spec.hooks().as_ref();
    let runtime_hooks = hooks.is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    if runtime_hooks {
        ctx.chan.send(&Msg::RunHooks)?;
        ctx.chan.expect(Msg::HooksDone)?;
    }
    // In the container's mount namespace, before pivot_root: paths resolve as on the host.
    hooks::run_all_env(
        "createContainer",
        hooks.and_then(|h| h.create_container().as_ref()),
        &state_json,
        proc_.env().as_deref().unwrap_or_default(),
    )?;
    set_names(spec)?;
    if !own_mnt {
        // The chroot has no /proc of its own: through the runtime's, which shows the
        // container's namespaces.
        write_sysctls(linux.and_then(|l| l.sysctl().as_ref()))?;
        drop(root);
        rootfs::chroot_only(ctx.rootfs)?;
    } else {
        // By path again (a createContainer hook may have mounted on it), unless the parent
        // had to open it for us.
        let root = match reopen_root {
            true => std::fs::File::open(ctx.rootfs).context("open rootfs")?,
            false => root,
        };
        match ctx.no_pivot {
            true => rootfs::move_root(ctx.rootfs, &root)?,
            false => rootfs::pivot(&root)?,
        }
    }
    if own_mnt {
        rootfs::finish(rootfs::propagation(
            linux.and_then(|l| l.rootfs_propagation().as_deref()),
        )?)?;
        if !dev_from_host(spec) {
            devices::reopen_dev_null()?;
        }
    }
    // /dev/console is bound only in a mount namespace of the container's own.
    let console = || match ctx.console {
        Some(sock) => {
            console::setup_pty(sock, console::size_of(proc_), own_mnt, proc_.user().uid())
        }
        // A session of its own without a terminal too, as runc's init (nsexec's setsid):
        // CRIU refuses to dump a tree whose session leader is outside its pid namespace.
        None => {
            // SAFETY: setsid has no memory effects; EPERM (a group leader) changes nothing.
            unsafe { libc::setsid() };
            Ok(())
        }
    };
    // Test-only insecure no-console-fd control (src/insecure.rs): before the masks, as
    // runc < 1.2.8.
    let console_first = crate::insecure::off(crate::insecure::Defence::ConsoleFd);
    if console_first {
        console()?;
    }
    if let Some(l) = linux.filter(|_| own_mnt) {
        write_sysctls(l.sysctl().as_ref())?;
        let masked = l.masked_paths().as_deref().unwrap_or(&[]);
        mounts::mask_paths(masked, mount_label.as_deref())?;
        mounts::readonly_paths(l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        rootfs::make_readonly()?;
    }
    if !console_first {
        console()?;
    }
    mounts::make_readonly(&deferred_ro, spec.mounts().as_deref().unwrap_or(&[]))?;
    drop(deferred_ro);
    let mut extra_env = Vec::new();
    if ctx.listen_fds > 0 {
        extra_env.push(format!("LISTEN_FDS={}", ctx.listen_fds));
        extra_env.push(format!("LISTEN_PID={}", std::process::id()));
    }
    // Before the seccomp filter may be loaded: a profile need not allow close_range.
    process::keep_fds(ctx.preserve_fds);
    process::cloexec_from(ctx.preserve_fds.saturating_add(3))?;
    if let Some(l) = linux {
        if let Some(p) = l.personality() {
            crate::linux::scheduling::apply_personality(p)?;
        }
        if let Some(m) = l.memory_policy() {
            crate::linux::scheduling::apply_memory_policy(m)?;
        }
    }
    let msg = notify_message(ctx.seccomp, &state_json);
    let exec = become_process(proc_, &extra_env, ctx.seccomp, &msg)?;
    // With no_new_privs the filter waits for `start` (`seccomp_late`), but an agent must get
    // a listener fd before create returns, as runc sends it: such a filter is loaded here,
    // the last step before Ready (runc 1.1 too loads it before its final sync, with only
    // the exec.fifo wait, the startContainer hooks and execve after it).
    seccomp_late(Some(proc_), ctx.seccomp.filter(|f| f.uses_notify()), &msg)?;
    crate::fault::point("init:before-ready");
    // SAFETY: PR_SET_PDEATHSIG takes integer arguments only and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
    ctx.chan.send(&Msg::Ready)?;
    Ok((exec, host_proc, state_json))
}

/// Wait for Go, and take the mount sources the parent sends before it under a new user
/// namespace (`Msg::Sources`, possibly in several messages).
fn wait_for_go(chan: &Channel) -> Result<(String, Option<Sources>)> {
    let mut parts = Vec::new();
    loop {
        match chan.recv_fds()? {
            Some((Msg::Sources(names), fds)) => parts.push((names, fds)),
            Some((Msg::Go(state_json), _)) => {
                let sources = match parts.is_empty() {
                    true => None,
                    false => Some(Sources::assemble(parts)?),
                };
                return Ok((state_json, sources));
            }
            Some((m, _)) => bail!("init channel: expected Go, got {m:?}"),
            None => bail!("init channel: peer exited before Go"),
        }
    }
}

/// Block until `start` opens exec.fifo for reading, run the startContainer hooks, then tell
/// `start` the outcome: "0", or "1" and the error, which becomes start's error.
fn wait_for_start(ctx: &InitCtx, proc_fd: std::fs::File, state_json: &str) -> Result<()> {
    let rel = std::ffi::CString::new(format!("thread-self/fd/{}", ctx.fifo.as_raw_fd()))?;
    // SAFETY: `rel` is a NUL-terminated CString alive for the call; proc_fd is an open File. The fd
    // returned is checked below and closed after its one write.
    let fd = unsafe {
        libc::openat(
            proc_fd.as_raw_fd(),
            rel.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open exec.fifo");
    }
    drop(proc_fd);
    let hooks = ctx
        .spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref());
    let env = ctx.spec.process().as_ref().and_then(|p| p.env().as_deref());
    let result = hooks::run_all_env("startContainer", hooks, state_json, env.unwrap_or_default());
    let msg = match &result {
        Ok(()) => "0".to_string(),
        Err(e) => format!("1{e:#}"),
    };
    // SAFETY: the pointer and length are those of `msg`, a live String; fd is the exec.fifo opened
    // above and not yet closed.
    let n = unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
    // SAFETY: fd is ours alone (openat above) and is not used after this close.
    unsafe { libc::close(fd) };
    if let Err(e) = result {
        eprintln!("carrack init: {e:#}");
        // SAFETY: _exit takes an int and never returns; see run.
        unsafe { libc::_exit(1) };
    }
    if n != msg.len() as isize {
        return Err(std::io::Error::last_os_error()).context("write exec.fifo");
    }
    Ok(())
}

/// The mounts, devices and cwd in the rootfs. Returns the rootfs mount's root and the mounts
/// whose read-only flag waits until the console is in place (`mounts::defer_readonly`).
fn setup_rootfs(
    ctx: &InitCtx,
    cgroups: &Cgroups,
    cwd: &Path,
    sources: Option<&Sources>,
    mount_label: Option<&str>,
) -> Result<(std::fs::File, Vec<(usize, OwnedFd)>)> {
    let linux = ctx.spec.linux().as_ref();
    let prop = rootfs::propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    let given = sources.map(|s| (&s.root, &s.root_mount));
    let root = rootfs::prepare(ctx.rootfs, prop, given)?;
    let mctx = mounts::Ctx {
        rootfs: root.as_raw_fd(),
        bundle: ctx.bundle,
        cgroup_dirs: ctx.cgroup_dirs,
        cgroup_dirs_made: &|| cgroups.made(),
        new_cgroupns: ctx.ns.new_cgroup,
        idmapped: ctx.idmapped,
        sources: sources.map_or(&[], |s| &s.binds),
        mount_label,
    };
    let all = ctx.spec.mounts().as_deref().unwrap_or(&[]);
    let mut has_devpts = false;
    let mut deferred_ro = Vec::new();
    for (i, m) in all.iter().enumerate() {
        let defer = mounts::defer_readonly(all, i)?;
        if let Some(fd) = mounts::mount_one(&mctx, i, m, defer)? {
            deferred_ro.push((i, fd));
        }
        has_devpts |= m.destination() == Path::new("/dev/pts");
    }
    if !dev_from_host(ctx.spec) {
        let devs = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        // As runc: bound from the host in a new user namespace, or when carrack itself runs
        // in one (rootless podman runs us inside its own, where mknod is refused too).
        let bind = ctx.ns.new_user || crate::rootless::in_user_namespace();
        devices::create_all(root.as_raw_fd(), devs, bind)?;
        devices::create_links(root.as_raw_fd(), has_devpts)?;
    }
    // runc creates a missing cwd; do it inside the root, before it can become read-only.
    ensure_in_root(root.as_raw_fd(), cwd, Kind::Dir)
        .with_context(|| format!("process.cwd {cwd:?}"))?;
    Ok((root, deferred_ro))
}

/// `linux.timeOffsets` in a new time namespace, before `become_userns_root`: setuid makes us
/// non-dumpable, and /proc/self/timens_offsets then belongs to the host's root, which a user
/// namespace does not map (EACCES). The time namespace is still owned by our user namespace,
/// in which we hold CAP_SYS_TIME. With a new user namespace this runs first thing after Go,
/// before we turn non-dumpable ourselves: a rootless init is not the host's root, so only
/// while dumpable (the file then ours) may it write there.
fn new_time_ns(linux: Option<&oci_spec::runtime::Linux>) -> Result<()> {
    let offsets: Vec<(String, i64, u32)> = linux
        .and_then(|l| l.time_offsets().as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.secs().unwrap_or(0), v.nanosecs().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    namespaces::unshare_time(&offsets)
}

/// A fresh session keyring, so the container cannot reach the host's keys (runc does the same;
/// `--no-new-keyring` keeps the caller's). Anonymous (NULL name): a named join first looks the
/// name up in a list of every named keyring of the user namespace, one per container and exec
/// until the key GC, which was the costliest syscall of an exec on a host with 1,000
/// containers. A name never found (the kernel's default permissions hide each from the next
/// join) bought nothing.
pub(crate) fn join_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a NULL name reads no memory; the arguments are integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    // ENOSYS: kernel without keys; nothing to isolate.
    if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
        return Err(std::io::Error::last_os_error()).context("join a new session keyring");
    }
    Ok(())
}

fn set_names(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref() {
        nix::unistd::sethostname(h).with_context(|| format!("hostname {h:?}: sethostname"))?;
    }
    if let Some(d) = spec.domainname().as_deref() {
        // SAFETY: setdomainname reads exactly d.len() bytes from d's pointer (no NUL needed); d is
        // a live &str.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("domainname {d:?}: setdomainname"));
        }
    }
    Ok(())
}

/// `linux.sysctl`, written through the container's own /proc (checked to be procfs).
fn write_sysctls(sysctl: Option<&std::collections::HashMap<String, String>>) -> Result<()> {
    let Some(map) = sysctl else { return Ok(()) };
    if map.is_empty() {
        return Ok(());
    }
    for (k, v) in map {
        let field = || format!("linux.sysctl {k:?} = {v:?}");
        let rel = format!("sys/{}", k.replace('.', "/"));
        let fd = crate::linux::fs::proc_open(&rel, libc::O_WRONLY).with_context(field)?;
        std::fs::File::from(fd)
            .write_all(v.as_bytes())
            .with_context(|| format!("{}: write", field()))?;
    }
    Ok(())
}

/// The last steps shared by init and exec: rlimits, capabilities around the identity change,
/// cwd, and the executable resolved with the final environment (`extra_env` entries replace
/// same-named ones). Returns the prepared execve.
pub fn become_process(
    p: &oci_spec::runtime::Process,
    extra_env: &[String],
    seccomp: Option<&Filter>,
    notify_msg: &str,
) -> Result<process::Exec> {
    process::set_rlimits(p.rlimits().as_deref().unwrap_or(&[]))?;
    // Opened now, as root and before any seccomp filter (a profile may lack openat2); entered
    // as root before the user switch, as runc does, and only tried again as the user when
    // root could not open it.
    let cwd = process::open_cwd(p.cwd());
    // Without no_new_privs the kernel only lets a CAP_SYS_ADMIN holder load a filter: load it
    // now, before capabilities are dropped (as runc); the rest of setup then runs under it.
    if let Some(f) = seccomp.filter(|_| !p.no_new_privileges().unwrap_or(false)) {
        f.install(notify_msg)?;
    }
    crate::linux::lsm::apply(p)?;
    // While capabilities are still whole (an RT policy needs CAP_SYS_NICE).
    if let Some(s) = p.scheduler() {
        crate::linux::scheduling::apply_scheduler(s)?;
    }
    if let Some(io) = p.io_priority() {
        crate::linux::scheduling::apply_io_priority(io)?;
    }
    capabilities::prepare(p)?;
    let cwd_entered = process::enter_cwd_as_root(cwd, p.cwd())?;
    process::set_user(p.user())?;
    capabilities::apply(p)?;
    if !cwd_entered {
        process::enter_cwd_as_user(p.cwd())?;
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in extra_env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    let args = p.args().as_deref().unwrap_or(&[]);
    let arg0 = args.first().context("process.args: must not be empty")?;
    let path = process::resolve_exec(arg0, &env)?;
    process::Exec::new(&path, args, &env)
}

/// With no_new_privs the filter is loaded last, right before execve, so nothing of carrack's
/// own setup runs under the container's profile (for create, a filter with a listener is
/// loaded just before Ready instead: its fd must reach the agent during create).
pub fn seccomp_late(
    p: Option<&oci_spec::runtime::Process>,
    seccomp: Option<&Filter>,
    notify_msg: &str,
) -> Result<()> {
    let nnp = p.and_then(|p| p.no_new_privileges()).unwrap_or(false);
    match seccomp {
        Some(f) if nnp => f.install(notify_msg),
        _ => Ok(()),
    }
}

/// The message sent with a SCMP_ACT_NOTIFY listener fd: built only when the filter has one.
/// `state_json` is the container's state from Go; its pid is the container process's.
fn notify_message(seccomp: Option<&Filter>, state_json: &str) -> String {
    let Some(f) = seccomp.filter(|f| f.uses_notify()) else {
        return String::new();
    };
    let pid = serde_json::from_str::<serde_json::Value>(state_json)
        .ok()
        .and_then(|v| v["pid"].as_i64())
        .unwrap_or(0);
    crate::linux::seccomp::listener_message(pid, f.metadata(), state_json)
}

/// A bind mount on /dev: the container has the host's devices, and carrack makes none.
fn dev_from_host(spec: &Spec) -> bool {
    spec.mounts()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("bind"))
}
