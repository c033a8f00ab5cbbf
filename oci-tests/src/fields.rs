//! Every item the suite must cover: the Linux fields of runtime-spec 1.3 config.md and
//! config-linux.md, the rules of runtime.md, and runc's CLI contract that engines rely on.
//! `oci-tests --table` prints the coverage table kept in oci-tests/README.md.

use crate::harness::Case;

pub const FIELDS: &[(&str, &str)] = &[
    ("config.md", "ociVersion"),
    ("config.md", "root.path"),
    ("config.md", "root.readonly"),
    ("config.md", "mounts.destination"),
    ("config.md", "mounts.source"),
    ("config.md", "mounts.type"),
    ("config.md", "mounts.options"),
    ("config.md", "mounts.options propagation"),
    ("config.md", "mounts.options recursive (rro, rnosuid, …)"),
    ("config.md", "mounts.options nosymfollow"),
    ("config.md", "mounts.options tmpcopyup"),
    ("config.md", "mounts.options idmap"),
    ("config.md", "mounts.uidMappings"),
    ("config.md", "mounts.gidMappings"),
    ("config.md", "process.terminal"),
    ("config.md", "process.consoleSize"),
    ("config.md", "process.cwd"),
    ("config.md", "process.env"),
    ("config.md", "process.args"),
    ("config.md", "process.rlimits"),
    ("config.md", "process.apparmorProfile"),
    ("config.md", "process.capabilities.bounding"),
    ("config.md", "process.capabilities.effective"),
    ("config.md", "process.capabilities.inheritable"),
    ("config.md", "process.capabilities.permitted"),
    ("config.md", "process.capabilities.ambient"),
    ("config.md", "process.noNewPrivileges"),
    ("config.md", "process.oomScoreAdj"),
    ("config.md", "process.scheduler"),
    ("config.md", "process.selinuxLabel"),
    ("config.md", "process.ioPriority"),
    ("config.md", "process.execCPUAffinity"),
    ("config.md", "process.user.uid"),
    ("config.md", "process.user.gid"),
    ("config.md", "process.user.umask"),
    ("config.md", "process.user.additionalGids"),
    ("config.md", "hostname"),
    ("config.md", "domainname"),
    ("config.md", "hooks.prestart"),
    ("config.md", "hooks.createRuntime"),
    ("config.md", "hooks.createContainer"),
    ("config.md", "hooks.startContainer"),
    ("config.md", "hooks.poststart"),
    ("config.md", "hooks.poststop"),
    ("config.md", "hooks[].args, env"),
    ("config.md", "hooks[].timeout"),
    ("config.md", "annotations"),
    ("config-linux.md", "linux.namespaces pid"),
    ("config-linux.md", "linux.namespaces network"),
    ("config-linux.md", "linux.namespaces mount"),
    ("config-linux.md", "linux.namespaces ipc"),
    ("config-linux.md", "linux.namespaces uts"),
    ("config-linux.md", "linux.namespaces user"),
    ("config-linux.md", "linux.namespaces cgroup"),
    ("config-linux.md", "linux.namespaces time"),
    ("config-linux.md", "linux.namespaces[].path"),
    (
        "config-linux.md",
        "linux.namespaces (absent: shared with the runtime)",
    ),
    ("config-linux.md", "linux.uidMappings"),
    ("config-linux.md", "linux.gidMappings"),
    ("config-linux.md", "linux.timeOffsets"),
    ("config-linux.md", "linux.devices"),
    ("config-linux.md", "default devices"),
    (
        "config-linux.md",
        "default filesystems (/dev/pts, /dev/shm)",
    ),
    ("config-linux.md", "dev symbolic links"),
    ("config-linux.md", "linux.cgroupsPath"),
    ("config-linux.md", "linux.resources.devices"),
    ("config-linux.md", "linux.resources.memory"),
    ("config-linux.md", "linux.resources.cpu"),
    ("config-linux.md", "linux.resources.blockIO"),
    ("config-linux.md", "linux.resources.hugepageLimits"),
    ("config-linux.md", "linux.resources.network"),
    ("config-linux.md", "linux.resources.pids"),
    ("config-linux.md", "linux.resources.rdma"),
    ("config-linux.md", "linux.resources.unified"),
    ("config-linux.md", "linux.intelRdt"),
    ("config-linux.md", "linux.sysctl"),
    ("config-linux.md", "linux.seccomp.defaultAction"),
    ("config-linux.md", "linux.seccomp.defaultErrnoRet"),
    ("config-linux.md", "linux.seccomp.architectures"),
    ("config-linux.md", "linux.seccomp.flags"),
    ("config-linux.md", "linux.seccomp.listenerPath"),
    ("config-linux.md", "linux.seccomp.listenerMetadata"),
    ("config-linux.md", "linux.seccomp.syscalls[].names, action"),
    ("config-linux.md", "linux.seccomp.syscalls[].errnoRet"),
    ("config-linux.md", "linux.seccomp.syscalls[].args"),
    ("config-linux.md", "linux.rootfsPropagation"),
    ("config-linux.md", "linux.maskedPaths"),
    ("config-linux.md", "linux.readonlyPaths"),
    ("config-linux.md", "linux.mountLabel"),
    ("config-linux.md", "linux.personality"),
    ("config-linux.md", "linux.memoryPolicy"),
    ("config-linux.md", "linux.netDevices"),
    ("runtime.md", "state fields"),
    ("runtime.md", "lifecycle: create does not run the process"),
    ("runtime.md", "lifecycle: start runs it"),
    ("runtime.md", "create: existing id is an error"),
    ("runtime.md", "start: not created is an error"),
    ("runtime.md", "kill"),
    ("runtime.md", "delete: not stopped is an error"),
    ("runtime.md", "delete"),
    ("runtime.md", "errors leave nothing"),
    ("runc CLI", "exit codes"),
    ("runc CLI", "--log JSON lines"),
    ("runc CLI", "state JSON shape"),
    ("runc CLI", "list --format json"),
    ("runc CLI", "ps --format json"),
    ("runc CLI", "kill signal names"),
    ("runc CLI", "delete --force"),
    ("runc CLI", "console socket"),
    ("runc CLI", "hooks stdin"),
    ("runc CLI", "exec"),
    ("runc CLI", "pause, resume"),
    ("runc CLI", "update"),
    ("runc CLI", "events"),
    ("runc CLI", "pid-file"),
    ("runc CLI", "features"),
    ("runc CLI", "spec"),
];

/// The markdown coverage table: each field with the cases covering it.
pub fn table(cases: &[Case]) -> String {
    let mut out = String::from("| Spec | Field | Cases |\n|---|---|---|\n");
    for (doc, field) in FIELDS {
        let names: Vec<_> = cases
            .iter()
            .filter(|c| c.covers.contains(field))
            .map(|c| format!("`{}`", c.name))
            .collect();
        let names = if names.is_empty() {
            "**not covered**".to_string()
        } else {
            names.join(" ")
        };
        out += &format!("| {doc} | {field} | {names} |\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_case_and_every_case_a_known_field() {
        let cases = crate::cases::all();
        for (_, f) in FIELDS {
            assert!(
                cases.iter().any(|c| c.covers.contains(f)),
                "{f} has no case"
            );
        }
        for c in &cases {
            for f in c.covers {
                assert!(
                    FIELDS.iter().any(|(_, k)| k == f),
                    "{}: unknown field {f}",
                    c.name
                );
            }
        }
        let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), cases.len(), "case names are unique");
    }

    #[test]
    fn readme_table_is_current() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&table(&crate::cases::all())),
            "oci-tests/README.md: regenerate the table with `oci-tests --table`"
        );
    }
}
