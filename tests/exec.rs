//! exec into a running container: namespaces, cgroup, flags, exit codes, errors.

mod common;

use common::*;

fn running(b: &Bundle, name: &str) -> String {
    let id = b.id(name);
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    id
}

#[test]
fn exec_joins_the_container_and_returns_its_exit_code() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["hostname"] = "exec-host".into();
    b.write_config();
    let id = running(&b, "exec");
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; cat /proc/1/comm; echo $FOO; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "exec-host\nsleep\n\n");
    // Same cgroup as init.
    let init_pid = b.state(&id)["pid"].as_i64().unwrap();
    let init_cg = std::fs::read_to_string(format!("/proc/{init_pid}/cgroup")).unwrap();
    let out = b.rt(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Inside, the paths are relative to the cgroup namespace root when there is one; compare
    // the hierarchy list and that every line names the same controllers.
    assert_eq!(text(&out.stdout).lines().count(), init_cg.lines().count());
}

#[test]
fn exec_flags_env_cwd_user_caps_no_new_privs() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "execflags");
    let out = b.rt(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "-u",
        "1000:1001",
        "-g",
        "1002",
        "--no-new-privs",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u):$(id -g):$(id -G); grep NoNewPrivs /proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "bar /tmp 1000:1001:1001 1002\nNoNewPrivs:\t1\n"
    );
    let out = b.rt(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        &id,
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let eff =
        u64::from_str_radix(text(&out.stdout).split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(eff & (1 << 21) != 0, "CAP_SYS_ADMIN not effective: {eff:x}");
}

/// CVE-2022-29162: `exec --cap` adds to bounding, effective and permitted only; inheritable
/// and ambient stay as process.capabilities says (empty here), so a non-root program keeps
/// nothing across its own execve.
#[test]
fn exec_cap_leaves_inheritable_and_ambient_alone() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "execcapinh");
    let out = b.rt(&[
        "exec",
        "--cap",
        "CAP_NET_ADMIN",
        &id,
        "grep",
        "-E",
        "^Cap(Inh|Prm|Amb)",
        "/proc/self/status",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let field = |name: &str| {
        let line = text(&out.stdout)
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {}", text(&out.stdout)))
            .to_string();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(field("CapInh"), 0, "inheritable grew");
    assert_eq!(field("CapAmb"), 0, "ambient grew");
    assert!(
        field("CapPrm") & (1 << 12) != 0,
        "CAP_NET_ADMIN not permitted"
    );
}

#[test]
fn exec_process_json_and_detach_with_pid_file() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "execp");
    let pj = b.dir.join("process.json");
    std::fs::write(
        &pj,
        r#"{"args":["sh","-c","echo from-json $X; exit 3"],"env":["PATH=/bin","X=1"],"cwd":"/","user":{"uid":0,"gid":0}}"#,
    )
    .unwrap();
    let out = b.rt(&["exec", "-p", pj.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-json 1\n");
    let pidfile = b.dir.join("exec.pid");
    let out = b.rt(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "sleep",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // delete --force takes the exec'd process down with the container.
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "exec'd process survived: {stat}"
    );
}

#[test]
fn exec_errors() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "execerr");
    // runc's status when the process could not be started: 255.
    let out = b.rt(&["exec", &id, "/bin/nope"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("/bin/nope"),
        "{}",
        text(&out.stderr)
    );
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    assert!(b.wait_status(&id, "stopped"));
    let out = b.rt(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("cannot exec in a stopped container"),
        "{}",
        text(&out.stderr)
    );
    let out = b.rt(&["exec", "carrack-test-missing", "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn ps_lists_the_container_processes() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "ps");
    assert!(b.rt(&["exec", "-d", &id, "sleep", "59"]).status.success());
    let init = b.state(&id)["pid"].as_i64().unwrap();
    let out = b.rt(&["ps", "--format", "json", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init));
    let out = b.rt(&["ps", &id]);
    let t = text(&out.stdout);
    assert!(t.lines().next().unwrap().contains("PID"), "{t}");
    assert!(t.contains("sleep 60") && t.contains("sleep 59"), "{t}");
    assert_eq!(t.lines().count(), 3, "{t}");
}

/// runc 1.2's `--pidfd-socket`: a pidfd of the exec'd process arrives with SCM_RIGHTS.
#[test]
fn exec_pidfd_socket_sends_a_pidfd_of_the_process() {
    use std::os::fd::AsRawFd;
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "pidfd");
    let sock = b.dir.join("pidfd.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || {
        let (conn, _) = l.accept().unwrap();
        recv_fd(&conn).unwrap().1
    });
    let pid_file = b.dir.join("exec.pid");
    let out = b.rt(&[
        "exec",
        "-d",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "30",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fd = receiver.join().unwrap();
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        info.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pid:", pid.trim()]),
        "fdinfo of the received fd: {info}\nexec pid {pid}"
    );
}

/// `--cgroup sub` runs the process in an existing sub-cgroup of the container's.
#[test]
fn exec_cgroup_places_the_process_in_a_sub_cgroup() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "subcg");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let line = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find(|l| l.contains(":pids:") || l.starts_with("0::"))
        .unwrap()
        .to_string();
    let (hier, path) = line.split_once(":").unwrap().1.split_once(":").unwrap();
    let mount = if hier.is_empty() {
        "/sys/fs/cgroup".to_string()
    } else {
        format!("/sys/fs/cgroup/{hier}")
    };
    let sub = std::path::Path::new(&mount)
        .join(path.trim_start_matches('/'))
        .join("carrack-sub");
    std::fs::create_dir(&sub).unwrap();
    let arg = if hier.is_empty() {
        "carrack-sub".to_string()
    } else {
        "pids:carrack-sub".to_string()
    };
    let out = b.rt(&["exec", "--cgroup", &arg, &id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen = text(&out.stdout);
    assert!(
        seen.lines()
            .any(|l| (l.contains(":pids:") || l.starts_with("0::")) && l.ends_with("/carrack-sub")),
        "{seen}"
    );
    let missing = b.rt(&["exec", "--cgroup", "no-such-sub", &id, "true"]);
    assert_eq!(missing.status.code(), Some(255));
    assert!(
        text(&missing.stderr).contains("--cgroup"),
        "{}",
        text(&missing.stderr)
    );
    let _ = b.rt(&["delete", "--force", &id]);
    let _ = std::fs::remove_dir(&sub);
}

/// A label for an LSM the host does not run is refused, naming the field (runc refuses too).
#[test]
fn lsm_labels_without_the_lsm_are_refused() {
    let Some(()) = can_run() else { return };
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if apparmor || selinux {
        skip("lsm-host", "this host runs AppArmor or SELinux");
        return;
    }
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0".into();
    b.write_config();
    let id = b.id("selinux");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("process.selinuxLabel"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.root.join(&id).exists());
    b.config["process"]["selinuxLabel"] = serde_json::Value::Null;
    b.config["process"]["apparmorProfile"] = "carrack-test".into();
    b.write_config();
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("process.apparmorProfile"),
        "{}",
        text(&out.stderr)
    );
    b.config["process"]["apparmorProfile"] = serde_json::Value::Null;
    b.write_config();
    let id = running(&b, "lsmexec");
    let out = b.rt(&["exec", "--apparmor", "carrack-test", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("process.apparmorProfile"),
        "{}",
        text(&out.stderr)
    );
}

/// `exec -p` with a process.json that has no `user`: runc runs it as 0:0.
#[test]
fn exec_process_json_without_user_runs_as_root() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = running(&b, "execpnouser");
    let pj = b.dir.join("process.json");
    std::fs::write(&pj, r#"{"args":["id","-u"],"cwd":"/","env":["PATH=/bin"]}"#).unwrap();
    let out = b.rt(&["exec", "-p", pj.to_str().unwrap(), &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\n");
}

/// A 0700 root-owned directory in the rootfs, for a cwd that root can enter but user 1000
/// cannot.
fn root_only_dir(b: &Bundle) {
    use std::os::unix::fs::PermissionsExt;
    let d = b.rootfs().join("secret");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_cwd_only_root_can_enter_works_for_run_and_exec_as_a_user() {
    let Some(()) = can_run() else { return };
    // runc enters process.cwd before dropping to process.user.
    let mut b = Bundle::new(&["sh", "-c", "echo $(pwd) $(id -u)"]);
    root_only_dir(&b);
    b.config["process"]["cwd"] = "/secret".into();
    b.config["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    b.write_config();
    let id = b.id("cwdroot");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "/secret 1000\n");

    let b = Bundle::new(&["sleep", "60"]);
    root_only_dir(&b);
    let id = running(&b, "cwdrootexec");
    let out = b.rt(&[
        "exec",
        "--user",
        "1000:1000",
        "--cwd",
        "/secret",
        &id,
        "sh",
        "-c",
        "echo $(pwd) $(id -u)",
    ]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "/secret 1000\n");
}

#[test]
fn time_offsets_apply_with_a_user_namespace_for_run_and_exec() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(serde_json::json!({"type": "user"}));
    ns.push(serde_json::json!({"type": "time"}));
    for m in ["uidMappings", "gidMappings"] {
        b.config["linux"][m] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    b.config["linux"]["timeOffsets"] = serde_json::json!({
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 172800, "nanosecs": 0},
    });
    b.write_config();
    let id = running(&b, "timensuser");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    let out = b.rt(&["exec", &id, "cat", "/proc/self/timens_offsets"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    for got in [init, text(&out.stdout)] {
        let got = got.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(got.contains("monotonic 86400 0"), "{got}");
        assert!(got.contains("boottime 172800 0"), "{got}");
    }
}

const KEYRING_C: &str = r#"
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    /* KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), without creating one. */
    long id = syscall(SYS_keyctl, 0, -3, 0);
    printf("%ld\n", id);
    return id < 0;
}
"#;

/// The caller's session keyring id, as the probe reads it.
fn own_session_keyring() -> i64 {
    // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) reads an id only.
    unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) }
}

/// runc's exec joins a new session keyring (labelled with the process label) unless the
/// container was created with --no-new-keyring; carrack's exec kept the caller's, so a process
/// run by exec could read the keys of whoever ran `carrack exec`.
#[test]
fn exec_gets_a_session_keyring_of_its_own() {
    let Some(()) = can_run() else { return };
    let musl = match std::process::Command::new("musl-gcc")
        .arg("--version")
        .output()
    {
        Ok(o) if o.status.success() => "musl-gcc",
        _ => {
            return skip(
                "no-musl-gcc",
                "musl-gcc missing: apt-get install musl-tools",
            )
        }
    };
    let b = Bundle::new(&["sleep", "60"]);
    let src = b.dir.join("keyring.c");
    std::fs::write(&src, KEYRING_C).unwrap();
    let out = std::process::Command::new(musl)
        .args(["-static", "-O2", "-o"])
        .arg(b.rootfs().join("bin/keyring"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "musl-gcc: {}", text(&out.stderr));
    let ours = own_session_keyring();
    assert!(ours > 0, "the test's own session keyring: {ours}");
    let probe = |id: &str| {
        let out = b.rt(&["exec", id, "/bin/keyring"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().parse::<i64>().unwrap()
    };
    let id = running(&b, "keyring");
    let (first, second) = (probe(&id), probe(&id));
    assert_ne!(first, ours, "exec kept the caller's session keyring");
    assert_ne!(first, second, "two execs shared one session keyring");
    let kept = b.id("nonewkeyring");
    let out = b.rt_bundle("run", &kept, &["--detach", "--no-new-keyring"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        probe(&kept),
        ours,
        "--no-new-keyring: exec must keep the caller's"
    );
}
