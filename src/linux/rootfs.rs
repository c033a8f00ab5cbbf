//! The container's root: propagation, the rootfs bind, pivot_root (or MS_MOVE + chroot) and
//! `root.readonly`.

use crate::error::{Opt, OptContext};
use crate::linux::fs::fd_path;
use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `linux.rootfsPropagation` to mount flags; runc's default is rslave, so host mounts still
/// propagate in while nothing the container mounts leaks out.
pub fn propagation(value: Option<&str>) -> Result<MsFlags> {
    Ok(match value.unwrap_or("") {
        "" | "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "private" => MsFlags::MS_PRIVATE,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        other => bail!("linux.rootfsPropagation {other:?}: unknown propagation"),
    })
}

/// First step in the new mount namespace, as runc's prepareRoot: give the whole tree the
/// configured propagation, make only the mount holding the rootfs private, and make the rootfs
/// a mount point of its own (pivot_root needs one). Returns the new mount's root.
///
/// With `rshared` the tree stays in the host's peer groups, so a bind of a shared host
/// directory joins the host's peer group and what the container mounts under it reaches the
/// host (Kubernetes' Bidirectional propagation; containerd sets rshared for it). The default
/// `rslave` makes every bind a slave: host mounts propagate in, nothing goes out.
///
/// Under a new user namespace the path may be out of reach (linux/mount_sources.rs): `given`
/// then holds the rootfs and its mount as fds the parent opened, and the rootfs is cloned
/// with open_tree and attached on itself, which binds it as mount(2) would, with an fd of
/// the new mount's root.
pub fn prepare(rootfs: &Path, prop: MsFlags, given: Option<(&OwnedFd, &OwnedFd)>) -> Result<File> {
    // A bind from an unbindable mount is refused: the tree goes rslave and `finish` makes the
    // new root unbindable after pivot_root.
    let tree = if prop.contains(MsFlags::MS_UNBINDABLE) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    mount(None::<&str>, "/", None::<&str>, tree, None::<&str>)
        .context("linux.rootfsPropagation: set propagation of /")?;
    let field = || format!("root.path {rootfs:?}");
    if let Some((root, root_mount)) = given {
        make_private(root_mount).with_context(field)?;
        return bind_onto_itself(root).with_context(|| format!("{}: bind", field()));
    }
    let mount_root = open_path(rootfs)
        .and_then(mount_root_of)
        .with_context(field)?;
    make_private(&mount_root).with_context(field)?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {}", rootfs.display()))?;
    File::open(rootfs).context("open rootfs")
}

/// The recursive bind of the directory `dir` onto itself: a clone of its tree, attached on
/// it. Returns the fd of the attached clone's root.
fn bind_onto_itself(dir: &OwnedFd) -> Result<File> {
    use super::idmap::{MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH};
    const OPEN_TREE_CLONE: u32 = 1;
    let flags = OPEN_TREE_CLONE | libc::AT_RECURSIVE as u32 | libc::AT_EMPTY_PATH as u32;
    // SAFETY: the path is a NUL-terminated empty string; the fd returned is owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            dir.as_raw_fd(),
            c"".as_ptr(),
            flags | libc::O_CLOEXEC as u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open_tree");
    }
    // SAFETY: the kernel just gave us this fd.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    // SAFETY: both paths are NUL-terminated empty strings naming the fds themselves.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            dir.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("move_mount");
    }
    Ok(tree.into())
}

/// Make the mount whose root is `mount_root` private if it is shared: the rootfs bind must
/// not propagate to the host, and pivot_root refuses a new root whose parent mount is shared.
fn make_private(mount_root: &OwnedFd) -> Result<()> {
    let shared = match shared_by_statmount(mount_root) {
        Some(shared) => shared,
        None => {
            let id = where_is(mount_root)?.mnt_id;
            let info =
                crate::linux::fs::read_text("/proc/self/mountinfo").context("read mountinfo")?;
            is_shared(&info, id)
        }
    };
    if shared {
        mount(
            None::<&str>,
            fd_path(mount_root).as_str(),
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .context("make its parent mount private")?;
    }
    Ok(())
}

fn open_path(path: &Path) -> Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: `c` is NUL-terminated; the fd returned is owned below.
    let fd = unsafe { libc::openat(libc::AT_FDCWD, c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open");
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An O_PATH fd of the root of the mount that holds `start`: walk up with `..` until the
/// next step would change mounts (or `start` is on `/`).
pub fn mount_root_of(start: OwnedFd) -> Result<OwnedFd> {
    let mut cur = start;
    let mut here = where_is(&cur)?;
    loop {
        // SAFETY: the name is NUL-terminated; the fd returned is owned below.
        let fd = unsafe {
            libc::openat(
                cur.as_raw_fd(),
                c"..".as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("open ..");
        }
        // SAFETY: the kernel just gave us this fd.
        let up = unsafe { OwnedFd::from_raw_fd(fd) };
        let above = where_is(&up)?;
        let same_dir = above.dev == here.dev && above.ino == here.ino;
        if same_dir || above.mnt_id != here.mnt_id {
            return Ok(cur);
        }
        (cur, here) = (up, above);
    }
}

/// Where an fd is: its inode, and the mount it is on.
struct Place {
    dev: (u32, u32),
    ino: u64,
    mnt_id: u64,
}

/// `Place` of `fd` in one statx (STATX_MNT_ID, Linux 5.8) instead of fstat and a read of
/// /proc/self/fdinfo (four syscalls), which older kernels still get.
fn where_is(fd: &OwnedFd) -> Result<Place> {
    let st = statx_fd(fd, libc::STATX_INO | libc::STATX_MNT_ID).context("statx")?;
    let mnt_id = match st.stx_mask & libc::STATX_MNT_ID {
        0 => mount_id(fd)?,
        _ => st.stx_mnt_id,
    };
    Ok(Place {
        dev: (st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mnt_id,
    })
}

/// statx(2) of what `fd` names, asking for `mask`.
fn statx_fd(fd: &OwnedFd, mask: u32) -> std::io::Result<libc::statx> {
    // SAFETY: all-zero bytes are a valid statx (integers only).
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a NUL-terminated literal and `st` a live local the kernel fills;
    // the other arguments are integers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_statx,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            mask,
            &mut st as *mut libc::statx,
        )
    };
    match r {
        0 => Ok(st),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// The mount id of the mount `fd` is on, from /proc/self/fdinfo.
fn mount_id(fd: &OwnedFd) -> Result<u64> {
    let info = crate::linux::fs::read_text(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .context("read fdinfo")?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .context("fdinfo: no mnt_id")
}

/// Whether the mount `fd` is on is shared, by statx and statmount(2) (Linux 6.8): the kernel
/// generates /proc/self/mountinfo for every mount of the namespace, 50-180 us of init's
/// critical path here, to read one line. None where either call is missing or refused.
fn shared_by_statmount(fd: &OwnedFd) -> Option<bool> {
    const STATX_MNT_ID_UNIQUE: u32 = 0x4000;
    const SYS_STATMOUNT: libc::c_long = 457; // one number on every arch carrack builds for
    const STATMOUNT_MNT_BASIC: u64 = 2;
    let st = statx_fd(fd, STATX_MNT_ID_UNIQUE).ok()?;
    if st.stx_mask & STATX_MNT_ID_UNIQUE == 0 {
        return None;
    }
    /// struct mnt_id_req, its first version (24 bytes).
    #[repr(C)]
    struct Req {
        size: u32,
        spare: u32,
        mnt_id: u64,
        param: u64,
    }
    /// struct statmount up to mnt_propagation, padded to the 512 bytes of its fixed part.
    #[repr(C)]
    struct StatMount {
        size: u32,
        mnt_opts: u32,
        mask: u64,
        sb: [u32; 6],
        mnt_id: u64,
        mnt_parent_id: u64,
        mnt_ids_old: [u32; 2],
        mnt_attr: u64,
        mnt_propagation: u64,
        rest: [u64; 55],
    }
    let req = Req {
        size: std::mem::size_of::<Req>() as u32,
        spare: 0,
        mnt_id: st.stx_mnt_id,
        param: STATMOUNT_MNT_BASIC,
    };
    // SAFETY: all-zero bytes are a valid StatMount (integers only).
    let mut sm: StatMount = unsafe { std::mem::zeroed() };
    // SAFETY: `req` and `sm` are live locals of the kernel's layouts; the size passed is
    // sm's, so the kernel writes within it.
    let r = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            &req as *const Req,
            &mut sm as *mut StatMount,
            std::mem::size_of::<StatMount>(),
            0,
        )
    };
    if r != 0 || sm.mask & STATMOUNT_MNT_BASIC == 0 || sm.mnt_id != st.stx_mnt_id {
        return None;
    }
    Some(sm.mnt_propagation & libc::MS_SHARED != 0)
}

/// Whether mount `id` has a `shared:N` optional field in mountinfo `info`.
fn is_shared(info: &str, id: u64) -> bool {
    info.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.first().and_then(|x| x.parse::<u64>().ok()) == Some(id))
        .is_some_and(|f| {
            f.iter()
                .skip(6)
                .take_while(|x| **x != "-")
                .any(|x| x.starts_with("shared:"))
        })
}

/// After pivot_root (or the move): a shared `linux.rootfsPropagation` on the new `/`.
pub fn finish(prop: MsFlags) -> Result<()> {
    if after_pivot(prop) {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .context("linux.rootfsPropagation: set propagation of the new /")?;
    }
    Ok(())
}

/// Propagations the new `/` gets again after pivot_root: pivot_root keeps the rootfs bind
/// private (its parent mount was made private), and unbindable could not be set before.
fn after_pivot(prop: MsFlags) -> bool {
    prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE)
}

/// Make `new_root` (the rootfs mount `prepare` made) the new `/` and detach the old root.
pub fn pivot(new_root: &File) -> Result<()> {
    let old_root = File::open("/").context("open /")?;
    fchdir(new_root).context("chdir rootfs")?;
    // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then
    // removes the old root without needing a directory for it inside the rootfs.
    pivot_root(".", ".").context("pivot_root")?;
    // Stand in the old root: from the new root's cwd, "." would name the container's own
    // tree, and rslave on it would undo the propagation the config asked for.
    fchdir(&old_root).context("chdir old root")?;
    // Keep the unmount from propagating to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make old root rslave")?;
    umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// `--no-pivot`: move the rootfs over / and chroot into it (for ramfs roots where pivot_root
/// is impossible). The old root's mounts stay in the namespace under the chroot, so first the
/// host's procfs and sysfs are detached (runc's msMoveRoot): while a full procfs is in the
/// namespace, a process that unshares a user, mount and pid namespace may mount a fresh,
/// unmasked one (the kernel's "too revealing" check passes).
pub fn move_root(rootfs: &Path, new_root: &File) -> Result<()> {
    let info = crate::linux::fs::read_text("/proc/self/mountinfo").context("read mountinfo")?;
    for p in host_pseudo_fs(&info, rootfs) {
        hide(&p).with_opt_context(|| {
            Opt::NoPivot.said(format!(": detach the host's {}", p.display()))
        })?;
    }
    // Only / itself (its subtree keeps the propagation the config asked for): a move onto a
    // shared / would propagate the rootfs to the host's peers.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .opt_context(Opt::NoPivot.said(": make / a slave"))?;
    // By the fd: the host's procfs is gone, and under a user namespace the path may be out
    // of reach.
    fchdir(new_root).context("chdir rootfs")?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .opt_context(Opt::NoPivot.said(": move rootfs to /"))?;
    chroot(".").opt_context(Opt::NoPivot.said(": chroot"))?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// Mount points of whole procfs and sysfs mounts outside `rootfs`, from mountinfo `info`.
fn host_pseudo_fs(info: &str, rootfs: &Path) -> Vec<std::path::PathBuf> {
    info.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            let (root, point, fstype) = (f.get(3)?, f.get(4)?, f.get(dash + 1)?);
            let point = std::path::PathBuf::from(crate::linux::fs::unescape_mountinfo(point));
            let pseudo = *fstype == "proc" || *fstype == "sysfs";
            (pseudo && *root == "/" && !point.starts_with(rootfs)).then_some(point)
        })
        .collect()
}

/// Detach the mount at `p`, its unmount kept from propagating to the host; where the kernel
/// refuses (a mount locked by a user namespace) cover it with an empty tmpfs.
fn hide(p: &Path) -> Result<()> {
    match mount(
        None::<&str>,
        p,
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    ) {
        // Gone with a parent detached before it.
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        r => r.context("make it rslave")?,
    }
    match umount2(p, MntFlags::MNT_DETACH) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => mount(
            Some("tmpfs"),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0"),
        )
        .context("cover it with a tmpfs"),
        Err(e) => Err(e).context("unmount"),
    }
}

/// Without a mount namespace of its own: chroot into the rootfs and mount nothing (the
/// runtime's mount namespace is the host's; see config::validate).
pub fn chroot_only(rootfs: &Path) -> Result<()> {
    chdir(rootfs).context("chdir rootfs")?;
    chroot(".").context("chroot into root.path")?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// `root.readonly`: remount / read-only, keeping the flags the mount already has (the kernel
/// refuses to clear locked flags such as nosuid on a remount).
pub fn make_readonly() -> Result<()> {
    let st = nix::sys::statvfs::statvfs("/").context("statvfs /")?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    use nix::sys::statvfs::FsFlags;
    for (f, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.flags().contains(f) {
            flags |= m;
        }
    }
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>).context("root.readonly: remount /")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// statmount's answer is mountinfo's, for shared and private mounts alike (on a kernel
    /// before 6.8 there is no answer, and the caller reads mountinfo).
    #[test]
    fn statmount_sees_the_propagation_mountinfo_shows() {
        let info = crate::linux::fs::read_text("/proc/self/mountinfo").unwrap();
        let release = nix::sys::utsname::uname().unwrap();
        let release = release.release().to_string_lossy().into_owned();
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>());
        let version = (nums.next().unwrap().unwrap(), nums.next().unwrap().unwrap());
        let mut seen = 0;
        for point in ["/", "/proc", "/sys", "/dev", "/sys/fs/cgroup"] {
            let Ok(fd) = open_path(Path::new(point)).and_then(mount_root_of) else {
                continue;
            };
            let Some(shared) = shared_by_statmount(&fd) else {
                assert!(
                    version < (6, 8),
                    "no statmount answer for {point} on Linux {release}"
                );
                return;
            };
            let id = where_is(&fd).unwrap().mnt_id;
            assert_eq!(shared, is_shared(&info, id), "{point} (mount {id})");
            seen += 1;
        }
        assert!(seen > 0);
        // A shared mount and the same made private, in a mount namespace of a thread's own
        // (gone with the thread): the host's mounts may all be private.
        if !nix::unistd::geteuid().is_root() {
            return crate::testutil::skip("not-root", "a mount namespace of a thread's own");
        }
        let dir = TempDir::new();
        let d = dir.0.clone();
        let joined = std::thread::spawn(move || {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .unwrap();
            mount(
                Some("tmpfs"),
                &d,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .unwrap();
            for prop in [MsFlags::MS_SHARED, MsFlags::MS_PRIVATE] {
                mount(None::<&str>, &d, None::<&str>, prop, None::<&str>).unwrap();
                let fd = open_path(&d).unwrap();
                let info = crate::linux::fs::read_text("/proc/thread-self/mountinfo").unwrap();
                let id = where_is(&fd).unwrap().mnt_id;
                assert_eq!(is_shared(&info, id), prop == MsFlags::MS_SHARED);
                assert_eq!(
                    shared_by_statmount(&fd),
                    Some(prop == MsFlags::MS_SHARED),
                    "{prop:?}"
                );
            }
        })
        .join();
        // The mount went with the thread's namespace; the directory goes with `dir`, also
        // when the thread failed.
        joined.unwrap();
    }

    /// A directory of the test's own, removed on drop (after a failure too).
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let d = std::env::temp_dir().join(format!("carrack-statmount-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    #[test]
    fn shared_is_read_from_the_optional_fields_of_the_right_mount() {
        let info = "22 1 0:21 / /a rw - tmpfs t rw\n\
                    23 22 0:22 / /b rw shared:7 master:2 - tmpfs shared:9 rw\n\
                    24 22 0:23 / /c rw master:3 - tmpfs t rw\n";
        assert!(!is_shared(info, 22));
        assert!(is_shared(info, 23));
        assert!(!is_shared(info, 24));
        assert!(!is_shared(info, 99));
    }

    #[test]
    fn host_procfs_and_sysfs_outside_the_rootfs_are_found() {
        let info = "22 1 0:21 / /proc rw - proc proc rw\n\
                    23 1 0:22 / /sys rw - sysfs sysfs rw\n\
                    24 1 0:21 /sys /mnt/part rw - proc proc rw\n\
                    25 1 0:23 / /r/oot/proc rw - proc proc rw\n\
                    26 1 0:24 / /tmp/a\\040b rw shared:3 - proc proc rw\n\
                    27 1 0:25 / /tmp rw - tmpfs proc rw\n";
        let got = host_pseudo_fs(info, Path::new("/r/oot"));
        let want: Vec<std::path::PathBuf> = ["/proc", "/sys", "/tmp/a b"]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            crate::linux::fs::unescape_mountinfo("a\\134b\\011\\9"),
            "a\\b\t\\9"
        );
    }

    #[test]
    fn mount_root_of_a_path_is_its_mount_point() {
        let root = mount_root_of(open_path(Path::new("/proc/self/fd")).unwrap()).unwrap();
        assert_eq!(
            std::fs::read_link(fd_path(&root)).unwrap(),
            Path::new("/proc")
        );
        let root = mount_root_of(open_path(Path::new("/")).unwrap()).unwrap();
        assert_eq!(std::fs::read_link(fd_path(&root)).unwrap(), Path::new("/"));
    }
}
