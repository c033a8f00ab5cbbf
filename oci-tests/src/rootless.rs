//! Rootless mode (`--rootless`): the suite stays root (it builds bundles and reads the host
//! side, cgroups included), but every runtime command runs as a throwaway unprivileged user
//! `carrack-test-rl-<pid>-oci` (made with subordinate ids by useradd, removed at exit), through
//! `setpriv`. Each bundle starts from runc's rootless default config (`runc spec --rootless`)
//! and is owned by that user, as an image a rootless user unpacked.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl User {
    /// useradd a user of our own (after removing those of suite runs that were killed).
    pub fn create() -> Result<User, String> {
        sweep_dead_users();
        let name = format!("carrack-test-rl-{}-oci", std::process::id());
        let out = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin"])
            .args(["--home-dir", "/nonexistent", "--user-group", &name])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "useradd: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let id = |flag: &str| -> Result<u32, String> {
            let out = Command::new("id")
                .args([flag, &name])
                .output()
                .map_err(|e| e.to_string())?;
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|e| format!("id {flag} {name}: {e}"))
        };
        let user = User {
            uid: id("-u")?,
            gid: id("-g")?,
            name,
        };
        Ok(user)
    }

    /// End what the user still runs (only this run's user: its containers' processes after a
    /// case's delete failed), then userdel, which drops its /etc/subuid and /etc/subgid lines.
    pub fn remove(&self) {
        for _ in 0..100 {
            let left = processes_of(self.uid);
            if left.is_empty() {
                break;
            }
            for pid in left {
                // SAFETY: kill(2); the uid belongs to this run's user alone.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = Command::new("userdel").arg(&self.name).output();
    }

    /// `setpriv` to this user, then `program`: the environment is kept (a case's own
    /// variables), with XDG_RUNTIME_DIR set to `xdg` as a user session would.
    pub fn command(&self, program: &Path, xdg: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program)
            .env("XDG_RUNTIME_DIR", xdg)
            .env("HOME", xdg);
        c
    }
}

/// Users `carrack-test-rl-<pid>-*` whose pid is gone (a run that was killed).
fn sweep_dead_users() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for name in passwd.lines().filter_map(|l| l.split(':').next()) {
        let Some(rest) = name.strip_prefix("carrack-test-rl-") else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("userdel").arg(name).output();
        }
    }
}

fn processes_of(uid: u32) -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            !st.lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'))
                && st
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
                    == Some(uid)
        })
        .collect()
}

/// runc's `spec --rootless` (specconv.ToRootless) applied to a config: a user namespace
/// mapping the user to 0, no network namespace, /sys bound from the host rather than a new
/// sysfs, no uid=/gid= mount options, no linux.resources.
pub fn to_rootless(config: &mut Value, uid: u32, gid: u32) {
    let linux = &mut config["linux"];
    let mut ns: Vec<Value> = linux["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n["type"] != "network" && n["type"] != "user")
        .collect();
    ns.push(json!({"type": "user"}));
    linux["namespaces"] = json!(ns);
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(o) = linux.as_object_mut() {
        o.remove("resources");
    }
    for m in config["mounts"].as_array_mut().into_iter().flatten() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            continue;
        }
        if let Some(opts) = m["options"].as_array_mut() {
            opts.retain(|o| {
                let o = o.as_str().unwrap_or("");
                !o.starts_with("uid=") && !o.starts_with("gid=")
            });
        }
    }
}

/// Give the user what root made in the bundle (files a case wrote after the bundle was
/// built); files a case gave another owner on purpose keep it, and a filesystem mounted
/// inside the bundle is not entered.
pub fn chown_root_owned(dir: &Path, uid: u32, gid: u32) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(md) = std::fs::symlink_metadata(dir) {
        chown_tree(dir, md.dev(), uid, gid);
    }
}

fn chown_tree(p: &Path, dev: u64, uid: u32, gid: u32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return;
    };
    if md.dev() != dev {
        return;
    }
    if md.uid() == 0 && md.gid() == 0 {
        let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    }
    if md.is_dir() {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            chown_tree(&e.path(), dev, uid, gid);
        }
    }
}

/// The runtime binary where the user can execute it: itself when every parent directory
/// lets others through, else a copy in `dir`.
pub fn reachable_runtime(runtime: &Path, dir: &Path) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let others_x = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    };
    if others_x(runtime) && runtime.ancestors().skip(1).all(others_x) {
        return Ok(runtime.to_path_buf());
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    let to = dir.join(runtime.file_name().unwrap_or_default());
    std::fs::copy(runtime, &to)?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_rootless_is_runcs_rootless_spec() {
        let mut c: Value = serde_json::from_str(include_str!("../data/base-config.json")).unwrap();
        c["linux"]["resources"] = json!({"pids": {"limit": 10}});
        to_rootless(&mut c, 1234, 5678);
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert!(!ns.contains(&"network"), "{ns:?}");
        assert_eq!(ns.iter().filter(|t| **t == "user").count(), 1, "{ns:?}");
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([{"containerID": 0, "hostID": 1234, "size": 1}])
        );
        assert_eq!(
            c["linux"]["gidMappings"],
            json!([{"containerID": 0, "hostID": 5678, "size": 1}])
        );
        assert!(c["linux"].get("resources").is_none());
        let mounts = c["mounts"].as_array().unwrap();
        let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
        assert_eq!(sys["type"], "none");
        assert_eq!(sys["options"][0], "rbind");
        for m in mounts {
            for o in m["options"].as_array().into_iter().flatten() {
                let o = o.as_str().unwrap();
                assert!(!o.starts_with("uid=") && !o.starts_with("gid="), "{m}");
            }
        }
    }
}
