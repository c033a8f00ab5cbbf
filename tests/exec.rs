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
    let out = b.rt(&["exec", &id, "/bin/nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/bin/nope"),
        "{}",
        text(&out.stderr)
    );
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    assert!(b.wait_status(&id, "stopped"));
    let out = b.rt(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot exec in a stopped container"),
        "{}",
        text(&out.stderr)
    );
    let out = b.rt(&["exec", "carrack-test-missing", "true"]);
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
