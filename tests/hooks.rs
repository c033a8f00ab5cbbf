//! The six OCI hooks: when they run, what they read on stdin, and what their failure does.

mod common;

use common::*;
use serde_json::{json, Value};

/// A hook running the host's /bin/sh with `script`; `$0` is the hook's name.
fn hook(name: &str, script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script, name], "env": ["PATH=/bin:/usr/bin"]})
}

#[test]
fn every_hook_runs_in_order_with_the_state_on_stdin() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    let log = b.dir.join("hooks.log");
    let record = format!("read s; echo \"$0 $s\" >> {}", log.display());
    let mut hooks = serde_json::Map::new();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        hooks.insert(kind.into(), json!([hook(kind, &record)]));
    }
    // startContainer runs inside the container, after pivot_root: use the rootfs's shell and
    // write where the host can see it.
    hooks.insert(
        "startContainer".into(),
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "read s; echo \"startContainer $s\" >> /hooks.log"]}]),
    );
    b.config["hooks"] = Value::Object(hooks);
    b.write_config();
    let id = b.id("hooks");
    let out = b.rt_bundle("create", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = b.rt(&["start", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(b.wait_status(&id, "stopped"));
    let out = b.rt(&["delete", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let host = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<&str> = host.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for line in host.lines() {
        let (kind, st) = line.split_once(' ').unwrap();
        let st: Value = serde_json::from_str(st).unwrap();
        assert_eq!(st["id"], id.as_str(), "{kind}");
        assert_eq!(st["bundle"], b.bundle().to_str().unwrap(), "{kind}");
        let want = match kind {
            "poststart" => "running",
            "poststop" => "stopped",
            _ => "creating",
        };
        assert_eq!(st["status"], want, "{kind}");
        if kind != "poststop" {
            assert!(st["pid"].as_i64().unwrap() > 0, "{kind}");
        }
    }
    let inside = std::fs::read_to_string(b.rootfs().join("hooks.log")).unwrap();
    assert!(inside.starts_with("startContainer {"), "{inside}");
}

/// A new network namespace is the container's before sysfs is mounted (sysfs shows the
/// namespace of whoever mounts it) and before any hook runs: a prestart hook (CNI, Docker's
/// libnetwork) configures /proc/<pid>/ns/net, so the container must see what the hooks saw.
/// Its loopback is up, as runc's.
#[test]
fn the_new_network_namespace_is_in_place_for_sysfs_and_the_hooks() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/flags",
    ]);
    let log = b.dir.join("netns.log");
    let record = format!(
        "read s; pid=$(echo \"$s\" | sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); \
         echo \"$0 $(readlink /proc/$pid/ns/net)\" >> {}",
        log.display()
    );
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", &record)],
        "createRuntime": [hook("createRuntime", &record)],
    });
    b.write_config();
    let id = b.id("netns");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("net:["), "{stdout}");
    assert_ne!(
        lines[0],
        host.to_str().unwrap(),
        "the host's network namespace"
    );
    // sysfs of the container's namespace: its loopback only, and up (IFF_UP|IFF_LOOPBACK).
    assert_eq!(lines[1], "lo", "{stdout}");
    assert_eq!(lines[2], "0x9", "{stdout}");
    let hooks = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        hooks,
        format!("prestart {0}\ncreateRuntime {0}\n", lines[0]),
        "the hooks saw another namespace than the container"
    );
}

#[test]
fn failing_create_hooks_fail_create_and_leave_nothing() {
    let Some(()) = can_run() else { return };
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut b = Bundle::new(&["true"]);
        b.config["hooks"] = json!({ kind: [hook(kind, "echo broken >&2; exit 3")] });
        b.write_config();
        let id = b.id("hookfail");
        let out = b.rt_bundle("create", &id, &[]);
        assert_eq!(out.status.code(), Some(1), "{kind}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("hooks.{kind}[0]")) && err.contains("broken"),
            "{kind}: {err}"
        );
        assert!(!b.root.join(&id).exists(), "{kind}: state left");
        assert!(cgroup_dirs_named(&id).is_empty(), "{kind}");
    }
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_named() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    let mut h = hook("createRuntime", "sleep 30");
    h["timeout"] = json!(1);
    b.config["hooks"] = json!({ "createRuntime": [h] });
    b.write_config();
    let id = b.id("hooktimeout");
    let t = std::time::Instant::now();
    let out = b.rt_bundle("create", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    let err = text(&out.stderr);
    assert!(
        err.contains("hooks.createRuntime[0]") && err.contains("timed out"),
        "{err}"
    );
    assert!(!b.root.join(&id).exists());
}

#[test]
fn failing_start_container_hook_fails_start() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "touch /ran"]);
    b.config["hooks"] =
        json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]});
    b.write_config();
    let id = b.id("startfail");
    assert!(b.rt_bundle("create", &id, &[]).status.success());
    let out = b.rt(&["start", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("hooks.startContainer[0]"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !b.rootfs().join("ran").exists(),
        "the process ran despite the failed hook"
    );
}

#[test]
fn a_failing_poststop_is_only_logged() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({ "poststop": [hook("poststop", "exit 1")] });
    b.write_config();
    let id = b.id("postfail");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!b.root.join(&id).exists());
}

/// `create` with a bounded wait: None when it had not finished after `limit` (then killed).
fn create_within(b: &Bundle, id: &str, limit: std::time::Duration) -> Option<(i32, String)> {
    let err = b.dir.join(format!("{id}.err"));
    let mut child = b
        .cmd()
        .args(["create", "--bundle", b.bundle().to_str().unwrap(), id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            let e = std::fs::read_to_string(&err).unwrap();
            return Some((s.code().unwrap_or(-1), e));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn the_hook_timeout_covers_a_state_larger_than_a_pipe() {
    let Some(()) = can_run() else { return };
    for kind in ["createRuntime", "createContainer"] {
        let mut b = Bundle::new(&["true"]);
        // 200 KiB of annotations: the state no longer fits a pipe (64 KiB).
        b.config["annotations"] = json!({ "org.carrack.test.big": "x".repeat(200 * 1024) });
        // exec: the timeout kills the hook process itself (as runc), so no shell may sit between.
        let mut h = hook(kind, "exec sleep 1000");
        h["timeout"] = json!(2);
        b.config["hooks"] = json!({ kind: [h] });
        b.write_config();
        let id = b.id("hookbigstate");
        let t = std::time::Instant::now();
        let Some((code, err)) = create_within(&b, &id, std::time::Duration::from_secs(30)) else {
            panic!("{kind}: create still blocked after 30s");
        };
        assert!(t.elapsed() < std::time::Duration::from_secs(15), "{kind}");
        assert_eq!(code, 1, "{kind}: {err}");
        assert!(
            err.contains(&format!("hooks.{kind}[0]")) && err.contains("timed out"),
            "{kind}: {err}"
        );
        assert_nothing_left(&b, &id, &id, kind);
    }
}

#[test]
fn a_failing_poststart_fails_start_and_stops_the_container() {
    let Some(()) = can_run() else { return };
    // runtime-spec 1.3: a failed poststart hook MUST be an error and the container stopped.
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["hooks"] = json!({ "poststart": [hook("poststart", "echo nope >&2; exit 1")] });
    b.write_config();
    let id = b.id("poststartfail");
    let out = b.rt_bundle("create", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = b.rt(&["start", &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("hooks.poststart[0]") && err.contains("nope"),
        "{err}"
    );
    assert_eq!(b.state(&id)["status"], "stopped");
    assert!(b.rt(&["delete", &id]).status.success());

    // run: the error, and nothing left behind.
    let id = b.id("poststartfailrun");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("hooks.poststart[0]"));
    assert_nothing_left(&b, &id, &id, "run");
}

#[test]
fn start_container_hooks_without_env_get_process_env() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "GREETING=from-process"]);
    // As runc: a hook without `env` inherits init's environment, process.env; one with `env`
    // gets exactly that.
    b.config["hooks"] = json!({"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "echo \"a $GREETING\" >> /hooks.log"]},
        {"path": "/bin/sh", "args": ["sh", "-c", "echo \"b $GREETING\" >> /hooks.log"],
         "env": ["GREETING=from-hook"]},
    ]});
    b.write_config();
    let id = b.id("startenv");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(b.rootfs().join("hooks.log")).unwrap();
    assert_eq!(log, "a from-process\nb from-hook\n");
}

/// create makes the cgroups before clone but writes their files while init mounts, and init
/// joins the v1 ones only when they are ready (src/sync.rs): the runtime's hooks, which tools
/// use to find and change the container's cgroup (device rules, say), must already see init
/// in every hierarchy, its limits written.
#[test]
fn runtime_hooks_see_init_in_its_configured_cgroups() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    let limit: u64 = 64 << 20;
    b.config["linux"]["resources"]["memory"] = json!({ "limit": limit });
    // The hook reads init's pid from the state, its cgroups from /proc, and the memory
    // limit from the memory cgroup (v1) or the unified one (v2).
    let script = format!(
        r#"read s; pid=$(echo "$s" | sed 's/.*"pid":\([0-9]*\).*/\1/'); out={dir}/$0
cat /proc/$pid/cgroup > $out.cgroup
m=$(sed -n 's/^[0-9]*:memory:\(.*\)/\1/p' /proc/$pid/cgroup)
if [ -n "$m" ]; then cat /sys/fs/cgroup/memory$m/memory.limit_in_bytes
else u=$(sed -n 's/^0::\(.*\)/\1/p' /proc/$pid/cgroup); cat /sys/fs/cgroup$u/memory.max; fi > $out.limit"#,
        dir = b.dir.display()
    );
    b.config["hooks"] = json!({
        "prestart": [hook("prestart", &script)],
        "createRuntime": [hook("createRuntime", &script)],
    });
    b.write_config();
    let id = b.id("hookcg");
    let out = b.rt_bundle("create", &id, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for kind in ["prestart", "createRuntime"] {
        let cg = std::fs::read_to_string(b.dir.join(format!("{kind}.cgroup"))).unwrap();
        let mut checked = 0;
        for line in cg.lines() {
            let mut f = line.splitn(3, ':');
            let (_, controllers, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
            let ours = ["", "memory", "cpuset", "pids", "freezer", "devices"];
            if controllers.split(',').any(|c| ours.contains(&c)) {
                assert!(path.ends_with(&format!("/{id}")), "{kind}: {line}\n{cg}");
                checked += 1;
            }
        }
        assert!(checked > 0, "{kind}: no hierarchy checked in\n{cg}");
        let got = std::fs::read_to_string(b.dir.join(format!("{kind}.limit"))).unwrap();
        assert_eq!(got.trim(), limit.to_string(), "{kind}: memory limit");
    }
    assert!(b.rt(&["delete", "--force", &id]).status.success());
}
