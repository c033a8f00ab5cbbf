//! The cases, one module per area of the spec.

use crate::harness::Case;

mod cgroups;
mod cli;
mod hooks;
mod linux;
mod mounts;
mod process;
mod runtime;
mod seccomp;

pub fn all() -> Vec<Case> {
    [
        process::CASES,
        mounts::CASES,
        linux::CASES,
        seccomp::CASES,
        cgroups::CASES,
        hooks::CASES,
        runtime::CASES,
        cli::CASES,
    ]
    .concat()
}

/// Capability names in kernel order (the bit number is the index).
pub const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The /proc/<pid>/status hex mask for a list of capability names.
pub fn cap_mask(names: &[&str]) -> String {
    let bits = names
        .iter()
        .filter_map(|n| CAPS.iter().position(|c| c == n))
        .fold(0u64, |m, b| m | 1 << b);
    format!("{bits:016x}")
}

/// The capabilities the suite itself holds (its bounding set): a runtime started by it
/// cannot give a container more.
pub fn host_caps() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    CAPS.iter()
        .enumerate()
        .filter(|(b, _)| bnd & (1 << b) != 0)
        .map(|(_, c)| *c)
        .collect()
}
