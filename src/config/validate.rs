//! Everything that can be checked before the runtime touches the system. Each error names the
//! JSON field and says why.

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::Path;

pub fn validate(spec: &Spec, bundle: &Path) -> Result<()> {
    version(spec.version())?;
    root(spec, bundle)?;
    process(spec)?;
    mounts(spec)?;
    linux(spec)?;
    hooks(spec)?;
    Ok(())
}

/// The config's own spelling of an enum value ("RLIMIT_NOFILE", "pid"), not Rust's.
fn spelled<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

/// A path from the config in an error: control characters escaped (one line, whatever it holds).
fn shown(p: &Path) -> String {
    super::escape_controls(&p.display().to_string())
}

fn no_nul(field: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        bail!("{field} {:?}: contains a NUL byte", s.replace('\0', "\\0"));
    }
    Ok(())
}

/// process.scheduler, ioPriority, execCPUAffinity (also checked for exec's process).
pub fn check_process_scheduling(p: &oci_spec::runtime::Process) -> Result<()> {
    use crate::linux::scheduling as s;
    if let Some(sch) = p.scheduler() {
        s::check_scheduler(sch)?;
    }
    if let Some(io) = p.io_priority() {
        s::check_io_priority(io)?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        if let Some(l) = a.initial() {
            s::parse_cpu_list("process.execCPUAffinity.initial", l)?;
        }
        if let Some(l) = a.cpu_affinity_final() {
            s::parse_cpu_list("process.execCPUAffinity.final", l)?;
        }
    }
    Ok(())
}

fn hooks(spec: &Spec) -> Result<()> {
    let Some(h) = spec.hooks() else { return Ok(()) };
    #[allow(deprecated)]
    let kinds = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, list) in kinds {
        for (i, hook) in list.iter().flatten().enumerate() {
            let field = format!("hooks.{kind}[{i}]");
            if !hook.path().is_absolute() {
                bail!("{field}.path {:?}: must be an absolute path", hook.path());
            }
            no_nul(&format!("{field}.path"), &hook.path().to_string_lossy())?;
            if hook.timeout().is_some_and(|t| t <= 0) {
                bail!(
                    "{field}.timeout {}: must be greater than 0",
                    hook.timeout().unwrap_or(0)
                );
            }
        }
    }
    Ok(())
}

/// Each entry has a size, and neither the container ranges nor the host ranges overlap.
fn id_mappings(field: &str, maps: &[oci_spec::runtime::LinuxIdMapping]) -> Result<()> {
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            bail!("{field}[{i}].size: must be greater than 0");
        }
        for (j, n) in maps.iter().enumerate().take(i) {
            let overlap = |a: u32, b: u32| {
                (a as u64) < b as u64 + n.size() as u64 && (b as u64) < a as u64 + m.size() as u64
            };
            if overlap(m.container_id(), n.container_id()) {
                bail!("{field}[{i}]: containerID range overlaps {field}[{j}]");
            }
            if overlap(m.host_id(), n.host_id()) {
                bail!("{field}[{i}]: hostID range overlaps {field}[{j}]");
            }
        }
    }
    if maps.len() > 340 {
        bail!(
            "{field}: {} entries, the kernel takes at most 340",
            maps.len()
        );
    }
    Ok(())
}

/// `path` must be a namespace of `kind` (NS_GET_NSTYPE on the opened file).
fn namespace_path(field: &str, path: &Path, kind: LinuxNamespaceType) -> Result<()> {
    use std::os::fd::AsRawFd;
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    let flag = match kind {
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Time => 0x80,
    };
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => bail!("{field} {}: {e}", shown(path)),
    };
    // SAFETY: NS_GET_NSTYPE takes no argument and only returns a value; the fd is f's, open here.
    let t = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE as _) };
    if t < 0 {
        bail!("{field} {}: not a namespace file", shown(path));
    }
    if t != flag {
        bail!(
            "{field} {}: not a {} namespace",
            shown(path),
            spelled(&kind)
        );
    }
    Ok(())
}

/// Any 1.x: engines move ahead of runtimes and 1.x minors stay compatible.
fn version(v: &str) -> Result<()> {
    if v.is_empty() {
        bail!("ociVersion: required");
    }
    let major = v.split('.').next().unwrap_or("");
    if major != "1" || v.split('.').count() < 2 {
        bail!("ociVersion {v:?}: carrack supports runtime-spec 1.x");
    }
    Ok(())
}

fn root(spec: &Spec, bundle: &Path) -> Result<()> {
    let Some(root) = spec.root() else {
        bail!("root: required");
    };
    let p = bundle.join(root.path());
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "root.path {:?}: {} is not a directory",
            root.path(),
            shown(&p)
        ),
        Err(e) => bail!("root.path {:?}: {}: {e}", root.path(), shown(&p)),
    }
}

fn process(spec: &Spec) -> Result<()> {
    let Some(p) = spec.process() else {
        bail!("process: required to create a container");
    };
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args: must not be empty");
    }
    for (i, a) in p.args().iter().flatten().enumerate() {
        no_nul(&format!("process.args[{i}]"), a)?;
    }
    if p.args().as_ref().is_some_and(|a| a[0].is_empty()) {
        bail!("process.args[0]: must name the program, not be empty");
    }
    no_nul("process.cwd", &p.cwd().to_string_lossy())?;
    if !p.cwd().is_absolute() {
        bail!("process.cwd {:?}: must be an absolute path", p.cwd());
    }
    crate::linux::lsm::check(p)?;
    check_process_scheduling(p)?;
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            bail!("process.env[{i}] {e:?}: must be KEY=VALUE");
        }
        no_nul(&format!("process.env[{i}]"), e)?;
    }
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if !seen.insert(format!("{:?}", r.typ())) {
            bail!("process.rlimits[{i}] {}: duplicate type", spelled(&r.typ()));
        }
        if r.soft() > r.hard() {
            bail!(
                "process.rlimits[{i}] {}: soft {} above hard {}",
                spelled(&r.typ()),
                r.soft(),
                r.hard()
            );
        }
    }
    if let Some(m) = p.user().umask() {
        if m > 0o7777 {
            bail!("process.user.umask {m}: must be at most 0o7777");
        }
    }
    Ok(())
}

fn mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            bail!(
                "mounts[{i}].destination {:?}: must be an absolute path",
                m.destination()
            );
        }
        no_nul(
            &format!("mounts[{i}].destination"),
            &m.destination().to_string_lossy(),
        )?;
        if let Some(s) = m.source() {
            no_nul(&format!("mounts[{i}].source"), &s.to_string_lossy())?;
        }
    }
    Ok(())
}

/// Without a mount namespace the container shares the runtime's (the spec's rule for a type
/// not listed): carrack then only chroots into root.path, and refuses what it could only do
/// by mounting in the runtime's namespace, where the mount would outlive the container.
fn without_mount_namespace(spec: &Spec, l: &oci_spec::runtime::Linux) -> Result<()> {
    const WHY: &str = "needs a mount namespace in linux.namespaces (without one it would \
                       change the runtime's mount namespace and outlive the container)";
    let set = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    if spec.mounts().as_ref().is_some_and(|m| !m.is_empty()) {
        bail!("mounts: {WHY}");
    }
    if set(l.masked_paths()) {
        bail!("linux.maskedPaths: {WHY}");
    }
    if set(l.readonly_paths()) {
        bail!("linux.readonlyPaths: {WHY}");
    }
    if l.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        bail!("linux.devices: {WHY}");
    }
    if l.rootfs_propagation().is_some() {
        bail!("linux.rootfsPropagation: {WHY}");
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        bail!("root.readonly: {WHY}");
    }
    Ok(())
}

/// The namespace a sysctl belongs to, by runc's rules; None when it is not namespaced.
fn sysctl_namespace(key: &str) -> Option<(&'static str, LinuxNamespaceType)> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(("ipc", LinuxNamespaceType::Ipc))
    } else if key.starts_with("net.") {
        Some(("network", LinuxNamespaceType::Network))
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(("uts", LinuxNamespaceType::Uts))
    } else {
        None
    }
}

fn linux(spec: &Spec) -> Result<()> {
    let Some(l) = spec.linux() else {
        bail!("linux: required on Linux (at least a mount namespace)");
    };
    let ns = l.namespaces().as_deref().unwrap_or(&[]);
    let mut types = HashSet::new();
    for (i, n) in ns.iter().enumerate() {
        if !types.insert(n.typ()) {
            bail!(
                "linux.namespaces[{i}] {}: duplicate type",
                spelled(&n.typ())
            );
        }
        if let Some(p) = n.path() {
            if !p.is_absolute() {
                bail!(
                    "linux.namespaces[{i}].path {}: must be an absolute path",
                    shown(p)
                );
            }
            if !p.exists() {
                bail!("linux.namespaces[{i}].path {}: does not exist", shown(p));
            }
            namespace_path(&format!("linux.namespaces[{i}].path"), p, n.typ())?;
        }
    }
    let has = |t| types.contains(&t);
    let new_user = ns
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let has_maps = |m: &Option<Vec<_>>| m.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    if new_user && !(has_maps(l.uid_mappings()) && has_maps(l.gid_mappings())) {
        bail!("linux.uidMappings, linux.gidMappings: required for a new user namespace");
    }
    if !has(LinuxNamespaceType::User) && (has_maps(l.uid_mappings()) || has_maps(l.gid_mappings()))
    {
        bail!("linux.uidMappings: set without a user namespace in linux.namespaces");
    }
    if !has(LinuxNamespaceType::Mount) {
        without_mount_namespace(spec, l)?;
    }
    for (field, name) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if let Some(n) = name.as_deref() {
            no_nul(field, n)?;
            if n.len() > 64 {
                bail!("{field} {n:?}: longer than 64 bytes");
            }
        }
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("hostname: needs a uts namespace in linux.namespaces");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        bail!("domainname: needs a uts namespace in linux.namespaces");
    }
    if l.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !ns
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none())
    {
        bail!("linux.timeOffsets: needs a new time namespace in linux.namespaces");
    }
    if let Some(p) = l.personality() {
        crate::linux::scheduling::check_personality(p)?;
    }
    if let Some(m) = l.memory_policy() {
        crate::linux::scheduling::check_memory_policy(m)?;
    }
    id_mappings(
        "linux.uidMappings",
        l.uid_mappings().as_deref().unwrap_or(&[]),
    )?;
    id_mappings(
        "linux.gidMappings",
        l.gid_mappings().as_deref().unwrap_or(&[]),
    )?;
    crate::linux::idmap::check_user_mapped(spec)?;
    for (list, name) in [
        (l.masked_paths(), "linux.maskedPaths"),
        (l.readonly_paths(), "linux.readonlyPaths"),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                bail!("{name}[{i}] {p:?}: must be an absolute path");
            }
            no_nul(&format!("{name}[{i}]"), p)?;
        }
    }
    for k in l.sysctl().iter().flat_map(|m| m.keys()) {
        if k.is_empty() || k.contains('/') || k.contains("..") {
            bail!("linux.sysctl {k:?}: not a sysctl name");
        }
        let Some((kind, ns_type)) = sysctl_namespace(k) else {
            bail!("linux.sysctl {k:?}: not in a separate kernel namespace, so it would change the host");
        };
        if !has(ns_type) {
            bail!("linux.sysctl {k:?}: needs a {kind} namespace in linux.namespaces");
        }
    }
    if let Some(devs) = l.net_devices() {
        if !devs.is_empty() && !has(LinuxNamespaceType::Network) {
            bail!("linux.netDevices: needs a network namespace in linux.namespaces");
        }
        for (host, d) in devs {
            crate::linux::netdev::check_name("linux.netDevices key", host)?;
            if let Some(n) = d.name() {
                crate::linux::netdev::check_name(&format!("linux.netDevices[{host:?}].name"), n)?;
            }
        }
    }
    if l.intel_rdt().is_some() && !std::path::Path::new("/sys/fs/resctrl/schemata").exists() {
        bail!(
            "linux.intelRdt: not supported on this host (no resctrl filesystem at /sys/fs/resctrl)"
        );
    }
    for (i, d) in l.devices().iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            bail!(
                "linux.devices[{i}].path {:?}: must be an absolute path",
                d.path()
            );
        }
    }
    if let Some(p) = l.rootfs_propagation() {
        const OK: &[&str] = &[
            "",
            "private",
            "rprivate",
            "slave",
            "rslave",
            "shared",
            "rshared",
            "unbindable",
            "runbindable",
        ];
        if !OK.contains(&p.as_str()) {
            bail!(
                "linux.rootfsPropagation {p:?}: must be one of {}",
                OK[1..].join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn check(tweak: impl Fn(&mut Value)) -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut v = super::super::default_spec(false);
        tweak(&mut v);
        let spec: Spec = serde_json::from_value(v).unwrap();
        validate(&spec, dir.path())
    }

    fn fails_naming(field: &str, tweak: impl Fn(&mut Value)) {
        let err = check(tweak).expect_err(field).to_string();
        assert!(err.contains(field), "{field}: {err}");
    }

    #[test]
    fn default_config_is_valid_and_every_1x_version_is_accepted() {
        check(|_| {}).unwrap();
        for v in ["1.0.0", "1.0.2-dev", "1.2.0", "1.3.0", "1.9.1"] {
            check(|c| c["ociVersion"] = v.into()).unwrap();
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        fails_naming("ociVersion", |c| c["ociVersion"] = "2.0.0".into());
        fails_naming("ociVersion", |c| c["ociVersion"] = "".into());
        fails_naming("root.path", |c| c["root"]["path"] = "nope".into());
        fails_naming("process.args", |c| c["process"]["args"] = json!([]));
        fails_naming("process.cwd \"foo\": must be an absolute path", |c| {
            c["process"]["cwd"] = "foo".into()
        });
        fails_naming("process.env[1]", |c| {
            c["process"]["env"] = json!(["A=1", "B"])
        });
        fails_naming(
            "process.rlimits[1]",
            |c| c["process"]["rlimits"] = json!([{"type":"RLIMIT_NOFILE","hard":1,"soft":1},{"type":"RLIMIT_NOFILE","hard":2,"soft":2}]),
        );
        fails_naming("mounts[0].destination", |c| {
            c["mounts"][0]["destination"] = "proc".into()
        });
        fails_naming("linux.namespaces[5]", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type":"pid"}))
        });
        fails_naming("linux.namespaces[0].path", |c| {
            c["linux"]["namespaces"][0]["path"] = "/nonexistent/ns".into()
        });
        fails_naming("linux.uidMappings", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type":"user"}))
        });
        fails_naming("linux.uidMappings", |c| {
            c["linux"]["uidMappings"] = json!([{"containerID":0,"hostID":1000,"size":1}])
        });
        fails_naming("hostname", |c| {
            c["hostname"] = "x".into();
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "uts");
        });
        let no_mnt_ns = |c: &mut Value| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "mount");
        };
        fails_naming("mounts: needs a mount namespace", no_mnt_ns);
        let bare = |c: &mut Value| {
            no_mnt_ns(c);
            c["mounts"] = json!([]);
            c["linux"].as_object_mut().unwrap().remove("maskedPaths");
            c["linux"].as_object_mut().unwrap().remove("readonlyPaths");
            c["root"]["readonly"] = false.into();
        };
        check(bare).unwrap();
        for (field, v) in [
            ("maskedPaths", json!(["/proc/kcore"])),
            ("readonlyPaths", json!(["/proc/sys"])),
            (
                "devices",
                json!([{"path":"/dev/x","type":"c","major":1,"minor":3}]),
            ),
            ("rootfsPropagation", json!("rslave")),
        ] {
            fails_naming(&format!("linux.{field}: needs a mount namespace"), |c| {
                bare(c);
                c["linux"][field] = v.clone();
            });
        }
        fails_naming("root.readonly: needs a mount namespace", |c| {
            bare(c);
            c["root"]["readonly"] = true.into();
        });
        fails_naming("linux.timeOffsets", |c| {
            c["linux"]["timeOffsets"] = json!({"monotonic":{"secs":1}})
        });
        fails_naming("linux.devices[0].path", |c| {
            c["linux"]["devices"] = json!([{"path":"dev/x","type":"c","major":1,"minor":3}])
        });
        fails_naming("linux.rootfsPropagation", |c| {
            c["linux"]["rootfsPropagation"] = "sideways".into()
        });
    }
}
