//! What the host has, so cases can compare with it or skip saying what is missing.

use std::path::Path;

pub struct Host {
    /// /proc/self/ns/* link targets of the suite itself.
    pub ns: Vec<(String, String)>,
    pub cgroup2: bool,
    pub apparmor: bool,
    pub selinux: bool,
    pub cpus: usize,
}

impl Host {
    pub fn detect() -> Host {
        let ns = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
            .iter()
            .filter_map(|n| {
                let t = std::fs::read_link(format!("/proc/self/ns/{n}")).ok()?;
                Some((n.to_string(), t.to_string_lossy().into_owned()))
            })
            .collect();
        Host {
            ns,
            cgroup2: Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            apparmor: std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
                .map(|s| s.trim() == "Y")
                .unwrap_or(false),
            selinux: Path::new("/sys/fs/selinux/enforce").exists(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    pub fn ns(&self, name: &str) -> &str {
        self.ns
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, t)| t.as_str())
    }

    /// The host directory of `pid`'s cgroup for `controller` ("" for the v2 hierarchy), or None
    /// when this host has no hierarchy for it.
    pub fn cgroup_dir(&self, pid: i64, controller: &str) -> Option<std::path::PathBuf> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            if self.cgroup2 {
                if ctrls.is_empty() {
                    return Some(Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/')));
                }
            } else if ctrls.split(',').any(|c| c == controller) {
                let mount = Path::new("/sys/fs/cgroup").join(ctrls);
                let mount = if mount.exists() {
                    mount
                } else {
                    Path::new("/sys/fs/cgroup").join(controller)
                };
                return Some(mount.join(path.trim_start_matches('/')));
            }
        }
        None
    }
}
