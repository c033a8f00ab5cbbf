//! ID-mapped bind mounts (`idmap`, `ridmap`, mount `uidMappings`/`gidMappings`).
//!
//! The parent makes them before clone3, while the host paths are reachable: open_tree()
//! clones the source into a detached tree, mount_setattr(MOUNT_ATTR_IDMAP) maps it through a
//! user namespace holding the mappings, and init inherits the tree fd (clone3 copies the fd
//! table) and attaches it with move_mount() at the destination it resolved inside the rootfs.
//! A mapping `containerID hostID size` shows a source file owned by containerID as hostID.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

const OPEN_TREE_CLONE: u32 = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// Detached idmapped trees, by index in `mounts`.
pub type Trees = Vec<(usize, OwnedFd)>;

pub fn wants_idmap(m: &Mount) -> Option<bool> {
    let opts = m.options().as_deref().unwrap_or(&[]);
    if opts.iter().any(|o| o == "ridmap") {
        Some(true)
    } else if opts.iter().any(|o| o == "idmap") {
        Some(false)
    } else {
        None
    }
}

/// Make every idmapped mount of `spec` as a detached tree.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Trees> {
    let mut trees = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let Some(recursive_map) = wants_idmap(m) else {
            continue;
        };
        let field = format!("mounts[{i}] {:?}", m.destination());
        let tree = prepare_one(spec, bundle, m, recursive_map).with_context(|| field)?;
        trees.push((i, tree));
    }
    Ok(trees)
}

fn prepare_one(spec: &Spec, bundle: &Path, m: &Mount, recursive_map: bool) -> Result<OwnedFd> {
    let opts = m.options().as_deref().unwrap_or(&[]);
    let rbind = opts.iter().any(|o| o == "rbind");
    if m.typ().as_deref() != Some("bind") && !rbind && !opts.iter().any(|o| o == "bind") {
        bail!("options: idmap needs a bind mount");
    }
    let linux = spec.linux().as_ref();
    let (uids, gids) = match (m.uid_mappings(), m.gid_mappings()) {
        (Some(u), Some(g)) => (u.clone(), g.clone()),
        (None, None) => match linux.map(|l| (l.uid_mappings(), l.gid_mappings())) {
            Some((Some(u), Some(g))) => (u.clone(), g.clone()),
            _ => bail!(
                "uidMappings, gidMappings: idmap needs them on the mount or a user namespace with linux.uidMappings"
            ),
        },
        _ => bail!("uidMappings, gidMappings: give both or neither"),
    };
    let src = m
        .source()
        .as_ref()
        .context("source: required for a bind mount")?;
    let src = if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    };
    let userns = userns_with(&uids, &gids)?;
    let c = std::ffi::CString::new(src.as_os_str().as_encoded_bytes())?;
    let rec = if rbind || recursive_map {
        libc::AT_RECURSIVE as u32
    } else {
        0
    };
    // SAFETY: `c` is a NUL-terminated CString alive for the call; the other arguments are integers.
    // The fd returned is checked and owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("source {}: open_tree", src.display()));
    }
    // SAFETY: fd is the new fd open_tree returned, checked >= 0 above; nothing else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    super::fs::mount_setattr(
        &tree,
        MOUNT_ATTR_IDMAP,
        0,
        Some(userns.as_raw_fd()),
        recursive_map,
    )
    .with_context(|| {
        format!(
            "options: idmap: mount_setattr on {} (does its filesystem support idmapped mounts?)",
            src.display()
        )
    })?;
    Ok(tree)
}

/// A user namespace fd with these mappings: a child born in it (clone3 CLONE_NEWUSER) waits
/// while we write its maps and open its namespace, then exits.
fn userns_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    // SAFETY: called from create, single-threaded (checked) and holding no lock the child
    // takes; the child only reads its channel and _exits.
    let child = unsafe {
        super::clone::clone_child(libc::CLONE_NEWUSER as u64, None, &[], |chan| {
            let _ = chan.recv(); // EOF when the parent is done
            libc::_exit(0) // runs nothing of the parent's
        })
    }
    .context("clone a user namespace for the mappings")?;
    let fmt = |maps: &[LinuxIdMapping]| -> String {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect()
    };
    let pid = child.pid;
    let result = (|| -> Result<OwnedFd> {
        std::fs::write(format!("/proc/{pid}/uid_map"), fmt(uids))
            .context("uidMappings: write uid_map")?;
        std::fs::write(format!("/proc/{pid}/gid_map"), fmt(gids))
            .context("gidMappings: write gid_map")?;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .context("open its user namespace")?;
        Ok(f.into())
    })();
    drop(child);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    result
}

/// Write the id maps of the new user namespace of `pid`, as runc (nsexec.c) does: for a
/// rootless caller, `setgroups` is denied first when the gid map is the caller's own gid
/// alone (an unprivileged write of gid_map needs that); each map is written directly, and
/// when the kernel refuses (EPERM: more than the caller's own id) a rootless caller retries
/// through newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
pub fn write_maps(
    pid: i32,
    uids: Option<&[LinuxIdMapping]>,
    gids: Option<&[LinuxIdMapping]>,
) -> Result<()> {
    let rootless = crate::rootless::euid();
    if rootless && gids.is_some_and(own_gid_only) {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .context("linux.gidMappings: write setgroups")?;
    }
    if let Some(m) = uids.filter(|m| !m.is_empty()) {
        write_one(pid, "uid_map", "newuidmap", m, rootless).context("linux.uidMappings")?;
    }
    if let Some(m) = gids.filter(|m| !m.is_empty()) {
        write_one(pid, "gid_map", "newgidmap", m, rootless).context("linux.gidMappings")?;
    }
    Ok(())
}

/// runc's requiresRootOrMappingTool, negated: the gid map is exactly [0 -> egid, size 1].
fn own_gid_only(maps: &[LinuxIdMapping]) -> bool {
    let egid = nix::unistd::getegid().as_raw();
    matches!(maps, [m] if m.container_id() == 0 && m.host_id() == egid && m.size() == 1)
}

fn write_one(
    pid: i32,
    file: &str,
    tool: &str,
    maps: &[LinuxIdMapping],
    rootless: bool,
) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    match std::fs::write(format!("/proc/{pid}/{file}"), &text) {
        Ok(()) => Ok(()),
        Err(e) if rootless && e.raw_os_error() == Some(libc::EPERM) => run_tool(tool, pid, maps),
        Err(e) => Err(e).with_context(|| format!("write {file}")),
    }
}

/// `newuidmap <pid> <inside> <outside> <count>...`, found on PATH (runc's exec.LookPath).
fn run_tool(tool: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let path = find_on_path(tool).with_context(|| {
        format!(
            "the map needs ids other than your own, and {tool} (package uidmap) is not installed"
        )
    })?;
    let mut cmd = std::process::Command::new(&path);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let out = cmd
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("run {}", path.display()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("").trim();
        bail!(
            "{tool} refused the map ({}): {why} (are these ids in your /etc/sub{}id ranges?)",
            out.status,
            if tool == "newuidmap" { "u" } else { "g" }
        );
    }
    Ok(())
}

/// With a new user namespace, `process.user` must name ids its maps hold: setresuid and
/// setgroups refuse an unmapped id with a bare EINVAL, late in init (runc's "cannot set uid
/// to unmapped user in user namespace").
pub fn check_user_mapped(spec: &Spec) -> Result<()> {
    let (Some(user), Some(linux)) = (
        spec.process().as_ref().map(|p| p.user()),
        spec.linux().as_ref(),
    ) else {
        return Ok(());
    };
    let new_user = linux
        .namespaces()
        .iter()
        .flatten()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::User && n.path().is_none());
    let (uids, gids) = (linux.uid_mappings(), linux.gid_mappings());
    let (Some(uids), Some(gids), true) = (uids.as_deref(), gids.as_deref(), new_user) else {
        return Ok(());
    };
    let gid_fields = std::iter::once(("process.user.gid".to_string(), user.gid())).chain(
        user.additional_gids()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, g)| (format!("process.user.additionalGids[{i}]"), *g)),
    );
    let all = std::iter::once(("process.user.uid".to_string(), user.uid()))
        .map(|(f, id)| (f, id, "linux.uidMappings", uids))
        .chain(gid_fields.map(|(f, id)| (f, id, "linux.gidMappings", gids)));
    for (field, id, maps_field, maps) in all {
        if !maps.iter().any(|m| maps_id(m, id)) {
            bail!(
                "{field} {id}: not mapped in the container's user namespace ({maps_field}: {})",
                describe(maps)
            );
        }
    }
    Ok(())
}

fn maps_id(m: &LinuxIdMapping, id: u32) -> bool {
    (m.container_id() as u64..m.container_id() as u64 + m.size() as u64).contains(&(id as u64))
}

/// `0-999 -> host 100000-100999` for each mapping, as a reader of the error wants them.
fn describe(maps: &[LinuxIdMapping]) -> String {
    let range = |start: u32, size: u32| match size {
        1 => start.to_string(),
        n => format!("{start}-{}", start as u64 + n as u64 - 1),
    };
    maps.iter()
        .map(|m| {
            format!(
                "{} -> host {}",
                range(m.container_id(), m.size()),
                range(m.host_id(), m.size())
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
