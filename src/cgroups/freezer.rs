//! Freeze and thaw: the v1 freezer hierarchy where there is one (a hybrid host uses it, as
//! runc), else cgroup v2's cgroup.freeze, which needs no controller.

use super::write::{describe, read};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a freeze may take before it is undone and reported.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freezer<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    super::write_file(&dir.join(file), value).map_err(|e| {
        anyhow::anyhow!(
            "write {value} to {}: {}",
            dir.join(file).display(),
            describe(&e)
        )
    })
}

/// "frozen 1" in cgroup.events.
fn v2_frozen(dir: &Path) -> bool {
    read(dir, "cgroup.events").is_ok_and(|t| t.lines().any(|l| l.trim() == "frozen 1"))
}

impl Freezer<'_> {
    pub fn is_frozen(&self) -> bool {
        match self {
            // `list` asks this of every container: one read into the stack, no String.
            Freezer::V1(d) => {
                let mut buf = [0u8; 64];
                crate::linux::fs::read_small(&d.join("freezer.state"), &mut buf)
                    .is_ok_and(|s| s.trim_ascii() == b"FROZEN")
            }
            Freezer::V2(d) => v2_frozen(d),
        }
    }

    /// Whether the cgroup can be frozen while one of its tasks shows `task_state` in
    /// /proc/<pid>/stat. A v1 freezer's frozen tasks are all reported 'D' (in
    /// `__refrigerator`, TASK_UNINTERRUPTIBLE; since 6.1 TASK_FROZEN, which the kernel
    /// reports as uninterruptible), so any other letter rules FROZEN out without reading
    /// freezer.state. A v2 frozen task sleeps interruptibly ('S'), like any other.
    pub fn may_be_frozen_with(&self, task_state: char) -> bool {
        match self {
            Freezer::V1(_) => task_state == 'D',
            Freezer::V2(_) => true,
        }
    }

    /// The cgroup's directory.
    pub fn dir(&self) -> &Path {
        match self {
            Freezer::V1(d) | Freezer::V2(d) => d,
        }
    }

    /// `is_frozen`, the file opened relative to `parent`, an fd of the directory above the
    /// cgroup's (`list` opens it once for the containers that share it: a walk of two
    /// components instead of the whole path).
    pub fn is_frozen_in(&self, parent: std::os::fd::RawFd) -> bool {
        let Some(name) = self.dir().file_name() else {
            return self.is_frozen();
        };
        let mut buf = [0u8; 256];
        let file = match self {
            Freezer::V1(_) => "freezer.state",
            Freezer::V2(_) => "cgroup.events",
        };
        let Ok(text) =
            crate::linux::fs::read_small_at(parent, &Path::new(name).join(file), &mut buf)
        else {
            return false;
        };
        match self {
            Freezer::V1(_) => text.trim_ascii() == b"FROZEN",
            Freezer::V2(_) => text
                .split(|b| *b == b'\n')
                .any(|l| l.trim_ascii() == b"frozen 1"),
        }
    }

    /// Frozen or on the way (v1 FREEZING, v2 cgroup.freeze 1); false if the dir is gone.
    pub fn freeze_requested(&self) -> bool {
        match self {
            Freezer::V1(d) => read(d, "freezer.state").is_ok_and(|s| s != "THAWED"),
            Freezer::V2(d) => read(d, "cgroup.freeze").is_ok_and(|s| s == "1"),
        }
    }

    /// Ask, then wait until every task is frozen. v1 sits in FREEZING while a task cannot be
    /// stopped yet (e.g. in an uninterruptible sleep): the request is repeated, as runc does.
    /// On timeout the cgroup is thawed again so it is not left half frozen.
    pub fn freeze(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match self {
                Freezer::V1(d) => write(d, "freezer.state", "FROZEN")?,
                Freezer::V2(d) => write(d, "cgroup.freeze", "1")?,
            }
            if self.is_frozen() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.thaw();
                bail!(
                    "cgroup {} did not freeze within {timeout:?}",
                    self.dir().display()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    pub fn thaw(&self) -> Result<()> {
        match self {
            Freezer::V1(d) => write(d, "freezer.state", "THAWED"),
            Freezer::V2(d) => write(d, "cgroup.freeze", "0"),
        }
    }
}
