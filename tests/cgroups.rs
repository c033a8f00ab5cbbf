//! linux.resources in the real cgroup files, update (flags and the shim's JSON on stdin),
//! pause/resume, events --stats, on this host's layout.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;

/// The container's cgroup file `file` on the v1 hierarchy `ctrl` (None on a pure v2 host).
fn v1_file(pid: i64, ctrl: &str, file: &str) -> Option<String> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = cg.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, c, p) = (f.next()?, f.next()?, f.next()?);
        c.split(',').any(|x| x == ctrl).then(|| p.to_string())
    })?;
    std::fs::read_to_string(format!("/sys/fs/cgroup/{ctrl}{rel}/{file}"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn has_v1(ctrl: &str) -> bool {
    let ok = std::path::Path::new("/sys/fs/cgroup")
        .join(ctrl)
        .join("cgroup.procs")
        .exists();
    if !ok {
        skip(
            "no-v1-hierarchy",
            &format!("no v1 {ctrl} hierarchy on this host (pure v2 is tested by scripts/vm-test)"),
        );
    }
    ok
}

#[test]
fn resources_are_in_the_cgroup_files_and_update_changes_them() {
    let Some(()) = can_run() else { return };
    if !has_v1("memory") || !has_v1("pids") || !has_v1("cpu") {
        return;
    }
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["resources"] = json!({
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 50},
        "cpu": {"quota": 50000, "period": 100000},
        "devices": [{"allow": false, "access": "rwm"}]
    });
    b.write_config();
    let id = b.id("res");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        v1_file(pid, "memory", "memory.limit_in_bytes").unwrap(),
        (64u64 << 20).to_string()
    );
    assert_eq!(v1_file(pid, "pids", "pids.max").unwrap(), "50");
    assert_eq!(v1_file(pid, "cpu", "cpu.cfs_quota_us").unwrap(), "50000");
    // The default device rules still let the process use /dev/null, not /dev/kmsg.
    let out = b.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo x > /dev/null && echo null-ok; cat /dev/kmsg 2>&1 | head -1",
    ]);
    let t = text(&out.stdout);
    assert!(t.starts_with("null-ok"), "{t}");
    // Flags.
    let out = b.rt(&["update", "--memory", "128m", "--pids-limit", "60", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        v1_file(pid, "memory", "memory.limit_in_bytes").unwrap(),
        (128u64 << 20).to_string()
    );
    assert_eq!(v1_file(pid, "pids", "pids.max").unwrap(), "60");
    assert_eq!(
        v1_file(pid, "cpu", "cpu.cfs_quota_us").unwrap(),
        "50000",
        "untouched fields stay"
    );
    // The JSON the containerd shim pipes to `update -r -`.
    let mut child = b
        .cmd()
        .args(["update", "-r", "-", &id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"cpu": {"quota": 20000}, "pids": {"limit": 70}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(v1_file(pid, "cpu", "cpu.cfs_quota_us").unwrap(), "20000");
    assert_eq!(v1_file(pid, "pids", "pids.max").unwrap(), "70");
    // A value the kernel refuses names the field and the file.
    let out = b.rt(&["update", "--cpu-quota", "500", &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cpu") && err.contains("cfs_quota_us"), "{err}");
}

#[test]
fn pause_resume_and_events() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("pause");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let out = b.rt(&["pause", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "paused");
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert!(st.contains(") D") || st.contains(") S"), "{st}");
    let out = b.rt(&["exec", &id, "true"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("paused"));
    assert!(!b.rt(&["pause", &id]).status.success(), "pausing twice");
    let out = b.rt(&["resume", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "running");
    assert!(
        !b.rt(&["resume", &id]).status.success(),
        "resuming a running container"
    );
    let out = b.rt(&["events", "--stats", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ev: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{ev}"
    );
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");
    // A paused container still goes away with delete --force.
    assert!(b.rt(&["pause", &id]).status.success());
    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(cgroup_dirs_named(&id).is_empty());
}

/// `events` reports the OOM kill of a process in the container as {"type":"oom","id":…}
/// (v1 eventfd on memory.oom_control, v2 memory.events), between the stats lines.
#[test]
fn events_report_an_oom_kill() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; sleep 60",
    ]);
    b.config["linux"]["resources"]["memory"] =
        json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    b.write_config();
    let id = b.id("oom");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut events = b
        .cmd()
        .args(["events", "--interval", "1s", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = events.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The first stats line means the watch is armed; then let the hog run.
    let first = rx.recv_timeout(std::time::Duration::from_secs(10));
    assert!(
        first.is_ok_and(|l| l.contains("\"stats\"")),
        "no stats line from events"
    );
    std::fs::write(b.rootfs().join("tmp/go"), "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut got = None;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("\"oom\"") => {
                got = Some(l);
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    let line = got.expect("no oom event within 20 s");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v, json!({"type": "oom", "id": id}));
}

/// The leak checks' idea of where a container's cgroup is (`cgroup_dirs_named`, the planner's
/// rule) is exactly the set of dirs carrack records in its state, also when the caller sits
/// in a non-root cgroup and the default (relative) cgroupsPath lands under it; after delete
/// none is left.
#[test]
fn leak_checks_find_every_cgroup_dir_the_runtime_made() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("cgpaths");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.root.join(&id).join("state.json")).unwrap())
            .unwrap();
    let mut recorded: Vec<std::path::PathBuf> = state["cgroup"]["dirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().into())
        .collect();
    recorded.sort();
    assert!(!recorded.is_empty(), "{state}");
    assert_eq!(
        cgroup_dirs_named(&id),
        recorded,
        "our cgroups: {}",
        std::fs::read_to_string("/proc/self/cgroup").unwrap()
    );
    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cgroup_dirs_named(&id), Vec::<std::path::PathBuf>::new());
}

#[test]
fn kernel_tcp_lands_in_the_v1_kmem_tcp_file() {
    let Some(()) = can_run() else { return };
    if !has_v1("memory") {
        return;
    }
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.kmem.tcp.limit_in_bytes").exists() {
        skip(
            "no-kmem-tcp",
            "this kernel has no memory.kmem.tcp.limit_in_bytes",
        );
        return;
    }
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["resources"] = json!({"memory": {"kernelTCP": 8 << 20}});
    b.write_config();
    let id = b.id("kerneltcp");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        v1_file(pid, "memory", "memory.kmem.tcp.limit_in_bytes").unwrap(),
        (8u64 << 20).to_string()
    );
}

/// Test-made v1 cpuset dirs, removed (leaf first) on drop, after the containers in them.
struct CpusetDirs(Vec<std::path::PathBuf>);

impl Drop for CpusetDirs {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[test]
fn a_container_joins_below_cpuset_ancestors_with_empty_cpus_and_mems() {
    let Some(()) = can_run() else { return };
    if !has_v1("cpuset") {
        return;
    }
    // As Kubernetes' cgroupfs driver leaves pod cgroups: existing, with empty cpus/mems.
    let top = format!("carrack-test-cpuset-{}", std::process::id());
    let root = std::path::Path::new("/sys/fs/cgroup/cpuset");
    let dirs = CpusetDirs(vec![root.join(&top), root.join(&top).join("pod")]);
    for d in &dirs.0 {
        std::fs::create_dir(d).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("cpuset.cpus"))
                .unwrap()
                .trim(),
            ""
        );
    }
    let mut b = Bundle::new(&["sleep", "60"]);
    let id = b.id("cpusetpod");
    b.config["linux"]["cgroupsPath"] = json!(format!("/{top}/pod/{id}"));
    b.write_config();
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let want = std::fs::read_to_string(root.join("cpuset.cpus")).unwrap();
    assert_eq!(v1_file(pid, "cpuset", "cpuset.cpus").unwrap(), want.trim());
    for d in &dirs.0 {
        let mems = std::fs::read_to_string(d.join("cpuset.mems")).unwrap();
        assert!(!mems.trim().is_empty(), "{}", d.display());
    }
    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!dirs.0[1].join(&id).exists(), "the container's cpuset left");
    // On the other hierarchies carrack made the whole path, and removed it.
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let left = h.path().join(&top);
        assert!(
            h.file_name() == "cpuset" || !left.exists(),
            "{}",
            left.display()
        );
    }
}
