//! linux.seccomp in real containers: Docker's default profile, a custom errno, with and
//! without no_new_privs (the filter is loaded at different points), and exec.

mod common;

use common::*;
use serde_json::{json, Value};

fn docker_profile() -> Value {
    let text = include_str!("../oci-tests/data/docker-20.10-default-seccomp.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn docker_default_profile_runs_a_normal_container() {
    let Some(()) = can_run() else { return };
    for nnp in [true, false] {
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; echo ok > /tmp/x && cat /tmp/x",
        ]);
        b.config["linux"]["seccomp"] = docker_profile();
        b.config["process"]["noNewPrivileges"] = nnp.into();
        b.write_config();
        let id = b.id("docker-seccomp");
        let out = b.rt_bundle("run", &id, &[]);
        assert!(out.status.success(), "nnp={nnp}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "Seccomp:\t2\nok\n", "nnp={nnp}");
    }
}

#[test]
fn denied_syscall_returns_the_configured_errno_in_run_and_exec() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mkdir /made 2>&1; test -d /made || echo denied; sleep 30",
    ]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    });
    b.write_config();
    let id = b.id("errno");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /other 2>&1; grep Seccomp: /proc/self/status",
    ]);
    let t = text(&out.stdout);
    assert!(t.contains("Function not implemented"), "{t}");
    assert!(t.contains("Seccomp:\t2"), "{t}");
    assert!(!b.rootfs().join("made").exists() && !b.rootfs().join("other").exists());
}

#[test]
fn notify_is_refused_by_name() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/tmp/none.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write_config();
    let id = b.id("notify");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("SCMP_ACT_NOTIFY"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.root.join(&id).exists());
}

#[test]
fn a_profile_without_close_range_still_starts() {
    // Without no_new_privs the filter is loaded before carrack's own last steps: those must not
    // need syscalls a strict profile leaves out (runtime-tools' profile omits close_range).
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.write_config();
    let id = b.id("strict");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
