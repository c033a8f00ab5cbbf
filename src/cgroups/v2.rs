//! cgroup v2 (unified hierarchy) specifics: on a pure v2 host the only `CgroupDir`; on a hybrid
//! host the controller-less cgroup2 at /sys/fs/cgroup/unified, kept in step with the v1 dirs.
//! Resource limits (a later issue) must first enable controllers in the ancestors'
//! cgroup.subtree_control; that belongs here.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The `hierarchy` name of the v2 dir.
pub const HIERARCHY: &str = "unified";

/// Kill the whole subtree atomically with cgroup.kill (Linux 5.14+): unlike a pid-by-pid
/// kill, forks racing with it cannot escape. Returns false when the kernel lacks the file or
/// the dir is gone.
pub fn kill(dir: &Path) -> Result<bool> {
    let f = dir.join("cgroup.kill");
    match super::write_file(&f, "1") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("write {}", f.display())),
    }
}

/// O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP).
pub fn open_dir(dir: &Path) -> Result<OwnedFd> {
    let f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .with_context(|| format!("open {}", dir.display()))?;
    Ok(f.into())
}
