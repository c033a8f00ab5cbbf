//! `linux.namespaces`: which to create (clone3 flags), which to join (setns by fd, user first),
//! and the two that init must unshare itself (cgroup: after it is placed in its cgroup; time:
//! offsets can only be written before any process enters).

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::{AsFd, OwnedFd};

pub struct Plan {
    /// CLONE_NEW* flags for clone3.
    pub clone_flags: u64,
    /// Namespaces to join, user namespace first; opened by the parent before clone.
    pub join: Vec<(OwnedFd, nix::sched::CloneFlags, String)>,
    /// A pid namespace to join: setns'd by the parent, so init is born inside it.
    pub join_pid: Option<OwnedFd>,
    pub new_user: bool,
    pub new_net: bool,
    pub new_cgroup: bool,
    pub new_time: bool,
    pub new_uts: bool,
    /// exec into a container without a mount namespace: its init's root, to chroot into
    /// (joining a mount namespace is what sets the root otherwise).
    pub chroot: Option<OwnedFd>,
}

impl Plan {
    /// Init gets a mount namespace of its own (new or joined), not the runtime's.
    pub fn own_mount_ns(&self) -> bool {
        let f = nix::sched::CloneFlags::CLONE_NEWNS;
        self.clone_flags & f.bits() as u64 != 0 || self.join.iter().any(|(_, x, _)| *x == f)
    }

    /// Init ends up in a user namespace other than the host's (new or joined).
    pub fn enters_user(&self) -> bool {
        self.new_user
            || self
                .join
                .iter()
                .any(|(_, f, _)| *f == nix::sched::CloneFlags::CLONE_NEWUSER)
    }
}

pub fn flag(t: LinuxNamespaceType) -> nix::sched::CloneFlags {
    use nix::sched::CloneFlags as C;
    match t {
        LinuxNamespaceType::Mount => C::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => C::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => C::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => C::CLONE_NEWIPC,
        LinuxNamespaceType::User => C::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => C::CLONE_NEWPID,
        LinuxNamespaceType::Network => C::CLONE_NEWNET,
        LinuxNamespaceType::Time => C::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

pub fn plan(namespaces: &[LinuxNamespace]) -> Result<Plan> {
    let mut p = Plan {
        clone_flags: 0,
        join: Vec::new(),
        join_pid: None,
        new_user: false,
        new_net: false,
        new_cgroup: false,
        new_time: false,
        new_uts: false,
        chroot: None,
    };
    for (i, ns) in namespaces.iter().enumerate() {
        let t = ns.typ();
        if let Some(path) = ns.path() {
            let fd = std::fs::File::open(path)
                .with_context(|| format!("linux.namespaces[{i}].path {}", path.display()))?;
            let fd: OwnedFd = fd.into();
            if t == LinuxNamespaceType::Pid {
                p.join_pid = Some(fd);
            } else {
                p.join.push((
                    fd,
                    flag(t),
                    format!("linux.namespaces[{i}].path {}", path.display()),
                ));
            }
            continue;
        }
        match t {
            LinuxNamespaceType::Cgroup => p.new_cgroup = true,
            LinuxNamespaceType::Time => p.new_time = true,
            _ => p.clone_flags |= flag(t).bits() as u64,
        }
        p.new_user |= t == LinuxNamespaceType::User;
        p.new_net |= t == LinuxNamespaceType::Network;
        p.new_uts |= t == LinuxNamespaceType::Uts;
    }
    // Joining a user namespace first gives the privileges needed to join the others.
    p.join
        .sort_by_key(|(_, f, _)| *f != nix::sched::CloneFlags::CLONE_NEWUSER);
    Ok(p)
}

/// The file name of a namespace type under /proc/<pid>/ns.
fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// exec: join every namespace of the running container's init (`pid`, started at `start`),
/// user first. Those we already share are skipped (setns into one's own user namespace is
/// EINVAL). The joins go through a pidfd of init (setns(2) takes one since Linux 5.8), so a
/// pid reused after init died can never hand us another process's namespaces.
///
/// Only a user namespace and the namespaces the config names by path can be ours: the others
/// were made new for the container. Comparing those cost two stats of /proc each (2% of an
/// exec); were we inside one after all, joining it again changes nothing.
pub fn plan_exec(pid: i32, start: u64, namespaces: &[LinuxNamespace]) -> Result<Plan> {
    use std::os::unix::fs::MetadataExt;
    let init = crate::linux::pidfd::PidFd::open(pid, start)?;
    let mut p = plan(&[])?;
    for ns in namespaces {
        let t = ns.typ();
        let theirs = format!("/proc/{pid}/ns/{}", proc_name(t));
        let ours = format!("/proc/self/ns/{}", proc_name(t));
        let may_be_ours = t == LinuxNamespaceType::User || ns.path().is_some();
        let same = may_be_ours
            && match (std::fs::metadata(&theirs), std::fs::metadata(&ours)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
        if same {
            continue;
        }
        let fd = init.try_clone()?;
        if t == LinuxNamespaceType::Pid {
            p.join_pid = Some(fd);
        } else {
            p.join.push((fd, flag(t), theirs));
        }
    }
    // The comparisons above read /proc/<pid>: still the same process now, so they held.
    if !init.alive() {
        return Err(crate::error::Kind::NotRunning.into());
    }
    p.join
        .sort_by_key(|(_, f, _)| *f != nix::sched::CloneFlags::CLONE_NEWUSER);
    if !namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Mount)
    {
        let root = format!("/proc/{pid}/root");
        let fd = std::fs::File::open(&root).with_context(|| format!("open {root}"))?;
        p.chroot = Some(fd.into());
    }
    Ok(p)
}

/// Init side: join every namespace named by path.
pub fn join_all(plan: &Plan) -> Result<()> {
    for (fd, flag, field) in &plan.join {
        setns_retrying(fd.as_fd(), *flag).with_context(|| format!("{field}: setns"))?;
    }
    if let Some(root) = &plan.chroot {
        nix::unistd::fchdir(root).context("enter the container's root")?;
        nix::unistd::chroot(".").context("chroot into the container's root")?;
        nix::unistd::chdir("/").context("chdir /")?;
    }
    Ok(())
}

/// setns, retried on EPERM for up to 200 ms. Joining through a pidfd checks ptrace access to
/// the target, and a container's init is not dumpable from the end of its setup until its
/// execve: an exec by a rootless user right after `start` returned could land in that window
/// (1 in 6 runs of oci-tests' rootless cli_exec).
fn setns_retrying(fd: std::os::fd::BorrowedFd, flag: nix::sched::CloneFlags) -> nix::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
    loop {
        match nix::sched::setns(fd, flag) {
            Err(nix::errno::Errno::EPERM) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(1))
            }
            r => return r,
        }
    }
}

/// `linux.timeOffsets` for a new time namespace: unshare, then write the offsets before exec
/// moves init into it.
pub fn unshare_time(offsets: &[(String, i64, u32)]) -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
        libc::CLONE_NEWTIME,
    ))
    .context("linux.namespaces time: unshare")?;
    let mut text = String::new();
    for (clock, secs, nanos) in offsets {
        let id = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => anyhow::bail!("linux.timeOffsets {other:?}: unknown clock"),
        };
        text.push_str(&format!("{id} {secs} {nanos}\n"));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text).context("linux.timeOffsets: write")?;
    }
    Ok(())
}
