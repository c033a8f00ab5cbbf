//! Real containers through the carrack binary: the lifecycle contract engines rely on.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn run_passes_stdio_and_exit_code() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sh", "-c", "echo out-$((6*7)); echo err >&2; exit 7"]);
    let id = b.id("run");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out-42\n");
    assert_eq!(text(&out.stderr), "err\n");
    // run deletes the container afterwards
    assert!(!b.root.join(&id).exists());
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
}

/// The process starts with the signal dispositions carrack was given: nothing blocked, and
/// ignored only what carrack's caller ignored (Rust's start-up used to leave SIGPIPE ignored
/// in every container). carrack's caller here is std's Command, which unblocks everything and
/// restores SIGPIPE, so the expectation is this test's own ignored set without SIGPIPE.
/// Only signals 1-31 are compared: glibc's posix_spawn leaves its internal signals 32 and 33
/// ignored in the children it starts, before carrack runs.
#[test]
fn process_inherits_no_ignored_or_blocked_signals() {
    let Some(()) = can_run() else { return };
    let sigset = |status: &str, key: &str| {
        let v = status.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        u64::from_str_radix(v.trim(), 16).unwrap() & 0x7fff_ffff
    };
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let want = sigset(&own, "SigIgn:") & !(1 << (libc::SIGPIPE - 1));
    let b = Bundle::new(&["cat", "/proc/self/status"]);
    let id = b.id("signals");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let got = text(&out.stdout);
    assert_eq!(sigset(&got, "SigBlk:"), 0, "{got}");
    assert_eq!(sigset(&got, "SigIgn:"), want, "ignored signals: {got}");
}

#[test]
fn run_killed_by_signal_exits_128_plus_n() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("sig");
    let mut child = b
        .cmd()
        .args(["run", "--bundle"])
        .arg(b.bundle())
        .arg(&id)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(b.wait_status(&id, "running"));
    let k = b.rt(&["kill", &id, "KILL"]);
    assert!(k.status.success(), "{}", text(&k.stderr));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137));
}

#[test]
fn create_start_state_kill_delete() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sh", "-c", "touch /started; exec sleep 60"]);
    let id = b.id("life");
    let pidfile = b.dir.join("pid");
    let out = b.rt_bundle("create", &id, &["--pid-file", pidfile.to_str().unwrap()]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));

    let st = b.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], b.bundle().to_str().unwrap());
    assert_eq!(st["rootfs"], b.rootfs().to_str().unwrap());
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The user process must not run before start.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !b.rootfs().join("started").exists(),
        "process ran before start"
    );

    let out = b.rt(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    for _ in 0..300 {
        if b.rootfs().join("started").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        b.rootfs().join("started").exists(),
        "process did not run after start"
    );
    assert_eq!(b.state(&id)["status"], "running");
    // A second start is an error.
    assert!(!b.rt(&["start", &id]).status.success());
    // Delete of a running container needs --force.
    let out = b.rt(&["delete", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not stopped"),
        "{}",
        text(&out.stderr)
    );

    let out = b.rt(&["kill", &id, "SIGKILL"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    assert!(b.wait_status(&id, "stopped"));
    assert_eq!(b.state(&id)["pid"], 0);
    let out = b.rt(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(!b.root.join(&id).exists());
    let out = b.rt(&["state", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn init_is_pid_1_with_hostname_env_cwd_and_user() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo $$ $(hostname) $FOO $(pwd) $(id -u):$(id -g):$(id -G)",
    ]);
    b.config["hostname"] = "carrack-host".into();
    b.config["process"]["env"] = serde_json::json!(["PATH=/bin", "FOO=bar"]);
    b.config["process"]["cwd"] = "/work/dir".into();
    b.config["process"]["user"] =
        serde_json::json!({"uid": 1000, "gid": 1001, "additionalGids": [1002]});
    b.write_config();
    let id = b.id("proc");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "1 carrack-host bar /work/dir 1000:1001:1001 1002\n"
    );
}

#[test]
fn missing_executable_fails_create_and_leaves_nothing() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["/bin/nope"]);
    let id = b.id("noexec");
    let out = b.rt_bundle("create", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("/bin/nope"), "{err}");
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    assert!(!b.root.join(&id).exists(), "state left behind");
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
}

#[test]
fn invalid_and_duplicate_ids() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    for bad in ["../x", ".", "..", "a/b", ""] {
        let out = b.rt_bundle("create", bad, &[]);
        assert_eq!(out.status.code(), Some(1), "id {bad:?} accepted");
    }
    assert!(std::fs::read_dir(&b.root)
        .map(|d| d.count() == 0)
        .unwrap_or(true));
    let id = b.id("dup");
    assert!(b.rt_bundle("create", &id, &[]).status.success());
    let out = b.rt_bundle("create", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("container with id exists"),
        "{}",
        text(&out.stderr)
    );
    // The first container is unharmed.
    assert_eq!(b.state(&id)["status"], "created");
}

#[test]
fn concurrent_creates_of_one_id_have_one_winner() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("race");
    let children: Vec<_> = (0..6)
        .map(|_| {
            b.cmd()
                .args(["create", "--bundle"])
                .arg(b.bundle())
                .arg(&id)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let wins = children
        .into_iter()
        .filter_map(|mut c| c.wait().ok())
        .filter(|s| s.success())
        .count();
    assert_eq!(wins, 1);
    assert_eq!(b.state(&id)["status"], "created");
}

#[test]
fn delete_force_is_idempotent() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("force");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    assert_eq!(b.state(&id)["status"], "running");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    for _ in 0..2 {
        let out = b.rt(&["delete", "--force", &id]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z")
        }
    );
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
    let out = b.rt(&["delete", &id]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn json_log_gets_exactly_one_error_line() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["cwd"] = "relative".into();
    b.write_config();
    let id = b.id("log");
    let log = b.dir.join("log.json");
    let out = b
        .cmd()
        .args([
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
        ])
        .arg(b.bundle())
        .arg(&id)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines.len(), 1, "{logged}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("process.cwd"), "{v}");
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert!(!b.root.join(&id).exists());
}

#[test]
fn list_formats() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let out = b.rt(&["list", "--format", "json"]);
    assert_eq!(text(&out.stdout).trim(), "null");
    let id = b.id("list");
    assert!(b.rt_bundle("create", &id, &[]).status.success());
    let out = b.rt(&["list", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["status"], "created");
    let out = b.rt(&["list", "-q"]);
    assert_eq!(text(&out.stdout), format!("{id}\n"));
    let out = b.rt(&["list"]);
    let t = text(&out.stdout);
    assert!(t.starts_with("ID "), "{t}");
    assert!(t.lines().nth(1).unwrap().starts_with(&id));
}

/// `list` reads states its own way (fds opened once, only the freezer of the cgroup): each
/// status it shows, in the table and in JSON, is what `state` says of that container.
#[test]
fn list_shows_each_status_as_state_does() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    // e: paused before start. Its init waits on exec.fifo, not in the freezer, until frozen:
    // `list` reads freezer.state only when init shows as frozen ('D' on v1).
    let ids: Vec<String> = [
        "a-created",
        "b-running",
        "c-paused",
        "d-stopped",
        "e-created-paused",
    ]
    .iter()
    .map(|n| b.id(n))
    .collect();
    for id in &ids {
        let out = b.rt_bundle("create", id, &[]);
        assert!(out.status.success(), "create: {}", text(&out.stderr));
    }
    for id in &ids[1..4] {
        assert!(b.rt(&["start", id]).status.success());
    }
    for id in [&ids[2], &ids[4]] {
        let out = b.rt(&["pause", id]);
        assert!(out.status.success(), "pause: {}", text(&out.stderr));
    }
    assert!(b.rt(&["kill", &ids[3], "KILL"]).status.success());
    assert!(b.wait_status(&ids[3], "stopped"));
    let want = ["created", "running", "paused", "stopped", "paused"];
    let json: Value = serde_json::from_slice(&b.rt(&["list", "--format", "json"]).stdout).unwrap();
    let table = text(&b.rt(&["list"]).stdout);
    for (i, id) in ids.iter().enumerate() {
        let st = b.state(id);
        assert_eq!(st["status"], want[i], "{id}: {st}");
        let row = json
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str());
        let row = row.unwrap_or_else(|| panic!("{id} not in {json}"));
        assert_eq!(row["status"], want[i], "{row}");
        assert_eq!(row["pid"], st["pid"], "{row}");
        let line = table.lines().find(|l| l.starts_with(&format!("{id} ")));
        let cells: Vec<&str> = line
            .unwrap_or_else(|| panic!("{id} not in {table}"))
            .split_whitespace()
            .collect();
        assert_eq!(cells[1], st["pid"].to_string(), "{table}");
        assert_eq!(cells[2], want[i], "{table}");
    }
    for id in [&ids[2], &ids[4]] {
        assert!(b.rt(&["resume", id]).status.success());
    }
}

#[test]
fn cgroup_holds_init_and_is_removed() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    let id = b.id("cg");
    b.config["linux"]["cgroupsPath"] = format!("/{id}").into();
    b.write_config();
    assert!(b.rt_bundle("create", &id, &[]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap().to_string();
    let dirs = cgroup_dirs_named(&id);
    assert!(!dirs.is_empty(), "no cgroup made");
    for d in &dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == pid),
            "{} lacks {pid}: {procs}",
            d.display()
        );
    }
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
}

#[test]
fn version_and_checkpoint_verbs() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let t = text(&out.stdout);
    let mut lines = t.lines();
    assert!(lines.next().unwrap().starts_with("carrack version "));
    assert_eq!(lines.next().unwrap(), "spec: 1.3.0");
    assert!(lines.next().unwrap().starts_with("commit: "));
    // Implemented (issue 23, tests/checkpoint.rs): a missing container or bundle is the error.
    let root = std::env::temp_dir().join(format!("carrack-test-cpverbs-{}", std::process::id()));
    for (verb, want) in [
        ("checkpoint", "container does not exist"),
        ("restore", "--bundle /nonexistent"),
    ] {
        let out = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(
                [verb, "--bundle", "/nonexistent", "x"]
                    .into_iter()
                    .filter(|a| verb == "restore" || (*a != "--bundle" && *a != "/nonexistent")),
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{verb}");
        assert!(
            text(&out.stderr).contains(want),
            "{verb}: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// --systemd-cgroup maps "slice:prefix:name" to systemd's path; without a running systemd it
/// is refused with a clear error and leaves nothing.
#[test]
fn systemd_cgroup_maps_the_path_or_is_refused_without_systemd() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    let id = b.id("sdcg");
    b.config["linux"]["cgroupsPath"] = format!("system.slice:carrack-test:{id}").into();
    b.write_config();
    let mut args = vec!["--systemd-cgroup"];
    let dir = b.bundle();
    args.extend(["create", "--bundle", dir.to_str().unwrap(), &id]);
    let out = b.rt(&args);
    if !std::path::Path::new("/run/systemd/system").exists() {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("systemd is not running"),
            "{}",
            text(&out.stderr)
        );
        assert!(!b.root.join(&id).exists());
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.contains(&format!("/system.slice/carrack-test-{id}.scope")),
        "{cg}"
    );
    let del = b.rt(&["delete", "--force", &id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
}
