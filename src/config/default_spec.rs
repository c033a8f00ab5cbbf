//! The config `carrack spec` writes: field for field what `runc spec` writes, with ociVersion
//! 1.3.0 and the runtime's own name as hostname (as crun writes "crun"). `--rootless` makes
//! the same changes as `runc spec --rootless`.

use serde_json::{json, Value};

/// runc 1.1's default config (tests compare it with `runc spec` when runc is installed).
const DEFAULT: &str = include_str!("default-config.json");

pub fn default_spec(rootless: bool) -> Value {
    let mut v: Value =
        serde_json::from_str(DEFAULT).expect("embedded default config is valid JSON");
    if rootless {
        make_rootless(&mut v);
    }
    v
}

/// As runc: a user namespace mapping the caller to root, no network namespace, no device
/// cgroup rules, /sys bound from the host (sysfs needs a network namespace of our own), and
/// no gid=5 on devpts (gid 5 is not mapped).
fn make_rootless(v: &mut Value) {
    let (uid, gid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let linux = &mut v["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "user"}));
    }
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    for m in v["mounts"].as_array_mut().into_iter().flatten() {
        if m["destination"] == "/dev/pts" {
            if let Some(o) = m["options"].as_array_mut() {
                o.retain(|x| x != "gid=5");
            }
        }
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runc_spec(rootless: bool) -> Option<Value> {
        let dir = tempfile::tempdir().ok()?;
        let mut cmd = std::process::Command::new("runc");
        cmd.arg("spec").current_dir(dir.path());
        if rootless {
            cmd.arg("--rootless");
        }
        if !cmd.status().ok()?.success() {
            return None;
        }
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).ok()?).ok()
    }

    #[test]
    fn hostname_is_carrack() {
        for rootless in [false, true] {
            assert_eq!(default_spec(rootless)["hostname"], "carrack");
        }
    }

    #[test]
    fn same_as_runc_spec_but_the_version_and_hostname() {
        for rootless in [false, true] {
            let Some(mut theirs) = runc_spec(rootless) else {
                crate::testutil::skip("no-runc", "runc is not installed");
                return;
            };
            theirs["ociVersion"] = "1.3.0".into();
            theirs["hostname"] = "carrack".into();
            assert_eq!(default_spec(rootless), theirs, "rootless={rootless}");
        }
    }
}
