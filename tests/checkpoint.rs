//! checkpoint and restore on this host: the failures. CRIU 3.17 cannot dump on this kernel
//! (6.18, vdso), so a checkpoint that works and a restored container are tested in the VM on
//! Debian's 6.1 kernel (scripts/vm-test --criu, scripts/vm/criu.sh). Here: no CRIU is a clear
//! error, a failed checkpoint leaves the container running, a failed restore leaves nothing.

mod common;

use common::*;
use std::path::Path;

fn have_criu() -> bool {
    ["/usr/sbin/criu", "/usr/bin/criu", "/sbin/criu"]
        .iter()
        .any(|p| Path::new(p).exists())
}

#[test]
fn checkpoint_without_criu_says_so_and_the_container_keeps_running() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("nocriu");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let images = b.dir.join("images");
    let out = b.rt(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    assert!(!out.status.success(), "checkpoint without CRIU succeeded");
    let err = text(&out.stderr);
    assert!(
        err.contains("/nonexistent/criu not found") && err.contains("need CRIU"),
        "{err}"
    );
    assert_eq!(b.state(&id)["status"], "running");
}

/// CRIU fails part-way (its page server is unreachable): the tasks it froze run on, and the
/// container is still there and running.
#[test]
fn failed_checkpoint_leaves_the_container_running() {
    let Some(()) = can_run() else { return };
    assert!(have_criu(), "criu is not installed: apt-get install criu");
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("failedcp");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let images = b.dir.join("images");
    let out = b.rt(&[
        "checkpoint",
        "--image-path",
        images.to_str().unwrap(),
        "--page-server",
        "127.0.0.1:1",
        &id,
    ]);
    assert!(
        !out.status.success(),
        "checkpoint to a closed page server succeeded"
    );
    assert!(text(&out.stderr).contains("criu"), "{}", text(&out.stderr));
    let st = b.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"].as_i64().unwrap(), pid);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat.rsplit(") ").next().unwrap().chars().next().unwrap();
    assert!(
        state == 'S' || state == 'R',
        "init is in state {state} after the failed dump"
    );
    // The images dir holds runc's descriptors.json: init's stdio, as restore reads it.
    let d: Vec<String> =
        serde_json::from_slice(&std::fs::read(images.join("descriptors.json")).unwrap()).unwrap();
    assert_eq!(d.len(), 3, "{d:?}");
}

/// A restore that CRIU refuses (no images in the dir) leaves no state, cgroup, mount or
/// process behind; a missing image dir is refused before anything is made.
#[test]
fn failed_restore_leaves_nothing() {
    let Some(()) = can_run() else { return };
    assert!(have_criu(), "criu is not installed: apt-get install criu");
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("failedrs");
    let cg = format!("carrack-test-failedrs-{}", std::process::id());
    let mut cfg = b.config.clone();
    cfg["linux"]["cgroupsPath"] = format!("/{cg}").into();
    std::fs::write(
        b.bundle().join("config.json"),
        serde_json::to_vec(&cfg).unwrap(),
    )
    .unwrap();
    let missing = b.dir.join("no-such-images");
    let out = b.rt_bundle("restore", &id, &["--image-path", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--image-path"),
        "{}",
        text(&out.stderr)
    );
    assert_nothing_left(&b, &id, &cg, "restore without images");

    let empty = b.dir.join("empty-images");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("descriptors.json"), "[\"\",\"\",\"\"]").unwrap();
    let out = b.rt_bundle(
        "restore",
        &id,
        &["--image-path", empty.to_str().unwrap(), "-d"],
    );
    assert!(
        !out.status.success(),
        "restore from an empty image dir succeeded"
    );
    assert!(text(&out.stderr).contains("criu"), "{}", text(&out.stderr));
    assert_nothing_left(&b, &id, &cg, "restore that CRIU refused");
}

#[test]
fn features_tell_whether_checkpoint_works() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["true"]);
    let out = b.rt(&["--criu", "/nonexistent/criu", "features"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
        "false"
    );
    if have_criu() {
        let out = b.rt(&["features"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let a = &v["annotations"];
        assert_eq!(
            a["org.opencontainers.runc.checkpoint.enabled"], "true",
            "{a}"
        );
        let ver = a["io.github.carrack.criu.version"].as_str().unwrap_or("");
        let criu = std::process::Command::new("criu")
            .arg("--version")
            .output()
            .unwrap();
        assert!(
            text(&criu.stdout).contains(&format!("Version: {}", ver.trim_end_matches(".0"))),
            "features says {ver}, criu --version: {}",
            text(&criu.stdout)
        );
    }
}
