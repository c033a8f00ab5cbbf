//! Rootless mode, decided as runc 1.1 decides it. Two separate notions:
//!
//! - "rootless euid" (`euid()`): carrack runs as a non-root user. Id maps that need more than
//!   the caller's own id go through newuidmap/newgidmap, setgroups is denied for a single
//!   own-gid map, and additional groups are refused (linux/idmap.rs, launcher).
//! - "rootless cgroups" (`cgroups()`, the global `--rootless true|false|auto`): the cgroup
//!   the container would get may not be creatable; without an explicit linux.cgroupsPath a
//!   hierarchy that refuses us (EACCES, EPERM, EROFS) is dropped and the container has no
//!   cgroup there. Limits that then have nowhere to go are an error, as runc's
//!   "cannot set ... limit: container could not join or create cgroup".

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

static CGROUPS: AtomicBool = AtomicBool::new(false);

/// Rootless cgroups on or off; None: decided as runc's auto (once, at start-up).
pub fn set_cgroups(on: Option<bool>) {
    CGROUPS.store(on.unwrap_or_else(auto), Ordering::Relaxed);
}

/// runc's shouldUseRootlessCgroupManager for the cgroupfs driver: a non-root euid, or root
/// inside a user namespace that is not the initial one.
fn auto() -> bool {
    euid() || in_user_namespace()
}

/// The rootless cgroup manager is in use (see the module doc).
pub fn cgroups() -> bool {
    CGROUPS.load(Ordering::Relaxed)
}

/// carrack runs as a non-root user (runc's RootlessEUID).
pub fn euid() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Not the initial user namespace: its uid_map is not the identity over all ids.
pub fn in_user_namespace() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields != ["0", "0", "4294967295"]
}

/// The default --root, as runc's: `$XDG_RUNTIME_DIR/carrack` for a non-root user (or root in
/// a user namespace whose $USER is not root), else /run/carrack.
pub fn default_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) if honor_xdg_runtime_dir() => PathBuf::from(dir).join("carrack"),
        _ => PathBuf::from("/run/carrack"),
    }
}

fn honor_xdg_runtime_dir() -> bool {
    if euid() {
        return true;
    }
    if !in_user_namespace() {
        // Real root keeps /run/carrack even when a session sets XDG_RUNTIME_DIR=/run/user/0.
        return false;
    }
    std::env::var("USER").map_or(true, |u| u != "root")
}

/// runc's rootless checks (validate/rootless.go, setupUser) for a non-root caller, before
/// anything is made: a user namespace with both maps, no additional groups (setgroups is
/// not ours to call), and no mount `uid=`/`gid=` option naming an unmapped id.
pub fn check(spec: &oci_spec::runtime::Spec) -> Result<()> {
    use oci_spec::runtime::LinuxNamespaceType;
    if !euid() {
        return Ok(());
    }
    let linux = spec.linux().as_ref();
    let own_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if !own_userns {
        bail!("linux.namespaces: a rootless container requires a user namespace");
    }
    let uids = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    if uids.is_empty() {
        bail!("linux.uidMappings: a rootless container requires at least one UID mapping");
    }
    if gids.is_empty() {
        bail!("linux.gidMappings: a rootless container requires at least one GID mapping");
    }
    let extra = spec
        .process()
        .as_ref()
        .and_then(|p| p.user().additional_gids().as_ref())
        .is_some_and(|g| !g.is_empty());
    if extra {
        bail!(
            "process.user.additionalGids: cannot set any additional groups in a rootless container"
        );
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        for o in m.options().iter().flatten() {
            let (maps, key) = match o.split_once('=') {
                Some(("uid", v)) => (&uids, v),
                Some(("gid", v)) => (&gids, v),
                _ => continue,
            };
            let Ok(id) = key.parse::<u32>() else { continue };
            let mapped = maps
                .iter()
                .any(|m| id >= m.container_id() && id - m.container_id() < m.size());
            if !mapped {
                bail!("mounts[{i}].options {o:?}: id {id} is not mapped in the rootless container's user namespace");
            }
        }
    }
    Ok(())
}

/// Does `r` ask for anything a cgroup controller must enforce? Device rules do not count
/// (runc ignores the devices controller for a rootless container), nor do zero values,
/// which runc's controllers skip ("not set").
pub fn needs_controllers(r: &oci_spec::runtime::LinuxResources) -> bool {
    let mut r = r.clone();
    r.set_devices(None);
    serde_json::to_value(&r).is_ok_and(|v| is_set(&v))
}

fn is_set(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_set),
        Value::Object(o) => o.values().any(is_set),
        Value::Bool(true) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: serde_json::Value) -> oci_spec::runtime::LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_real_limits_need_controllers() {
        assert!(!needs_controllers(&res(serde_json::json!({}))));
        assert!(!needs_controllers(&res(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 0},
            "pids": {"limit": 0}
        }))));
        assert!(needs_controllers(&res(
            serde_json::json!({"memory": {"limit": 1048576}})
        )));
        assert!(needs_controllers(&res(
            serde_json::json!({"pids": {"limit": -1}})
        )));
        assert!(needs_controllers(&res(
            serde_json::json!({"cpu": {"cpus": "0"}})
        )));
    }
}
