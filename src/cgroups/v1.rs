//! cgroup v1 specifics. Each v1 hierarchy is one `CgroupDir` whose `hierarchy` is the
//! controllers field of /proc/self/cgroup ("memory", "cpu,cpuacct", "name=systemd").
//! Resource limits (a later issue) go here, keyed by the controllers of the dir.

use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

pub fn has_controller(controllers: &str, name: &str) -> bool {
    controllers.split(',').any(|c| c == name)
}

/// Prepare a directory carrack has just created (called parents first).
pub fn init_created(controllers: &str, dir: &Path) -> Result<()> {
    if has_controller(controllers, "cpuset") {
        inherit_cpuset(dir)?;
    }
    Ok(())
}

/// A new v1 cpuset starts with empty cpus/mems (unless cgroup.clone_children is set), and the
/// kernel refuses tasks into it (ENOSPC), so copy the parent's values.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().context("cpuset dir has no parent")?;
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        let cur = fs::read_to_string(&own).with_context(|| format!("read {}", own.display()))?;
        if !cur.trim().is_empty() {
            continue;
        }
        let from = parent.join(file);
        let val = fs::read_to_string(&from).with_context(|| format!("read {}", from.display()))?;
        super::write_file(&own, val.trim()).with_context(|| format!("write {}", own.display()))?;
    }
    Ok(())
}
