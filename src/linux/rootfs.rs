//! The container's root: propagation, the rootfs bind, pivot_root (or MS_MOVE + chroot) and
//! `root.readonly`.

use anyhow::{bail, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
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

/// First step in the new mount namespace: set the tree's propagation and make the rootfs a
/// mount point of its own (pivot_root needs one).
pub fn prepare(rootfs: &Path, prop: MsFlags) -> Result<()> {
    // Shared propagation for the whole tree would leak container mounts to the host: the
    // tree itself goes slave, and the new root gets `prop` after pivot_root (`finish`): the
    // kernel refuses pivot_root(".", ".") on a shared mount, and a bind from an unbindable one.
    let tree = if after_pivot(prop) {
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    } else {
        prop
    };
    mount(None::<&str>, "/", None::<&str>, tree, None::<&str>)
        .context("linux.rootfsPropagation: set propagation of /")?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {}", rootfs.display()))?;
    Ok(())
}

/// After pivot_root (or the move): a shared `linux.rootfsPropagation` on the new `/`.
pub fn finish(prop: MsFlags) -> Result<()> {
    if after_pivot(prop) {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .context("linux.rootfsPropagation: set propagation of the new /")?;
    }
    Ok(())
}

/// Propagations that cannot be in place before pivot_root.
fn after_pivot(prop: MsFlags) -> bool {
    prop.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE)
}

/// Make `rootfs` the new `/` and detach the old root.
pub fn pivot(rootfs: &Path) -> Result<()> {
    let old_root = std::fs::File::open("/").context("open /")?;
    let new_root = std::fs::File::open(rootfs).context("open rootfs")?;
    fchdir(&new_root).context("chdir rootfs")?;
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
/// is impossible).
pub fn move_root(rootfs: &Path) -> Result<()> {
    chdir(rootfs).context("chdir rootfs")?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .context("--no-pivot: move rootfs to /")?;
    chroot(".").context("--no-pivot: chroot")?;
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
