//! delete fails loudly when it could not do its work: another user's container, a cgroup
//! that cannot be removed. The state is kept then, so that delete can be retried.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::path::Path;

#[test]
fn delete_force_by_another_user_is_refused_and_the_container_keeps_running() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("otheruser");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let out = b
        .cmd()
        .args(["delete", "--force", &id])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!out.status.success(), "nobody deleted root's container");
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(b.state(&id)["status"], "running");
}

/// A v1 freezer sub-cgroup of the container that the test froze itself holds a task that
/// SIGKILL cannot end until it is thawed: rmdir fails with EBUSY.
#[test]
fn delete_reports_a_cgroup_it_could_not_remove_and_can_be_retried() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("busycg");
    let freezer = Path::new("/sys/fs/cgroup/freezer");
    if !freezer.join("freezer.state").exists() && !freezer.join("tasks").exists() {
        skip("no-v1-hierarchy", "no v1 freezer hierarchy");
        return;
    }
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let init = b.state(&id)["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let rel = cg
        .lines()
        .find_map(|l| l.split_once(":freezer:").map(|(_, p)| p.to_string()))
        .expect("init is in a freezer cgroup");
    let pin = freezer
        .join(rel.trim_start_matches('/'))
        .join("carrack-test-pin");
    std::fs::create_dir(&pin).unwrap();
    let mut sleeper = std::process::Command::new("/bin/sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(pin.join("tasks"), sleeper.id().to_string()).unwrap();
    std::fs::write(pin.join("freezer.state"), "FROZEN").unwrap();
    let out = b.rt(&["delete", "--force", &id]);
    let (ok, err) = (out.status.success(), text(&out.stderr));
    // Whatever happened, end the test's own task before asserting.
    let _ = std::fs::write(pin.join("freezer.state"), "THAWED");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(!ok, "delete reported success with a cgroup left");
    assert!(err.contains("rmdir") && err.contains("retry"), "{err}");
    assert!(
        b.root.join(&id).exists(),
        "state removed with the cgroup left"
    );
    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "retry: {}", text(&out.stderr));
    assert!(!pin.exists() && !b.root.join(&id).exists());
    assert_nothing_left(&b, &id, &id, "after the retry");
}
