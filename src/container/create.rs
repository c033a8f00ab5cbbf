//! create: validate everything, record intent, then make things in an order that a crash at
//! any point leaves something `delete --force` can find and remove.

use crate::cgroups::Cgroup;
use crate::config;
use crate::error::BadConfig;
use crate::error::{Opt, OptContext};
use crate::launcher::{self, Launch};
use crate::linux::namespaces;
use crate::state::{self, Locked, Phase, State, Store};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What `create` takes besides the id: runc's create flags as plain values.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory: config.json, and the rootfs unless root.path is absolute.
    pub bundle: PathBuf,
    /// A unix socket that receives the master of the container's pty (process.terminal).
    pub console_socket: Option<PathBuf>,
    /// A file to write init's pid to.
    pub pid_file: Option<PathBuf>,
    /// MS_MOVE + chroot instead of pivot_root (a rootfs on a ramfs).
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    pub no_new_keyring: bool,
    /// fds 3..3+N of the caller are passed to the container (after socket activation's).
    pub preserve_fds: u32,
}

/// Create the container and leave it Created; returns init's pid.
///
/// `console`: a socket to send the pty master to instead of `--console-socket` (run and exec
/// in the foreground receive it themselves).
pub fn create(root: &Path, id: &str, o: &CreateOptions, console: Option<OwnedFd>) -> Result<i32> {
    let (mut c, pid) = create_held(root, id, o, console)?;
    c.state.phase = Phase::Created;
    if let Err(e) = c.save() {
        undo(c);
        return Err(e);
    }
    Ok(pid)
}

/// Create the container up to the point where init waits on exec.fifo, and keep it locked:
/// `run` starts it at once (super::start_held) and records the Created phase only after
/// init was released, so init does not wait for that write. Until then the saved phase is
/// Creating, which a reader sees as creating (we hold the lock) or, should we die, as a dead
/// create that `delete --force` removes. Returns init's pid (our child: `run` waits on it).
pub fn create_held(
    root: &Path,
    id: &str,
    o: &CreateOptions,
    console: Option<OwnedFd>,
) -> Result<(Locked, i32)> {
    config::validate_id(id)?;
    let bundle = std::fs::canonicalize(&o.bundle)
        .with_opt_context(|| Opt::Bundle.said(format!(" {}", o.bundle.display())))?;
    let (spec, text) = config::load_with_text(&bundle).map_err(BadConfig::mark)?;
    let spec = std::sync::Arc::new(spec);
    config::validate(&spec, &bundle).map_err(BadConfig::mark)?;
    crate::rootless::check(&spec)?;
    crate::linux::netdev::check_present(&spec)?;
    let console = console_socket(&spec, o, console)?;
    let rootfs = config::rootfs_path(&spec, &bundle)?;
    let ns = namespaces::plan(
        spec.linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_deref())
            .unwrap_or(&[]),
    )?;
    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let mut cgroup = Cgroup::plan(cgroups_path.as_deref(), id)?;
    cgroup.intend()?;

    let store = Store::new(root)?;
    let mut c = store.create(State {
        id: id.to_string(),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        pid: 0,
        pid_start: 0,
        created: crate::logging::rfc3339(std::time::SystemTime::now()),
        owner: String::new(),
        phase: Phase::Creating,
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroup,
        no_new_keyring: o.no_new_keyring,
    })?;
    let console_fd = console.as_ref().map(|s| s.as_raw_fd());
    crate::fault::point("create:after-state-dir");
    let built = build(&mut c, (&spec, text), &bundle, &rootfs, &ns, o, console_fd);
    match built {
        Ok(pid) => Ok((c, pid)),
        Err(e) => {
            undo(c);
            Err(e)
        }
    }
}

/// A failed create removes what it made; its own error is the one reported, and a cleanup
/// that failed too is logged (delete --force can finish it: the state is kept then).
fn undo(c: Locked) {
    if let Err(e) = crate::container::destroy(c) {
        crate::logging::warn(&format!("cleanup after the failed create: {e:#}"));
    }
}

fn build(
    c: &mut Locked,
    (spec, text): (&std::sync::Arc<Spec>, Option<Vec<u8>>),
    bundle: &Path,
    rootfs: &Path,
    ns: &namespaces::Plan,
    o: &CreateOptions,
    console: Option<std::os::fd::RawFd>,
) -> Result<i32> {
    match text {
        Some(text) => c.save_config_as(spec.clone(), &text)?,
        None => c.save_config(spec)?,
    }
    // Always: device rules start from deny-all plus runc's defaults even without resources.
    let resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    // --systemd-cgroup: systemd makes the cgroup, after clone (it needs init's pid).
    let systemd = c.state.cgroup.unit.is_some();
    // The cgroupfs driver writes the cgroups' files after Go, while init mounts (sync.rs),
    // except for a rootless create, which settles before clone which cgroups it can have.
    let later = !systemd && !rootless_cgroups(spec);
    if !systemd {
        make_cgroup(c, spec, &resources, later)?;
    }
    let cgroup = Cgroups {
        resources: &resources,
        systemd,
        files_later: later,
    };
    launch(c, spec, bundle, rootfs, ns, o, console, cgroup)
}

/// How `launch` finishes the container's cgroups.
struct Cgroups<'a> {
    resources: &'a oci_spec::runtime::LinuxResources,
    /// --systemd-cgroup: systemd makes the unit after clone (`join_unit`).
    systemd: bool,
    /// cgroupfs: the dirs are made, their files are written after Go (`write_cgroup_files`).
    files_later: bool,
}

fn rootless_cgroups(spec: &Spec) -> bool {
    crate::rootless::cgroups() && no_cgroups_path(spec)
}

/// cgroupfs driver, before clone: make the dirs (saving the state when that differed from
/// the intent) and, unless `later` (then `write_cgroup_files` after Go), write their files.
pub(super) fn make_cgroup(
    c: &mut Locked,
    spec: &Spec,
    resources: &oci_spec::runtime::LinuxResources,
    later: bool,
) -> Result<()> {
    let intended: Vec<_> = c
        .state
        .cgroup
        .dirs
        .iter()
        .map(|d| d.created.clone())
        .collect();
    let rootless_cgroups = rootless_cgroups(spec);
    let created = match rootless_cgroups {
        _ if later => c.state.cgroup.create_v2_unprepared(),
        true => c.state.cgroup.create_or_drop().map(|dropped| {
            if !dropped.is_empty() {
                crate::logging::debug(&format!(
                    "rootless: no cgroup on {} (not delegated to us)",
                    dropped.join(", ")
                ));
            }
        }),
        false => c.state.cgroup.create(),
    };
    // The state already lists the dirs we meant to make; save again only when that changed
    // (a dir another creator made first is theirs) or create failed half-way.
    let changed = c
        .state
        .cgroup
        .dirs
        .iter()
        .map(|d| &d.created)
        .ne(intended.iter());
    if changed || created.is_err() {
        c.save()?;
    }
    created.context("linux.cgroupsPath")?;
    // Before clone too: on pure v2 init is born in the v2 dir, which a frozen parent freezes.
    refuse_frozen(c)?;
    if later {
        return Ok(());
    }
    if rootless_cgroups && c.state.cgroup.dirs.is_empty() {
        // runc: "cannot set ... limit: container could not join or create cgroup".
        if crate::rootless::needs_controllers(resources) {
            bail!("linux.resources: cannot set limits: this rootless container could not join or create a cgroup (none is delegated to the user); remove the limits or delegate a cgroup");
        }
    } else {
        c.state.cgroup.apply(resources)?;
    }
    crate::fault::point("create:after-cgroup");
    Ok(())
}

/// init would stop in the middle of its setup, and create would wait for it forever.
fn refuse_frozen(c: &Locked) -> Result<()> {
    if c.state.cgroup.is_frozen_or_freezing() {
        bail!("linux.cgroupsPath: cannot create a container in a frozen cgroup (it, or a parent, is paused): thaw it first");
    }
    Ok(())
}

/// `make_cgroup`'s rest for `later`, after Go while init mounts: the v1 dirs made, and their
/// `tasks` files sent to init (CgroupsMade, sync.rs). The caller saves the state next.
fn make_v1_cgroups(c: &mut Locked, child: &launcher::Child) -> Result<()> {
    c.state
        .cgroup
        .create_v1_unprepared()
        .context("linux.cgroupsPath")?;
    refuse_frozen(c)?;
    let tasks = c
        .state
        .cgroup
        .v1_tasks()
        .context("linux.cgroupsPath: join")?;
    child.cgroups_made(&tasks)
}

/// `make_cgroup`'s second half for `later`: the new dirs prepared (v1 cpuset) and the
/// resources written, after Go.
fn write_cgroup_files(c: &Locked, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    c.state
        .cgroup
        .prepare_created()
        .context("linux.cgroupsPath")?;
    c.state.cgroup.apply(resources)?;
    crate::fault::point("create:after-cgroup");
    Ok(())
}

/// The second half of `build`, from the fifo on.
#[allow(clippy::too_many_arguments)]
fn launch(
    c: &mut Locked,
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    ns: &namespaces::Plan,
    o: &CreateOptions,
    console: Option<std::os::fd::RawFd>,
    cg: Cgroups,
) -> Result<i32> {
    let (resources, systemd) = (cg.resources, cg.systemd);
    // 0622 whatever the umask: init opens it for writing after it became process.user.
    nix::unistd::mkfifo(&c.fifo(), nix::sys::stat::Mode::from_bits_truncate(0o622))
        .and_then(|_| {
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                &c.fifo(),
                nix::sys::stat::Mode::from_bits_truncate(0o622),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
        })
        .context("mkfifo exec.fifo")?;
    // Compiled here, before clone: init only loads it.
    let seccomp = compile_seccomp(spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
    let idmapped = crate::linux::idmap::prepare(spec, bundle)?;
    let cgroup_dirs = mount_view(&c.state.cgroup);
    let cgroup = match (systemd, cg.files_later) {
        // Cloned into our own cgroup: systemd moves init into the scope before Go.
        (true, _) => Ok(crate::cgroups::Entry::default()),
        // The v1 dirs are made after Go (`make_v1_cgroups`).
        (false, true) => c.state.cgroup.entry_v2(),
        (false, false) => c.state.cgroup.entry(),
    }
    .context("linux.cgroupsPath: join")?;
    let child = launcher::spawn(&Launch {
        spec,
        rootfs,
        bundle,
        fifo: &c.fifo(),
        ns,
        cgroup_dirs: &cgroup_dirs,
        cgroup: &cgroup,
        cgroups_made_later: cg.files_later,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        console,
        preserve_fds: o.preserve_fds.saturating_add(listen_fds()),
        listen_fds: listen_fds(),
        seccomp: seccomp.as_ref(),
        idmapped: &idmapped,
        parent_only: &[c.lock_fd()],
    })?;
    crate::fault::point("create:after-clone");
    c.state.pid = child.pid;
    if systemd {
        // Recorded before systemd is asked (that call is slow and may hang).
        c.state.pid_start = state::proc_stat(child.pid).map_or(0, |s| s.1);
        c.save()?;
        crate::fault::point("create:after-pid-recorded");
        join_unit(c, spec, resources, child.pid)?;
    }
    child.write_id_maps(spec)?;
    child.set_oom_score_adj(spec)?;
    if crate::linux::mount_sources::needed(ns) {
        let sources =
            crate::linux::mount_sources::open(child.pid, spec, rootfs, bundle, &idmapped)?;
        child.send_sources(&sources)?;
    }
    crate::linux::netdev::move_all(spec, ns, child.pid)?;
    let state_json = state::state_json(&c.state, state::Status::Creating).to_string();
    child.go(state_json.clone())?;
    if cg.files_later {
        make_v1_cgroups(c, &child)?;
        crate::fault::point("create:after-cgroups-made");
    }
    if !systemd {
        // Recorded while init mounts, on the other core: until Ready init dies with us
        // (PDEATHSIG), and a failure here is undone by `destroy`, which kills it by pid.
        c.state.pid_start = state::proc_stat(child.pid).map_or(0, |s| s.1);
        c.save()?;
        crate::fault::point("create:after-pid-recorded");
    }
    if cg.files_later {
        write_cgroup_files(c, resources)?;
    }
    child.cgroups_ready()?;
    crate::fault::point("create:after-go");
    let hooks = spec.hooks().as_ref();
    child.wait_ready(|| {
        crate::linux::hooks::run_all(
            "prestart",
            hooks.and_then(|h| h.prestart().as_ref()),
            &state_json,
        )?;
        crate::linux::hooks::run_all(
            "createRuntime",
            hooks.and_then(|h| h.create_runtime().as_ref()),
            &state_json,
        )
    })?;
    crate::fault::point("create:after-ready");
    if let Some(p) = &o.pid_file {
        super::write_pid_file(p, child.pid)?;
    }
    Ok(child.pid)
}

/// linux.cgroupsPath absent or empty: runc's rootless managers may then go without a cgroup.
fn no_cgroups_path(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .is_none_or(|p| p.as_os_str().is_empty())
}

/// --systemd-cgroup, between clone and Go: systemd makes the scope with init in it; the
/// state is saved with any dir we made ourselves; then the files systemd does not cover.
pub(super) fn join_unit(
    c: &mut Locked,
    spec: &Spec,
    resources: &oci_spec::runtime::LinuxResources,
    pid: i32,
) -> Result<()> {
    let annotations = spec.annotations().clone().unwrap_or_default();
    let started = c.state.cgroup.start_unit(pid, resources, &annotations);
    c.save()?;
    started?;
    c.state.cgroup.apply(resources)?;
    crate::fault::point("create:after-cgroup");
    Ok(())
}

/// (name under the container's cgroup mount, host dir) per hierarchy.
pub(super) fn mount_view(cg: &Cgroup) -> Vec<(String, PathBuf)> {
    if let [only] = cg.dirs.as_slice() {
        if only.hierarchy == "unified" {
            return vec![(String::new(), only.path.clone())];
        }
    }
    cg.dirs
        .iter()
        .map(|d| {
            let name = d.hierarchy.strip_prefix("name=").unwrap_or(&d.hierarchy);
            (name.to_string(), d.path.clone())
        })
        .collect()
}

/// The socket init sends the pty master to, when process.terminal is set.
fn console_socket(
    spec: &Spec,
    o: &CreateOptions,
    given: Option<OwnedFd>,
) -> Result<Option<OwnedFd>> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if !terminal {
        if o.console_socket.is_some() {
            return Err(Opt::ConsoleSocket.said(": cannot use console socket if carrack will not detach or allocate tty (process.terminal is false)").into());
        }
        return Ok(None);
    }
    match (&o.console_socket, given) {
        (Some(path), _) => Ok(Some(crate::linux::console::connect(path)?)),
        (None, Some(fd)) => Ok(Some(fd)),
        (None, None) => bail!(
            "process.terminal: cannot allocate tty if carrack will detach without setting console socket"
        ),
    }
}

/// systemd socket activation: when LISTEN_FDS is meant for us (LISTEN_PID is our pid), those
/// fds (3..3+N) go to the container before the --preserve-fds ones, as runc does.
pub fn listen_fds() -> u32 {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !for_us {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn compile_seccomp(
    s: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<Option<crate::linux::seccomp::Filter>> {
    let Some(s) = s else { return Ok(None) };
    let mut f = crate::linux::seccomp::compile(s)?;
    f.connect_listener(s)?;
    Ok(Some(f))
}
