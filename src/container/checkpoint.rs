//! checkpoint and restore, through CRIU as runc does (src/linux/criu.rs speaks its RPC).
//!
//! checkpoint dumps init's process tree into --image-path (with runc's descriptors.json: what
//! init's stdio was, so restore can hand it new pipes), freezing it through the cgroup freezer;
//! then, unless --leave-running or --pre-dump, the container is deleted (CRIU killed it). A
//! failed dump leaves the tasks running (CRIU thaws them) and the state untouched.
//!
//! restore makes a new container under the given id: state dir, cgroup with the config's
//! limits, then CRIU restores the tree with the rootfs as root (bind-mounted at
//! <state>/criu-root: CRIU wants a mount point whose parent is not overmounted), the external
//! mounts mapped back to their host sources, the cgroup as the cgroup root and init as our
//! child (rst_sibling). A failed restore kills what CRIU made and removes the rest.

use super::criu_options::{
    CheckpointOptions as CheckpointArgs, CriuOptions as CriuOpts, RestoreOptions as RestoreArgs,
};
use crate::config;
use crate::error::{Opt, OptContext};
use crate::linux::criu::{self, opt, Msg};
use crate::state::{self, Locked, Phase, State, Status, Store};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// runc's file of init's stdio targets (readlink of /proc/<pid>/fd/0..2), in the image dir.
const DESCRIPTORS: &str = "descriptors.json";

/// The devices runc lists as external mounts: its defaults, then linux.devices.
const DEFAULT_DEVICES: [&str; 6] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

pub fn checkpoint(root: &Path, criu_bin: &Path, a: &CheckpointArgs) -> Result<()> {
    let c = Store::new(root)?.lock(&a.id)?;
    match c.status() {
        Status::Running | Status::Paused => {}
        s => return Err(state::WrongStatus(s).into()),
    }
    let spec = c.config()?;
    criu::check_version(criu_bin)?;
    if (a.pre_dump || a.parent_path.is_some()) && !criu::supports_mem_track(criu_bin)? {
        let msg = ": this CRIU or kernel cannot track memory changes (soft-dirty)";
        return Err(Opt::PreDump.said(msg).into());
    }
    let images_path = a
        .criu
        .image_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    let images = open_dir(&images_path, true).opt_context(Opt::ImagePath.said(""))?;
    let (work, work_path) = work_dir(&a.criu, &images, &images_path)?;
    write_descriptors(&images_path, c.state.pid)?;

    let mut o = common_opts(&a.criu, &images, &work)?;
    o.str(opt::LOG_FILE, "dump.log")
        .int(opt::PID, c.state.pid)
        .str(opt::ROOT, &c.state.rootfs.to_string_lossy())
        .flag(opt::LEAVE_RUNNING, a.leave_running);
    if let Some(fcg) = freezer_dir(&c) {
        o.str(opt::FREEZE_CGROUP, &fcg.to_string_lossy());
    }
    if let Some(p) = &a.parent_path {
        o.str(opt::PARENT_IMG, p);
    }
    if a.pre_dump || a.parent_path.is_some() {
        o.flag(opt::TRACK_MEM, true);
    }
    if let Some(fd) = a.status_fd {
        o.int(opt::STATUS_FD, fd);
    }
    if let Some(ps) = &a.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<i32>().ok()?)))
            .with_opt_context(|| Opt::PageServer.said(format!(" {ps}: want ADDRESS:PORT")))?;
        o.msg(opt::PS, &criu::page_server(addr, port));
    }
    for (key, val) in dump_mounts(&spec, c.state.pid) {
        o.msg(opt::EXT_MNT, &criu::ext_mnt(&key, &val));
    }
    for (key, _) in cgroup_mounts(&spec, &c.state.cgroup) {
        o.msg(opt::EXT_MNT, &criu::ext_mnt(&key, &key));
    }
    for (ns, key) in external_namespaces(&spec) {
        let ino =
            fs::metadata(&ns.1).with_context(|| format!("linux.namespaces: {}", ns.1.display()))?;
        o.str(
            opt::EXTERNAL,
            &format!(
                "{}[{}]:{key}",
                ns.0,
                std::os::unix::fs::MetadataExt::ino(&ino)
            ),
        );
    }
    let kind = if a.pre_dump {
        criu::PRE_DUMP
    } else {
        criu::DUMP
    };
    let mut keep = vec![images.as_raw_fd(), work.as_raw_fd()];
    keep.extend(a.status_fd);
    let log = work_path.join("dump.log");
    criu::Swrk::start(criu_bin, &keep)?.call(
        &criu::request(kind, Some(&o)),
        &mut |_, _, _| Ok(()),
        Some(&log),
    )?;
    if !a.leave_running && !a.pre_dump {
        // CRIU killed the tasks; the rest goes as with delete (runc destroys it too).
        super::destroy(c).context("checkpointed, but removing the container failed")?;
    }
    Ok(())
}

/// Returns the exit code: 0 with --detach, else the restored init's.
pub fn restore(root: &Path, criu_bin: &Path, a: &RestoreArgs) -> Result<i32> {
    config::validate_id(&a.id)?;
    let bundle = fs::canonicalize(&a.bundle)
        .with_opt_context(|| Opt::Bundle.said(format!(" {}", a.bundle.display())))?;
    let spec = config::load(&bundle).map_err(crate::error::BadConfig::mark)?;
    config::validate(&spec, &bundle).map_err(crate::error::BadConfig::mark)?;
    let rootfs = config::rootfs_path(&spec, &bundle)?;
    let images_path = a
        .criu
        .image_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    let images = open_dir(&images_path, false).with_opt_context(|| {
        Opt::ImagePath.said(format!(" {}: no checkpoint there", images_path.display()))
    })?;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let console = match (terminal, &a.console_socket) {
        (true, Some(p)) => Some(crate::linux::console::connect(p)?),
        (true, None) => {
            let msg = Opt::ConsoleSocket
                .within("process.terminal: restore needs ", " for the restored pty");
            return Err(msg.into());
        }
        (false, Some(_)) => {
            let msg = ": cannot use console socket if process.terminal is false";
            return Err(Opt::ConsoleSocket.said(msg).into());
        }
        (false, None) => None,
    };
    criu::check_version(criu_bin)?;

    let cgroups_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let mut cgroup = crate::cgroups::Cgroup::plan(cgroups_path.as_deref(), &a.id)?;
    cgroup.intend()?;
    let mut c = Store::new(root)?.create(State {
        id: a.id.clone(),
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
        no_new_keyring: false,
    })?;
    let restored = (|| {
        c.save_config(&spec)?;
        let resources = spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        // --systemd-cgroup: systemd makes the scope later, with criu in it (criu_restore).
        if c.state.cgroup.unit.is_none() {
            super::create::make_cgroup(&mut c, &spec, &resources, false)?;
        }
        let criu_root = c.path.join("criu-root");
        fs::create_dir(&criu_root).context("mkdir criu-root")?;
        let mounted = bind(&rootfs, &criu_root);
        let r = mounted.and_then(|()| {
            criu_restore(
                &mut c,
                &spec,
                &resources,
                criu_bin,
                a,
                &images,
                &images_path,
                &criu_root,
                console.as_ref(),
            )
        });
        let _ = nix::mount::umount2(&criu_root, nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir(&criu_root);
        let pid = r?;
        c.state.pid = pid;
        c.state.pid_start = state::proc_stat(pid).map_or(0, |s| s.1);
        c.state.phase = Phase::Created;
        c.save()?;
        if let Some(p) = &a.pid_file {
            super::write_pid_file(p, pid)?;
        }
        Ok(pid)
    })();
    let pid = match restored {
        Ok(pid) => pid,
        Err(e) => {
            if let Err(u) = super::destroy(c) {
                crate::logging::warn(&format!("cleanup after the failed restore: {u:#}"));
            }
            return Err(e);
        }
    };
    if a.detach {
        return Ok(0);
    }
    drop(c);
    let code = super::wait_foreground(pid)?;
    super::delete(root, &a.id, true)?;
    Ok(code)
}

/// Run CRIU's RESTORE; returns the restored init's pid (our child).
#[allow(clippy::too_many_arguments)]
fn criu_restore(
    c: &mut Locked,
    spec: &Spec,
    resources: &oci_spec::runtime::LinuxResources,
    criu_bin: &Path,
    a: &RestoreArgs,
    images: &OwnedFd,
    images_path: &Path,
    criu_root: &Path,
    console: Option<&OwnedFd>,
) -> Result<i32> {
    let (work, work_path) = work_dir(&a.criu, images, images_path)?;
    prepare_mountpoints(spec, &c.state.rootfs)?;
    let mut o = common_opts(&a.criu, images, &work)?;
    o.str(opt::LOG_FILE, "restore.log")
        .flag(opt::EVASIVE_DEVICES, true)
        .flag(opt::RST_SIBLING, true)
        .str(opt::ROOT, &criu_root.to_string_lossy());
    if let Some(p) = &a.lsm_profile {
        o.str(opt::LSM_PROFILE, p);
    }
    for (key, val) in restore_mounts(spec) {
        o.msg(opt::EXT_MNT, &criu::ext_mnt(&key, &val));
    }
    for (key, dir) in cgroup_mounts(spec, &c.state.cgroup) {
        o.msg(opt::EXT_MNT, &criu::ext_mnt(&key, &dir.to_string_lossy()));
    }
    // Joined namespaces: CRIU takes them from fds it inherits, keyed as at dump.
    let mut ns_files = Vec::new();
    for (ns, key) in external_namespaces(spec) {
        let f = fs::File::open(&ns.1)
            .with_context(|| format!("linux.namespaces: {}", ns.1.display()))?;
        o.msg(opt::INHERIT_FD, &criu::inherit_fd(key, f.as_raw_fd()));
        ns_files.push(f);
    }
    // init's stdio pipes are replaced by ours, as runc does.
    for (i, d) in read_descriptors(images_path)?.iter().enumerate() {
        if d.contains("pipe:") {
            o.msg(opt::INHERIT_FD, &criu::inherit_fd(d, i as RawFd));
        }
    }
    let mut keep = vec![images.as_raw_fd(), work.as_raw_fd()];
    keep.extend(ns_files.iter().map(|f| f.as_raw_fd()));
    let swrk = criu::Swrk::start(criu_bin, &keep)?;
    // CRIU forks the tasks: from inside the new cgroup they start there, and cg_root makes
    // the image's cgroup paths relative to it (a restore under a new id or path). With
    // --systemd-cgroup the scope is made with criu in it, as create makes it with init.
    if c.state.cgroup.unit.is_some() {
        super::create::join_unit(c, spec, resources, swrk.pid())
            .opt_context(Opt::SystemdCgroup.said(": the scope for criu"))?;
    } else {
        c.state
            .cgroup
            .add_pid(swrk.pid())
            .context("move criu into the container's cgroup")?;
    }
    for (ctrl, path) in own_cgroups(swrk.pid())? {
        o.msg(opt::CG_ROOT, &criu::cgroup_root(ctrl.as_deref(), &path));
    }
    let hooks = spec.hooks().as_ref();
    let state_with = |pid: i32| {
        let mut s = c.state.clone();
        s.pid = pid;
        state::state_json(&s, Status::Creating).to_string()
    };
    let resp = swrk.call(
        &criu::request(criu::RESTORE, Some(&o)),
        &mut |script, pid, fd| {
            match script {
                // Before the tasks run, as runc: the hooks that set up the namespaces.
                "setup-namespaces" => {
                    // The namespaces exist, the tasks are not restored yet: lo is up before
                    // CRIU reconnects TCP sockets (--tcp-established) and before they run.
                    if own_netns(spec) {
                        loopback_up_in(pid)?;
                    }
                    let s = state_with(pid);
                    crate::linux::hooks::run_all(
                        "prestart",
                        hooks.and_then(|h| h.prestart().as_ref()),
                        &s,
                    )?;
                    crate::linux::hooks::run_all(
                        "createRuntime",
                        hooks.and_then(|h| h.create_runtime().as_ref()),
                        &s,
                    )?;
                }
                "orphan-pts-master" => {
                    if let (Some(sock), Some(master)) = (console, fd) {
                        criu::send_fd(sock, &master, "/dev/ptmx")?;
                    }
                }
                _ => {}
            }
            Ok(())
        },
        Some(&work_path.join("restore.log")),
    )?;
    let pid = resp.restored_pid;
    if pid <= 0 {
        bail!("criu restored no process (pid {pid})");
    }
    Ok(pid)
}

/// The container has a network namespace of its own (not joined by path).
fn own_netns(spec: &Spec) -> bool {
    use oci_spec::runtime::LinuxNamespaceType as T;
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| {
            n.iter()
                .any(|n| n.typ() == T::Network && n.path().is_none())
        })
}

/// Bring `lo` up in `pid`'s network namespace, as create does for a new one: CRIU restores it
/// empty (empty_ns). runc 1.1.5 does not, so there a restored listener on 127.0.0.1 is
/// unreachable and --tcp-established fails to reconnect a loopback connection ("Network is
/// unreachable"). A short-lived thread of ours enters the namespace (setns is per thread), so
/// carrack itself stays where it is: one setns and one ioctl.
fn loopback_up_in(pid: i32) -> Result<()> {
    let ns = fs::File::open(format!("/proc/{pid}/ns/net")).context("open the restored netns")?;
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .context("enter the restored netns")?;
        crate::linux::network::loopback_up()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("bring lo up: the thread panicked"))?
    .context("the restored container's network namespace")
}

/// The options of both directions.
fn common_opts(a: &CriuOpts, images: &OwnedFd, work: &OwnedFd) -> Result<Msg> {
    let mut o = Msg::default();
    o.int(opt::IMAGES_DIR_FD, images.as_raw_fd())
        .int(opt::WORK_DIR_FD, work.as_raw_fd())
        .int(opt::LOG_LEVEL, 4)
        .flag(opt::MANAGE_CGROUPS, true)
        .flag(opt::NOTIFY_SCRIPTS, true)
        .flag(opt::ORPHAN_PTS_MASTER, true)
        .flag(opt::SHELL_JOB, a.shell_job)
        .flag(opt::TCP_ESTABLISHED, a.tcp_established)
        .flag(opt::EXT_UNIX_SK, a.ext_unix_sk)
        .flag(opt::FILE_LOCKS, a.file_locks)
        .flag(opt::AUTO_DEDUP, a.auto_dedup)
        .flag(opt::LAZY_PAGES, a.lazy_pages);
    o.uint(opt::EMPTY_NS, empty_ns(&a.empty_ns)?.into());
    if let Some(m) = &a.manage_cgroups_mode {
        o.uint(opt::MANAGE_CGROUPS_MODE, cgroups_mode(m)?);
    }
    Ok(o)
}

/// criu_cg_mode of runc's --manage-cgroups-mode names.
fn cgroups_mode(m: &str) -> Result<u64> {
    Ok(match m {
        "ignore" => 0,
        "soft" => 3,
        "full" => 4,
        "strict" => 5,
        _ => {
            let msg = format!(" {m:?}: want soft, full, strict or ignore");
            return Err(Opt::ManageCgroupsMode.said(msg).into());
        }
    })
}

/// criu_opts.empty_ns: always the network namespace, as runc (which manages no network
/// devices): CRIU neither dumps its configuration (ip addr/route/rule save, iptables-save, the
/// sysctls: 2.4 of 3.9 s of a dump in the VM) nor restores it. restore brings `lo` up itself
/// (loopback_up_in); podman's and containerd's namespaces are joined by path, external.
/// --empty-ns adds to it; runc knows only "network".
fn empty_ns(names: &[String]) -> Result<u32> {
    let mut flags = libc::CLONE_NEWNET as u32;
    for n in names {
        match n.as_str() {
            "network" => flags |= libc::CLONE_NEWNET as u32,
            _ => {
                let msg = format!(" {n:?}: namespace not supported (only network)");
                return Err(Opt::EmptyNs.said(msg).into());
            }
        }
    }
    Ok(flags)
}

/// Open (making it, 0700, when `create`) a directory for CRIU, which gets it by fd.
fn open_dir(p: &Path, create: bool) -> Result<OwnedFd> {
    if create {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(p)
            .with_context(|| format!("mkdir {}", p.display()))?;
    }
    let f = fs::File::open(p).with_context(|| format!("open {}", p.display()))?;
    if !f.metadata()?.is_dir() {
        bail!("{}: not a directory", p.display());
    }
    Ok(f.into())
}

/// --work-path (made when missing), or the image dir; with its path, for the log's name.
fn work_dir(a: &CriuOpts, images: &OwnedFd, images_path: &Path) -> Result<(OwnedFd, PathBuf)> {
    match &a.work_path {
        Some(p) => Ok((
            open_dir(p, true).opt_context(Opt::WorkPath.said(""))?,
            p.clone(),
        )),
        None => Ok((
            images.try_clone().context("dup the image dir")?,
            images_path.to_path_buf(),
        )),
    }
}

fn write_descriptors(images: &Path, pid: i32) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|i| {
            fs::read_link(format!("/proc/{pid}/fd/{i}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let p = images.join(DESCRIPTORS);
    fs::write(&p, serde_json::to_vec(&fds)?).with_context(|| format!("write {}", p.display()))
}

fn read_descriptors(images: &Path) -> Result<Vec<String>> {
    let p = images.join(DESCRIPTORS);
    let text = fs::read(&p).with_context(|| format!("read {}", p.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{}: corrupt", p.display()))
}

/// The cgroup CRIU freezes the tree with: v2's dir, or v1's freezer.
fn freezer_dir(c: &Locked) -> Option<PathBuf> {
    c.state
        .cgroup
        .dirs
        .iter()
        .find(|d| d.hierarchy == "unified" || d.hierarchy.split(',').any(|h| h == "freezer"))
        .map(|d| d.path.clone())
}

/// (controllers or None for v2, path) of `pid`'s cgroups, from /proc/<pid>/cgroup.
fn own_cgroups(pid: i32) -> Result<Vec<(Option<String>, String)>> {
    let text = crate::linux::fs::read_text(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("read /proc/{pid}/cgroup"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            Some((
                (!ctrl.is_empty()).then(|| ctrl.to_string()),
                path.to_string(),
            ))
        })
        .collect())
}

/// A bind mount, by runc's test: a "bind" or "rbind" option.
fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.options()
        .as_ref()
        .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

fn devices(spec: &Spec) -> Vec<String> {
    let mut all: Vec<String> = DEFAULT_DEVICES.iter().map(|s| s.to_string()).collect();
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
    {
        let p = d.path().to_string_lossy().into_owned();
        if !all.contains(&p) {
            all.push(p);
        }
    }
    all
}

fn masked_paths(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
}

/// ext_mnt at dump (runc's addCriuDumpMount, addMaskPaths): each bind mount and device is
/// external under its own destination; a masked file under "/dev/null" (dirs are tmpfs).
fn dump_mounts(spec: &Spec, pid: i32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if is_bind(m) {
            let d = m.destination().to_string_lossy().into_owned();
            out.push((d.clone(), d));
        }
    }
    for p in masked_paths(spec) {
        let inside = format!("/proc/{pid}/root{p}");
        if fs::metadata(&inside).is_ok_and(|m| !m.is_dir()) {
            out.push((p, "/dev/null".to_string()));
        }
    }
    for d in devices(spec) {
        out.push((d.clone(), d));
    }
    out
}

/// ext_mnt at restore: the names given at dump mapped to host sources.
fn restore_mounts(spec: &Spec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if is_bind(m) {
            let src = m
                .source()
                .as_ref()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((m.destination().to_string_lossy().into_owned(), src));
        }
    }
    if !masked_paths(spec).is_empty() {
        out.push(("/dev/null".to_string(), "/dev/null".to_string()));
    }
    for d in devices(spec) {
        out.push((d.clone(), d));
    }
    out
}

/// Without a cgroup namespace, carrack's cgroup mount shows the container's own cgroup: a bind
/// of its dir (per hierarchy on v1), which CRIU cannot dump (no mount of the hierarchy's root
/// in the container). They are external, keyed by their mount point, and restore binds the
/// new container's dirs there: the restored container sees its own cgroup, under a new id or
/// path too. (runc mounts the whole hierarchy on v2 and shows the host's tree instead.)
/// (mount point, host dir) per hierarchy.
fn cgroup_mounts(spec: &Spec, cg: &crate::cgroups::Cgroup) -> Vec<(String, PathBuf)> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let cgroupns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == T::Cgroup));
    if cgroupns {
        return Vec::new();
    }
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if m.typ().as_deref() != Some("cgroup") {
            continue;
        }
        let dest = m.destination().to_string_lossy().into_owned();
        for (name, dir) in super::create::mount_view(cg) {
            let key = match name.is_empty() {
                true => dest.clone(),
                false => format!("{}/{name}", dest.trim_end_matches('/')),
            };
            out.push((key, dir));
        }
    }
    out
}

/// Namespaces the container joined by path that CRIU must leave external (runc: network and
/// pid): ((kind as CRIU names it, path), key).
fn external_namespaces(spec: &Spec) -> Vec<((&'static str, PathBuf), &'static str)> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let mut out = Vec::new();
    for ns in spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
    {
        let Some(path) = ns.path().clone() else {
            continue;
        };
        match ns.typ() {
            T::Network => out.push((("net", path), "extRootNetNS")),
            T::Pid => out.push((("pid", path), "extRootPidNS")),
            _ => {}
        }
    }
    out
}

/// CRIU mounts the bind mounts onto the restored root: their mount points must exist there
/// (runc's prepareCriuRestoreMounts). Those under a tmpfs destination come back with the tmpfs.
fn prepare_mountpoints(spec: &Spec, rootfs: &Path) -> Result<()> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let root = fs::File::open(rootfs).with_context(|| format!("open {}", rootfs.display()))?;
    for m in mounts.iter().filter(|m| is_bind(m)) {
        let dest = m.destination();
        if tmpfs.iter().any(|t| dest.starts_with(t)) {
            continue;
        }
        let kind = match m.source().as_ref().map(fs::metadata) {
            Some(Ok(md)) if !md.is_dir() => crate::linux::fs::Kind::File,
            _ => crate::linux::fs::Kind::Dir,
        };
        crate::linux::fs::ensure_in_root(root.as_raw_fd(), dest, kind)
            .with_context(|| format!("mounts: mount point {}", dest.display()))?;
    }
    Ok(())
}

/// Bind `src` (recursively) onto `dst`.
fn bind(src: &Path, dst: &Path) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind {} on {}", src.display(), dst.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_mode_and_namespace_are_refused() {
        assert!(cgroups_mode("soft").is_ok());
        assert!(
            format!("{:#}", cgroups_mode("loose").unwrap_err()).contains("cgroups mode \"loose\"")
        );
        assert_eq!(
            empty_ns(&["network".into()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert_eq!(empty_ns(&[]).unwrap(), libc::CLONE_NEWNET as u32);
        assert!(empty_ns(&["pid".into()]).is_err());
    }

    #[test]
    fn mounts_external_as_runc() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind"]},
                {"destination": "/proc", "type": "proc", "source": "proc"}
            ],
            "linux": {"maskedPaths": ["/proc/kcore"],
                      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]}
        }))
        .unwrap();
        let r = restore_mounts(&spec);
        assert!(r.contains(&("/data".into(), "/srv/data".into())));
        assert!(r.contains(&("/dev/null".into(), "/dev/null".into())));
        assert!(r.contains(&("/dev/fuse".into(), "/dev/fuse".into())));
        assert!(!r.iter().any(|(k, _)| k == "/proc"));
        let d = dump_mounts(&spec, std::process::id() as i32);
        assert!(d.contains(&("/data".into(), "/data".into())));
    }
}
