//! `mounts`, `linux.maskedPaths` and `linux.readonlyPaths`. Targets are opened inside the
//! rootfs with openat2(RESOLVE_IN_ROOT) and mounted through their /proc/self/fd path.

use super::fs::{ensure_in_root, fd_path, open_in_root, Kind};
use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// A mount's options split into flags, propagation and the data string.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    /// Recursive attributes (rro, rnosuid, ...): MOUNT_ATTR_* to set and to clear with
    /// mount_setattr(AT_RECURSIVE) on the whole subtree.
    pub rec_set: u64,
    pub rec_clr: u64,
    /// tmpfs only: copy the covered directory's content up into the new mount.
    pub tmpcopyup: bool,
}

const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;
const ATTR_ATIME_MASK: u64 = 0x70;
const ATTR_RELATIME: u64 = 0x0;
const ATTR_NOATIME: u64 = 0x10;
const ATTR_STRICTATIME: u64 = 0x20;
const ATTR_NODIRATIME: u64 = 0x80;
const ATTR_NOSYMFOLLOW: u64 = 0x20_0000;

/// (name, set, clear) for mount_setattr.
const RECURSIVE: &[(&str, u64, u64)] = &[
    ("rro", ATTR_RDONLY, 0),
    ("rrw", 0, ATTR_RDONLY),
    ("rnosuid", ATTR_NOSUID, 0),
    ("rsuid", 0, ATTR_NOSUID),
    ("rnodev", ATTR_NODEV, 0),
    ("rdev", 0, ATTR_NODEV),
    ("rnoexec", ATTR_NOEXEC, 0),
    ("rexec", 0, ATTR_NOEXEC),
    ("rnodiratime", ATTR_NODIRATIME, 0),
    ("rdiratime", 0, ATTR_NODIRATIME),
    ("rnosymfollow", ATTR_NOSYMFOLLOW, 0),
    ("rsymfollow", 0, ATTR_NOSYMFOLLOW),
    ("rnoatime", ATTR_NOATIME, ATTR_ATIME_MASK),
    ("ratime", ATTR_RELATIME, ATTR_ATIME_MASK),
    ("rrelatime", ATTR_RELATIME, ATTR_ATIME_MASK),
    // runc's table clears MOUNT_ATTR_RELATIME, which is 0: no atime mode is chosen, the
    // mount keeps its own (or an earlier r*atime option's).
    ("rnorelatime", 0, 0),
    ("rstrictatime", ATTR_STRICTATIME, ATTR_ATIME_MASK),
    ("rnostrictatime", ATTR_RELATIME, ATTR_ATIME_MASK),
];

/// MS_NOSYMFOLLOW (Linux 5.10), not in every libc.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// runc's option table: (name, clear?, flag).
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("atime", true, MsFlags::MS_NOATIME),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("silent", false, MsFlags::MS_SILENT),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("loud", true, MsFlags::MS_SILENT),
];

const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Handled before the mount (linux/idmap.rs), never passed to the kernel as data.
const IDMAP: &[&str] = &["idmap", "ridmap"];

pub fn parse_options(opts: &[String]) -> Result<Options> {
    let mut o = Options {
        flags: MsFlags::empty(),
        propagation: MsFlags::empty(),
        data: Vec::new(),
        rec_set: 0,
        rec_clr: 0,
        tmpcopyup: false,
    };
    for opt in opts {
        if opt == "tmpcopyup" {
            o.tmpcopyup = true;
        } else if let Some((_, clear, flag)) = FLAGS.iter().find(|(n, _, _)| n == opt) {
            if *clear {
                o.flags.remove(*flag);
            } else {
                o.flags.insert(*flag);
            }
        } else if let Some((_, flag)) = PROPAGATION.iter().find(|(n, _)| n == opt) {
            o.propagation.insert(*flag);
        } else if let Some((_, set, clr)) = RECURSIVE.iter().find(|(n, _, _)| n == opt) {
            // Later options win; an atime option clears the whole atime field (the kernel
            // wants MOUNT_ATTR__ATIME in clr whenever an atime mode is set).
            o.rec_clr = (o.rec_clr & !set) | clr;
            o.rec_set = (o.rec_set & !clr) | set;
        } else if IDMAP.contains(&opt.as_str()) {
            continue;
        } else {
            o.data.push(opt.clone());
        }
    }
    Ok(o)
}

/// Everything a mount needs that lives outside the rootfs.
pub struct Ctx<'a> {
    pub rootfs: RawFd,
    pub bundle: &'a Path,
    /// (mount-point basename, host directory) of the container's cgroup on each hierarchy.
    pub cgroup_dirs: &'a [(String, PathBuf)],
    /// Returns once those host directories exist (create makes the v1 ones while init
    /// mounts: sync.rs).
    pub cgroup_dirs_made: &'a dyn Fn() -> Result<()>,
    pub new_cgroupns: bool,
    pub idmapped: &'a [(usize, std::os::fd::OwnedFd)],
    /// Bind sources the parent opened, by index in `mounts` (only under a new user
    /// namespace: linux/mount_sources.rs).
    pub sources: &'a [(usize, OwnedFd)],
    /// `linux.mountLabel`, only when SELinux is enabled (`lsm::mount_label`).
    pub mount_label: Option<&'a str>,
}

/// Whether a filesystem mount of `typ` gets runc's `context=` label option: all but procfs,
/// sysfs and mqueue (runc labels /dev/mqueue's root instead) and cgroups (their own path).
/// Bind mounts take no data at all.
fn takes_mount_label(typ: &str) -> bool {
    !["proc", "sysfs", "mqueue", "cgroup", "cgroup2"].contains(&typ)
}

/// Files of /proc that lxcfs-style bind mounts may cover (runc's list); nothing else may be
/// mounted inside a procfs.
const PROC_OVERRIDABLE: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/pressure/cpu",
    "/proc/pressure/io",
    "/proc/pressure/memory",
    "/proc/net/dev",
];

/// A mount whose target lands inside a procfs (through a symlink in the rootfs, say
/// /vol -> /proc/sys/kernel) would let the container redirect the runtime's /proc writes
/// (CVE-2025-52881): refused, as runc's checkProcMount does.
/// The mount target `dest`, made to exist as `kind` and opened: every mount goes through this.
fn target(ctx: &Ctx, dest: &Path, kind: Kind) -> Result<OwnedFd> {
    let fd = ensure_in_root(ctx.rootfs, dest, kind)?;
    let allowed =
        dest == Path::new("/proc") || PROC_OVERRIDABLE.iter().any(|p| dest == Path::new(p));
    // Not in the test-only insecure no-proc-checks control (src/insecure.rs).
    let checked = !crate::insecure::off(crate::insecure::Defence::ProcChecks);
    if checked && !allowed && super::fs::is_procfs(fd.as_raw_fd()) {
        bail!("destination: resolves inside /proc, where only /proc itself and runc's lxcfs files may be mounted");
    }
    Ok(fd)
}

/// Whether `mounts[i]` is mounted writable first and made read-only by `make_readonly` once
/// every later mount, device and the console are in place (runc's finalizeRootfs): a
/// read-only tmpfs or /dev (runc's rule: devices are created in /dev), and any other
/// read-only mount that has a later mount under it, whose mount point may need creating.
/// Not for procfs, sysfs and cgroups, where no mount point can be created anyway.
pub fn defer_readonly(all: &[Mount], i: usize) -> Result<bool> {
    let m = &all[i];
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]))
        .with_context(|| format!("mounts[{i}] {:?}: options", m.destination()))?;
    let typ = m.typ().as_deref().unwrap_or("");
    if !opts.flags.contains(MsFlags::MS_RDONLY)
        || ["proc", "sysfs", "cgroup", "cgroup2"].contains(&typ)
    {
        return Ok(false);
    }
    let dest = m.destination();
    let later_under = all[i + 1..].iter().any(|n| {
        let d = n.destination();
        d != dest && d.starts_with(dest)
    });
    Ok(typ == "tmpfs" || dest == Path::new("/dev") || later_under)
}

/// Perform one entry of `mounts[i]`. With `defer_ro` the mount is made writable and an fd of
/// it returned for `make_readonly`.
pub fn mount_one(ctx: &Ctx, i: usize, m: &Mount, defer_ro: bool) -> Result<Option<OwnedFd>> {
    let field = format!("mounts[{i}] {:?}", m.destination());
    let mut opts = parse_options(m.options().as_deref().unwrap_or(&[]))
        .with_context(|| format!("{field}: options"))?;
    if defer_ro {
        opts.flags.remove(MsFlags::MS_RDONLY);
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let is_bind = opts.flags.contains(MsFlags::MS_BIND) || typ == "bind";
    let tree = ctx.idmapped.iter().find(|(k, _)| *k == i).map(|(_, fd)| fd);
    let result = if let Some(tree) = tree {
        mount_idmapped(ctx, m, &opts, tree)
    } else if typ == "cgroup" || typ == "cgroup2" {
        mount_cgroup(ctx, m.destination(), &opts)
    } else if is_bind {
        let given = ctx.sources.iter().find(|(k, _)| *k == i).map(|(_, fd)| fd);
        mount_bind(ctx, m, &opts, given)
    } else {
        mount_fs(ctx, m, typ, &opts)
    };
    result
        .and_then(|_| set_recursive(ctx, m.destination(), &opts))
        .and_then(|_| match defer_ro {
            true => Ok(Some(open_in_root(
                ctx.rootfs,
                m.destination(),
                libc::O_PATH,
            )?)),
            false => Ok(None),
        })
        .with_context(|| field)
}

/// The read-only flag of the mounts `mount_one` deferred, (index in `mounts`, fd of the mount).
/// mount_setattr changes only that flag, so the mount keeps every other option it got.
pub fn make_readonly(deferred: &[(usize, OwnedFd)], all: &[Mount]) -> Result<()> {
    for (i, fd) in deferred {
        super::fs::mount_setattr(fd, ATTR_RDONLY, 0, None, false).with_context(|| {
            format!("mounts[{i}] {:?}: remount read-only", all[*i].destination())
        })?;
    }
    Ok(())
}

/// The recursive attributes, on the mount and everything under it.
fn set_recursive(ctx: &Ctx, dest: &Path, opts: &Options) -> Result<()> {
    if opts.rec_set == 0 && opts.rec_clr == 0 {
        return Ok(());
    }
    let fd = open_in_root(ctx.rootfs, dest, libc::O_PATH)?;
    super::fs::mount_setattr(&fd, opts.rec_set, opts.rec_clr, None, true)
        .context("mount_setattr (recursive options)")
}

fn source_path(ctx: &Ctx, m: &Mount) -> Result<PathBuf> {
    let src = m
        .source()
        .as_ref()
        .context("source: required for a bind mount")?;
    let p = host_path(ctx.bundle, src);
    if !p.exists() {
        bail!("source {}: No such file or directory", p.display());
    }
    Ok(p)
}

/// A bind of the source path, or of `given`, the source the parent opened for us.
fn mount_bind(ctx: &Ctx, m: &Mount, opts: &Options, given: Option<&OwnedFd>) -> Result<()> {
    let (src, name, is_dir) = match given {
        Some(fd) => {
            let st = nix::sys::stat::fstat(fd).context("source: stat")?;
            let name = host_path(ctx.bundle, &m.source().clone().unwrap_or_default());
            (
                PathBuf::from(fd_path(fd)),
                name,
                st.st_mode & libc::S_IFMT == libc::S_IFDIR,
            )
        }
        None => {
            let p = source_path(ctx, m)?;
            (p.clone(), p.clone(), p.is_dir())
        }
    };
    let kind = if is_dir { Kind::Dir } else { Kind::File };
    let target = target(ctx, m.destination(), kind)?;
    let bind = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount(
        Some(&src),
        fd_path(&target).as_str(),
        None::<&str>,
        bind,
        None::<&str>,
    )
    .with_context(|| format!("bind {}", name.display()))?;
    remount_bind_flags(ctx, m, opts)?;
    set_propagation(ctx, m.destination(), opts.propagation)
}

fn remount_bind_flags(ctx: &Ctx, m: &Mount, opts: &Options) -> Result<()> {
    // Flags on a bind only take effect on a remount of the new mount, which the old fd
    // does not name: reopen the target.
    let rest = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !rest.is_empty() {
        let mounted = open_in_root(ctx.rootfs, m.destination(), libc::O_PATH)?;
        mount(
            None::<&str>,
            fd_path(&mounted).as_str(),
            None::<&str>,
            rest | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .context("remount with the bind's flags")?;
    }
    Ok(())
}

/// Attach the idmapped tree the parent prepared, then the bind's flags as for any bind.
fn mount_idmapped(ctx: &Ctx, m: &Mount, opts: &Options, tree: &std::os::fd::OwnedFd) -> Result<()> {
    use super::idmap::{MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH};
    let st = nix::sys::stat::fstat(tree).context("idmapped source: stat")?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    };
    let target = target(ctx, m.destination(), kind)?;
    // SAFETY: both paths are NUL-terminated empty C string literals (the fds themselves, with the
    // EMPTY_PATH flags); tree and target are open OwnedFds.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("idmap: move_mount");
    }
    remount_bind_flags(ctx, m, opts)?;
    set_propagation(ctx, m.destination(), opts.propagation)
}

/// The target of a procfs or sysfs mount: a directory at `dest` itself, never through a
/// symlink or onto a file (runc's "must be mounted on ordinary directory"): a rootfs whose
/// /proc links into a volume another container writes could redirect the mount and the
/// runtime's later /proc writes (CVE-2019-19921). Checked before anything is created, and
/// again on the fd that is mounted on.
fn plain_dir_target(ctx: &Ctx, dest: &Path, typ: &str) -> Result<OwnedFd> {
    let check = |fd: &OwnedFd| -> Result<()> {
        let st = nix::sys::stat::fstat(fd).context("destination: stat")?;
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            let what = match st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                true => "a symlink",
                false => "not a directory",
            };
            bail!("destination: is {what}; {typ} is only mounted on a plain directory");
        }
        Ok(())
    };
    let nofollow = || open_in_root(ctx.rootfs, dest, libc::O_PATH | libc::O_NOFOLLOW);
    match nofollow() {
        Ok(fd) => check(&fd)?,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(e).context("destination: open"),
    }
    let fd = target(ctx, dest, Kind::Dir)?;
    let again = nofollow().context("destination: open")?;
    check(&again)?;
    let (a, b) = (nix::sys::stat::fstat(&fd)?, nix::sys::stat::fstat(&again)?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        bail!("destination: changed while it was being opened");
    }
    Ok(again)
}

fn mount_fs(ctx: &Ctx, m: &Mount, typ: &str, opts: &Options) -> Result<()> {
    if typ.is_empty() {
        bail!("type: required (or a bind option)");
    }
    let target = match typ {
        "proc" | "sysfs" => plain_dir_target(ctx, m.destination(), typ)?,
        _ => target(ctx, m.destination(), Kind::Dir)?,
    };
    let src = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| typ.to_string());
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data);
    let label = ctx.mount_label.filter(|_| takes_mount_label(typ));
    // The remount after tmpcopyup keeps `data`: the kernel keeps the label it was given.
    let first_data = super::lsm::with_mount_label(data.clone(), label);
    if opts.tmpcopyup && typ != "tmpfs" {
        bail!("options: tmpcopyup is only for tmpfs, not {typ}");
    }
    // The covered directory, opened before the mount hides it; the tmpfs stays writable
    // until the copy is done.
    let covered = match opts.tmpcopyup {
        true => Some(open_in_root(
            ctx.rootfs,
            m.destination(),
            libc::O_DIRECTORY,
        )?),
        false => None,
    };
    let first = match covered {
        Some(_) => opts.flags - MsFlags::MS_RDONLY,
        None => opts.flags,
    };
    mount(
        Some(src.as_str()),
        fd_path(&target).as_str(),
        Some(typ),
        first,
        first_data.as_deref(),
    )
    .with_context(|| match (&first_data, label) {
        (Some(d), Some(_)) => format!("mount {typ} with options {d:?} (linux.mountLabel)"),
        (Some(d), None) => format!("mount {typ} with options {d:?}"),
        (None, _) => format!("mount {typ}"),
    })?;
    if let Some(l) = ctx.mount_label.filter(|_| typ == "mqueue") {
        let root = open_in_root(
            ctx.rootfs,
            m.destination(),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )?;
        super::lsm::set_file_label(&root, l)?;
    }
    if let Some(covered) = covered {
        let fresh = open_in_root(ctx.rootfs, m.destination(), libc::O_DIRECTORY)?;
        super::copyup::copy_tree(&covered, &fresh)?;
        if first != opts.flags {
            let fd = open_in_root(ctx.rootfs, m.destination(), libc::O_PATH)?;
            mount(
                None::<&str>,
                fd_path(&fd).as_str(),
                None::<&str>,
                opts.flags | MsFlags::MS_REMOUNT,
                data.as_deref(),
            )
            .context("tmpcopyup: remount read-only")?;
        }
    }
    set_propagation(ctx, m.destination(), opts.propagation)
}

fn set_propagation(ctx: &Ctx, dest: &Path, prop: MsFlags) -> Result<()> {
    if prop.is_empty() {
        return Ok(());
    }
    let fd = open_in_root(ctx.rootfs, dest, libc::O_PATH)?;
    mount(
        None::<&str>,
        fd_path(&fd).as_str(),
        None::<&str>,
        prop,
        None::<&str>,
    )
    .context("set propagation")
}

/// A `cgroup` mount shows the container its own cgroup. With a new cgroup namespace the
/// kernel roots a fresh cgroup2 mount there; otherwise (and for every v1 hierarchy) the
/// container's own directories are bound under a tmpfs, read-only unless the config says rw.
fn mount_cgroup(ctx: &Ctx, dest: &Path, opts: &Options) -> Result<()> {
    let target = target(ctx, dest, Kind::Dir)?;
    let unified_only = ctx.cgroup_dirs.len() == 1 && ctx.cgroup_dirs[0].0.is_empty();
    let base = opts.flags | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if unified_only {
        if ctx.new_cgroupns {
            return mount(
                Some("cgroup2"),
                fd_path(&target).as_str(),
                Some("cgroup2"),
                base,
                None::<&str>,
            )
            .context("mount cgroup2");
        }
        let reopen = || open_in_root(ctx.rootfs, dest, libc::O_PATH);
        return bind_ro(&ctx.cgroup_dirs[0].1, &target, reopen, opts.flags);
    }
    (ctx.cgroup_dirs_made)()?;
    let tmpfs_flags = base - MsFlags::MS_RDONLY;
    mount(
        Some("tmpfs"),
        fd_path(&target).as_str(),
        Some("tmpfs"),
        tmpfs_flags,
        super::lsm::with_mount_label(Some("mode=755".into()), ctx.mount_label).as_deref(),
    )
    .context("mount tmpfs for cgroup hierarchies")?;
    // The tmpfs was just mounted and only we write to it: its subdirectories are made and
    // opened directly in it.
    let tmpfs = open_in_root(ctx.rootfs, dest, libc::O_PATH | libc::O_DIRECTORY)?;
    for (name, host) in ctx.cgroup_dirs {
        let sub = hierarchy_dir(name);
        let fd = match fresh_subdir(tmpfs.as_raw_fd(), sub) {
            Some(fd) => fd,
            None => ensure_in_root(tmpfs.as_raw_fd(), sub, Kind::Dir)?,
        };
        bind(host, &fd)?;
    }
    // One recursive mount_setattr gives the tmpfs and every hierarchy under it their flags,
    // where a remount took three syscalls per hierarchy (reopen, remount, close).
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    let attrs = ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC | if ro { ATTR_RDONLY } else { 0 };
    match super::fs::mount_setattr(&tmpfs, attrs, 0, None, true) {
        // ENOSYS: before Linux 5.12; EPERM: a seccomp filter that does not know it.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
        r => return r.context("mount_setattr (cgroup tmpfs and hierarchies)"),
    }
    // Without mount_setattr: a remount each.
    for (name, host) in ctx.cgroup_dirs {
        let sub = hierarchy_dir(name);
        let open = || open_in_root(tmpfs.as_raw_fd(), sub, libc::O_PATH | libc::O_DIRECTORY);
        remount_bound(host, open, opts.flags)?;
    }
    if ro {
        let t = open_in_root(ctx.rootfs, dest, libc::O_PATH)?;
        mount(
            None::<&str>,
            fd_path(&t).as_str(),
            None::<&str>,
            base | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .context("remount cgroup tmpfs read-only")?;
    }
    Ok(())
}

/// The directory of a hierarchy under the cgroup tmpfs: its name, "unified" for cgroup2.
fn hierarchy_dir(name: &str) -> &Path {
    Path::new(if name.is_empty() { "unified" } else { name })
}

/// mkdir `name` (one component) in the directory `dir` that we just mounted and opened:
/// mkdirat and one openat2, where ensure_in_root first looks for it and opens its parent.
/// None when `name` is not a plain name or mkdir fails; the caller then takes the general path.
fn fresh_subdir(dir: RawFd, name: &Path) -> Option<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = name.as_os_str().as_bytes();
    if bytes.contains(&b'/') || bytes == b"." || bytes == b".." {
        return None;
    }
    let c = std::ffi::CString::new(bytes).ok()?;
    // SAFETY: `c` is NUL-terminated and alive for the call; `dir` is only a number to the
    // kernel.
    if unsafe { libc::mkdirat(dir, c.as_ptr(), 0o755) } != 0 {
        return None;
    }
    open_in_root(dir, name, libc::O_PATH | libc::O_DIRECTORY).ok()
}

/// Bind the host cgroup dir `src` on `target`, then remount it nosuid, nodev, noexec (and
/// read-only when `flags` say so).
fn bind_ro(
    src: &Path,
    target: &OwnedFd,
    reopen: impl Fn() -> std::io::Result<OwnedFd>,
    flags: MsFlags,
) -> Result<()> {
    bind(src, target)?;
    remount_bound(src, reopen, flags)
}

/// Bind the host cgroup dir `src` on `target`.
fn bind(src: &Path, target: &OwnedFd) -> Result<()> {
    mount(
        Some(src),
        fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind {}", src.display()))
}

/// Remount the bind of `src` nosuid, nodev, noexec (and read-only when `flags` say so).
fn remount_bound(
    src: &Path,
    reopen: impl Fn() -> std::io::Result<OwnedFd>,
    flags: MsFlags,
) -> Result<()> {
    let remount = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC
        | (flags & MsFlags::MS_RDONLY);
    // The old fd names the directory under the new mount: reopen to reach the mount itself.
    let target = reopen()?;
    mount(
        None::<&str>,
        fd_path(&target).as_str(),
        None::<&str>,
        remount,
        None::<&str>,
    )
    .with_context(|| format!("remount {}", src.display()))
}

/// `linux.maskedPaths`, after pivot_root: paths are resolved in the new root (cwd is `/`).
/// A masking tmpfs carries `mount_label` as runc's does.
pub fn mask_paths(paths: &[String], mount_label: Option<&str>) -> Result<()> {
    let root = std::fs::File::open("/").context("open /")?;
    if paths.is_empty() {
        return Ok(());
    }
    let null = match null_device(root.as_raw_fd()) {
        // Test-only insecure no-null-check control (src/insecure.rs): no /dev/null, no
        // masking (runc < 1.2.8).
        Err(_) if crate::insecure::off(crate::insecure::Defence::NullCheck) => return Ok(()),
        r => r.context("linux.maskedPaths")?,
    };
    let tmpfs_data = super::lsm::with_mount_label(None, mount_label);
    for (i, p) in paths.iter().enumerate() {
        let field = || format!("linux.maskedPaths[{i}] {p:?}");
        let Some(fd) = open_existing(root.as_raw_fd(), p).with_context(field)? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(&fd)
            .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let r = if is_dir {
            mount(
                Some("tmpfs"),
                fd_path(&fd).as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                tmpfs_data.as_deref(),
            )
        } else {
            mount(
                Some(fd_path(&null).as_str()),
                fd_path(&fd).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        r.with_context(field)?;
    }
    Ok(())
}

/// A masked or read-only path, opened in the new root; None when it does not exist (runc
/// skips paths this kernel or image does not have). Any other error (a symlink loop, a file
/// where a directory should be) is the config's problem and is reported.
fn open_existing(root: RawFd, p: &str) -> Result<Option<OwnedFd>> {
    match open_in_root(root, Path::new(p), libc::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e).context("open"),
    }
}

/// The container's /dev/null, opened once and checked to be the null device (char 1:3): a
/// rootfs or volume could make it a link to a host file, which masking would then expose
/// (CVE-2025-31133). Masks bind from this fd, so a later swap of the name changes nothing.
fn null_device(root: RawFd) -> Result<std::os::fd::OwnedFd> {
    // Test-only insecure no-null-check control (src/insecure.rs): whatever the name leads
    // to (runc < 1.2.8).
    if crate::insecure::off(crate::insecure::Defence::NullCheck) {
        return Ok(open_in_root(root, Path::new("/dev/null"), libc::O_PATH)?);
    }
    let fd = open_in_root(
        root,
        Path::new("/dev/null"),
        libc::O_PATH | libc::O_NOFOLLOW,
    )
    .context("open /dev/null")?;
    let st = nix::sys::stat::fstat(&fd).context("stat /dev/null")?;
    let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(st.st_rdev) == 1
        && libc::minor(st.st_rdev) == 3;
    if !is_null {
        bail!("/dev/null in the container is not the null device (char 1:3)");
    }
    Ok(fd)
}

/// `linux.readonlyPaths`: bind each onto itself, then remount read-only.
pub fn readonly_paths(paths: &[String]) -> Result<()> {
    let root = std::fs::File::open("/").context("open /")?;
    for (i, p) in paths.iter().enumerate() {
        let field = || format!("linux.readonlyPaths[{i}] {p:?}");
        let Some(fd) = open_existing(root.as_raw_fd(), p).with_context(field)? else {
            continue;
        };
        let path = fd_path(&fd);
        mount(
            Some(path.as_str()),
            path.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(field)?;
        let fd = open_in_root(root.as_raw_fd(), Path::new(p), libc::O_PATH).with_context(field)?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(
            None::<&str>,
            fd_path(&fd).as_str(),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .with_context(field)?;
    }
    Ok(())
}

/// A bind source as the host names it: relative ones are relative to the bundle (here, not
/// in mount_sources.rs, which uses this module).
pub fn host_path(bundle: &Path, src: &Path) -> PathBuf {
    match src.is_absolute() {
        true => src.to_path_buf(),
        false => bundle.join(src),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let o = parse_options(&s(&[
            "nosuid",
            "ro",
            "rw",
            "rbind",
            "rslave",
            "mode=755",
            "size=65536k",
        ]))
        .unwrap();
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_BIND | MsFlags::MS_REC
        );
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(o.data, s(&["mode=755", "size=65536k"]));
    }

    #[test]
    fn mount_label_goes_on_filesystems_but_proc_sysfs_mqueue_cgroup() {
        for t in ["tmpfs", "devpts", "ramfs", "overlay", "shm"] {
            assert!(takes_mount_label(t), "{t}");
        }
        for t in ["proc", "sysfs", "mqueue", "cgroup", "cgroup2"] {
            assert!(!takes_mount_label(t), "{t}");
        }
    }

    #[test]
    fn recursive_attributes_and_refusals() {
        let o = parse_options(&s(&["rro", "rnosuid", "rnoatime", "rrw"])).unwrap();
        assert_eq!(o.rec_set, ATTR_NOSUID | ATTR_NOATIME);
        assert_eq!(o.rec_clr, ATTR_RDONLY | ATTR_ATIME_MASK);
        assert!(o.data.is_empty());
        let o = parse_options(&s(&["rnorelatime"])).unwrap();
        assert_eq!((o.rec_set, o.rec_clr, o.data.len()), (0, 0, 0));
        let o = parse_options(&s(&["rnoatime", "rnorelatime"])).unwrap();
        assert_eq!((o.rec_set, o.rec_clr), (ATTR_NOATIME, ATTR_ATIME_MASK));
        assert!(parse_options(&s(&["tmpcopyup"])).unwrap().tmpcopyup);
        assert!(parse_options(&s(&["idmap", "ridmap"]))
            .unwrap()
            .data
            .is_empty());
    }
}
