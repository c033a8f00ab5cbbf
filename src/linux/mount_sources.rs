//! Mount sources under a new user namespace. Init's mapped root (say host uid 100000) cannot
//! traverse a host directory only the host's root may enter (a 0700 root-owned dir holding
//! the bundle or a bind source), so the parent, still the host's root, opens them for it, as
//! runc does for bind sources. The fds must name mounts of init's own mount namespace (bind
//! and move_mount refuse anything else, and the copies there carry the kernel's locks on the
//! host's read-only/nosuid/nodev flags), so the parent resolves each path under
//! /proc/<init>/root after clone3 and sends the O_PATH fds on the channel (`sync::Msg::Sources`).
//! Nothing of this runs without a new user namespace.

use super::mounts::{host_path, parse_options};
use crate::linux::namespaces::Plan;
use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What init gets from the parent, every fd in init's mount namespace.
#[derive(Debug)]
pub struct Sources {
    /// root.path.
    pub root: OwnedFd,
    /// The root of the mount holding root.path (made private for pivot_root when shared).
    pub root_mount: OwnedFd,
    /// Bind sources, by index in `mounts`.
    pub binds: Vec<(usize, OwnedFd)>,
}

/// Whether init needs `Sources`: it creates a user namespace and a mount namespace with it.
pub fn needed(ns: &Plan) -> bool {
    ns.new_user && ns.clone_flags & libc::CLONE_NEWNS as u64 != 0
}

/// Parent, after clone3 and before Go: open root.path and every bind source (but the
/// idmapped ones, already detached trees) inside the mount namespace of init `pid`.
pub fn open(
    pid: i32,
    spec: &Spec,
    rootfs: &Path,
    bundle: &Path,
    idmapped: &[(usize, OwnedFd)],
) -> Result<Sources> {
    let ns_root = std::fs::File::open(format!("/proc/{pid}/root"))
        .context("open the root of init's mount namespace")?;
    // Init's root is ours, copied into its namespace: a host path means the same there.
    let open = |p: &Path| super::fs::open_in_root(ns_root.as_raw_fd(), p, libc::O_PATH);
    let root = open(rootfs).with_context(|| format!("root.path {rootfs:?}: open"))?;
    let root_mount = super::rootfs::mount_root_of(root.try_clone()?)
        .with_context(|| format!("root.path {rootfs:?}"))?;
    let mut binds = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if idmapped.iter().any(|(k, _)| *k == i) || !is_bind(m) {
            continue;
        }
        let Some(src) = m.source() else { continue };
        let src = host_path(bundle, src);
        let fd = open(&src).with_context(|| {
            format!(
                "mounts[{i}] {:?}: source {}",
                m.destination(),
                src.display()
            )
        })?;
        binds.push((i, fd));
    }
    Ok(Sources {
        root,
        root_mount,
        binds,
    })
}

/// As `mounts::mount_one` tells a bind mount: its type, or a bind/rbind option.
fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    let typ = m.typ().as_deref().unwrap_or("");
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    typ == "bind"
        || (opts.is_ok_and(|o| o.flags.contains(MsFlags::MS_BIND))
            && !["cgroup", "cgroup2"].contains(&typ))
}

impl Sources {
    /// The messages that carry them: (names, fds), at most `sync::MAX_FDS` fds each.
    pub fn messages(&self) -> Vec<(Vec<String>, Vec<RawFd>)> {
        let all: Vec<(String, RawFd)> = [
            ("root".to_string(), self.root.as_raw_fd()),
            ("rootmnt".to_string(), self.root_mount.as_raw_fd()),
        ]
        .into_iter()
        .chain(
            self.binds
                .iter()
                .map(|(i, fd)| (i.to_string(), fd.as_raw_fd())),
        )
        .collect();
        all.chunks(crate::sync::MAX_FDS)
            .map(|c| c.iter().cloned().unzip())
            .collect()
    }

    /// Init: put them together again from the messages received.
    pub fn assemble(parts: Vec<(Vec<String>, Vec<OwnedFd>)>) -> Result<Sources> {
        let (mut root, mut root_mount, mut binds) = (None, None, Vec::new());
        for (names, fds) in parts {
            if names.len() != fds.len() {
                bail!(
                    "init channel: {} mount sources named, {} fds",
                    names.len(),
                    fds.len()
                );
            }
            for (name, fd) in names.into_iter().zip(fds) {
                match name.as_str() {
                    "root" => root = Some(fd),
                    "rootmnt" => root_mount = Some(fd),
                    i => binds.push((i.parse().context("init channel: mount source name")?, fd)),
                }
            }
        }
        Ok(Sources {
            root: root.context("init channel: no root.path fd among the mount sources")?,
            root_mount: root_mount.context("init channel: no fd of the rootfs's mount")?,
            binds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_survive_the_trip_in_batches() {
        let f = || OwnedFd::from(std::fs::File::open("/").unwrap());
        let s = Sources {
            root: f(),
            root_mount: f(),
            binds: (0..600).map(|i| (i * 2, f())).collect(),
        };
        let msgs = s.messages();
        assert_eq!(msgs.len(), 3);
        assert!(msgs
            .iter()
            .all(|(n, fds)| n.len() == fds.len() && fds.len() <= 250));
        // SAFETY: every fd is owned by `s`, alive until the end of the test.
        let borrow = |fd: RawFd| unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let dup = |fd: RawFd| nix::unistd::dup(borrow(fd)).unwrap();
        let parts = msgs
            .into_iter()
            .map(|(n, fds)| (n, fds.into_iter().map(dup).collect()))
            .collect();
        let back = Sources::assemble(parts).unwrap();
        assert_eq!(back.binds.len(), 600);
        assert_eq!(back.binds[599].0, 1198);
        let bad = vec![(vec!["root".to_string()], vec![])];
        assert!(Sources::assemble(bad).is_err());
    }
}
