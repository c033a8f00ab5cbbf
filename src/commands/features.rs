//! `carrack features`: the runtime-spec features.md document, derived from the code and this
//! host (never a hand-kept list): mount options are those the option parser turns into flags,
//! namespaces those this kernel has, capabilities those this kernel knows.

use anyhow::Result;
use serde_json::json;

/// Every option name runc knows; advertised only when our parser maps it to a flag.
const CANDIDATE_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

const NAMESPACES: &[(&str, &str)] = &[
    ("cgroup", "cgroup"),
    ("ipc", "ipc"),
    ("mount", "mnt"),
    ("network", "net"),
    ("pid", "pid"),
    ("user", "user"),
    ("uts", "uts"),
    ("time", "time"),
];

pub fn document() -> serde_json::Value {
    let mount_options: Vec<&str> = CANDIDATE_OPTIONS
        .iter()
        .copied()
        .filter(|o| {
            carrack::linux::mounts::parse_options(&[o.to_string()]).is_ok_and(|p| p.data.is_empty())
        })
        .collect();
    let namespaces: Vec<&str> = NAMESPACES
        .iter()
        .filter(|(_, f)| std::path::Path::new("/proc/self/ns").join(f).exists())
        .map(|(n, _)| *n)
        .collect();
    let mut caps: Vec<String> = caps::runtime::thread_all_supported()
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    caps.sort();
    let layout = carrack::cgroups::detect_layout().ok();
    use carrack::cgroups::Layout;
    // A rootless caller (runc's test: not root, or in a user namespace) cannot use what needs
    // the host's privileges: idmapped mounts of host filesystems, moving the host's network
    // devices. runc 1.1.5 answers the same for every caller; we answer for the one asking.
    let privileged = !carrack::rootless::euid() && !carrack::rootless::in_user_namespace();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": carrack::config::OCI_VERSION,
        "hooks": carrack::linux::hooks::KINDS,
        "mountOptions": mount_options,
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": {
                "v1": matches!(layout, Some(Layout::V1 | Layout::Hybrid)),
                "v2": matches!(layout, Some(Layout::Unified | Layout::Hybrid)),
                // The driver talks to the system bus, or for a rootless caller to the user's
                // own systemd on the session bus (systemd.rs `bus`).
                "systemd": true,
                "systemdUser": true,
                "rdma": false
            },
            "seccomp": {
                "enabled": true,
                "actions": carrack::linux::seccomp::ACTIONS,
                "operators": carrack::linux::seccomp::OPERATORS,
                "archs": carrack::linux::seccomp::arches(),
                "knownFlags": carrack::linux::seccomp::FLAGS,
                "supportedFlags": carrack::linux::seccomp::FLAGS
            },
            "apparmor": {"enabled": carrack::linux::lsm::apparmor_enabled()},
            "selinux": {"enabled": carrack::linux::lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "netDevices": {"enabled": privileged},
            "mountExtensions": {"idmap": {"enabled": privileged}}
        },
        "annotations": {
            "io.github.carrack.version": env!("CARGO_PKG_VERSION"),
            "io.github.carrack.commit": env!("CARRACK_COMMIT")
        },
        "potentiallyUnsafeConfigAnnotations": []
    })
}

/// `document` plus what checkpoint/restore can use: runc's "checkpoint enabled" annotation,
/// true only when `criu` answers a VERSION request and is new enough, and that version.
pub fn run(criu: &std::path::Path) -> Result<()> {
    let mut doc = document();
    let version = carrack::linux::criu::check_version(criu).ok();
    let a = &mut doc["annotations"];
    a["org.opencontainers.runc.checkpoint.enabled"] = version.is_some().to_string().into();
    if let Some(v) = version {
        a["io.github.carrack.criu.version"] =
            format!("{}.{}.{}", v / 10000, v / 100 % 100, v % 100).into();
    }
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
