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
fn notify_without_a_listener_names_the_field() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/tmp/carrack-test-no-such.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write_config();
    let id = b.id("notify");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("linux.seccomp.listenerPath"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.root.join(&id).exists());
}

/// A seccomp agent gets the listener fd and the state on listenerPath, and answers the
/// container's mkdir with EXDEV through SECCOMP_IOCTL_NOTIF_RECV/SEND.
#[test]
fn notify_reaches_a_seccomp_agent() {
    use std::os::fd::AsRawFd;
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "mkdir /made 2>&1; echo done"]);
    let sock = b.dir.join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "carrack-test-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.write_config();
    let id = b.id("agent");
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (data, fd) = recv_fd(&conn).unwrap();
        // struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes).
        let mut req = [0u64; 10];
        // SAFETY: NOTIF_RECV writes one struct seccomp_notif (80 bytes, wanted zeroed) into `req`,
        // 80 zeroed bytes on the stack; fd is the listener, an open OwnedFd.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), 0xc050_2100u64 as _, req.as_mut_ptr()) };
        assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
        let resp: [u64; 3] = [req[0], 0, (-libc::EXDEV as u32) as u64];
        // SAFETY: NOTIF_SEND reads one struct seccomp_notif_resp (24 bytes) from `resp`, 24 bytes
        // on the stack.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), 0xc018_2101u64 as _, resp.as_ptr()) };
        assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
        String::from_utf8(data).unwrap()
    });
    let out = b.rt_bundle("run", &id, &[]);
    let message = agent.join().unwrap();
    let t = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        t.contains("Invalid cross-device link") && t.contains("done"),
        "{t}"
    );
    let m: serde_json::Value = serde_json::from_str(&message).unwrap();
    assert_eq!(m["metadata"], "carrack-test-agent");
    assert_eq!(m["fds"], json!(["seccompFd"]));
    assert_eq!(m["state"]["id"], id.as_str());
    assert!(m["pid"].as_i64().unwrap() > 0, "{m}");
    assert!(!b.rootfs().join("made").exists());
}

/// runc sends the listener fd before `create` returns, with or without no_new_privs (with it
/// the filter is loaded late): an agent that waits for the fd after create must not wait for
/// `start`. Checked without waiting: once create has returned, the message and the fd are
/// already queued on the socket.
#[test]
fn notify_listener_fd_arrives_during_create() {
    let Some(()) = can_run() else { return };
    for nnp in [true, false] {
        let mut b = Bundle::new(&["sh", "-c", "mkdir /made"]);
        let sock = b.dir.join("agent.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        listener.set_nonblocking(true).unwrap();
        b.config["process"]["noNewPrivileges"] = nnp.into();
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
        b.write_config();
        let id = b.id("notify-create");
        let out = b.rt_bundle("create", &id, &[]);
        assert!(out.status.success(), "nnp={nnp}: {}", text(&out.stderr));
        let (conn, _) = listener
            .accept()
            .expect("create returned without connecting");
        conn.set_nonblocking(true).unwrap();
        let (data, fd) = recv_fd(&conn)
            .unwrap_or_else(|e| panic!("nnp={nnp}: no listener fd when create returned: {e}"));
        let m: Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(m["state"]["id"], id.as_str(), "nnp={nnp}");
        // Without an agent the notified mkdir fails (ENOSYS): the filter is in place.
        drop(fd);
        let out = b.rt(&["start", &id]);
        assert!(out.status.success(), "nnp={nnp}: {}", text(&out.stderr));
        assert!(b.wait_status(&id, "stopped"), "nnp={nnp}");
        assert!(!b.rootfs().join("made").exists(), "nnp={nnp}");
    }
}

#[test]
fn a_profile_without_close_range_still_starts() {
    // Without no_new_privs the filter is loaded before carrack's own last steps: those must not
    // need syscalls a strict profile leaves out (runtime-tools' profile omits close_range and
    // openat2; a cwd opened with openat2 under it broke every runtime-tools program once).
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["noNewPrivileges"] = false.into();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["close_range", "openat2"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.config["process"]["cwd"] = "/tmp".into();
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.write_config();
    let id = b.id("strict");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A tiny static program (musl) that calls syscalls by number and prints `name ret errno`.
const PROBE_C: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
static void probe(const char *name, long nr, long a, long b, long c, long d) {
    errno = 0;
    long r = syscall(nr, a, b, c, d);
    printf("%s %ld %d\n", name, r, r < 0 ? errno : 0);
}
int main(void) {
    probe("fchmodat2", 452, -100, (long)"/tmp", 01777, 0); /* Linux 6.6: newer than the profile */
    probe("kexec_load", 246, 0, 0, 0, 0);                  /* in no allow rule: denied */
    probe("fchmodat", 268, -100, (long)"/tmp", 01777, 0);  /* allowed */
    return 0;
}
"#;

/// runc's -ENOSYS patch: under Docker's profile (default SCMP_ACT_ERRNO = EPERM), a syscall
/// newer than every syscall the profile names gets ENOSYS, so libcs fall back to the old call,
/// while a syscall the profile denies by leaving it out still gets EPERM.
#[test]
fn docker_profile_gives_enosys_to_newer_syscalls_and_eperm_to_denied_ones() {
    let Some(()) = can_run() else { return };
    if !cfg!(target_arch = "x86_64") {
        return skip("not-x86_64", "the probe uses x86_64 syscall numbers");
    }
    let Ok(musl) = which("musl-gcc") else {
        return skip(
            "no-musl-gcc",
            "musl-gcc missing: apt-get install musl-tools",
        );
    };
    let b = Bundle::new(&["/bin/probe"]);
    let src = b.dir.join("probe.c");
    std::fs::write(&src, PROBE_C).unwrap();
    let out = std::process::Command::new(musl)
        .args(["-static", "-O2", "-o"])
        .arg(b.rootfs().join("bin/probe"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "musl-gcc: {}", text(&out.stderr));
    for nnp in [true, false] {
        let mut b2 = Bundle::new(&["/bin/probe"]);
        std::fs::copy(b.rootfs().join("bin/probe"), b2.rootfs().join("bin/probe")).unwrap();
        b2.config["linux"]["seccomp"] = docker_profile();
        b2.config["process"]["noNewPrivileges"] = nnp.into();
        b2.write_config();
        let id = b2.id("enosys");
        let out = b2.rt_bundle("run", &id, &[]);
        assert!(out.status.success(), "nnp={nnp}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            "fchmodat2 -1 38\nkexec_load -1 1\nfchmodat 0 0\n",
            "nnp={nnp}"
        );
    }
}

fn which(cmd: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(cmd))
        .find(|p| p.exists())
        .ok_or(())
}

/// A name carrack's table does not know is skipped with a warning in `--log`, not silently.
#[test]
fn unknown_syscall_name_is_a_warning_in_the_log() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "carrack_no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.write_config();
    let id = b.id("unknown-name");
    let log = b.dir.join("log.json");
    let bundle = b.bundle();
    let out = b.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let warning = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["level"] == "warning"
                && v["msg"]
                    .as_str()
                    .is_some_and(|m| m.contains("\"carrack_no_such_syscall\""))
        });
    assert!(warning.is_some(), "no warning in the log: {lines}");
}
