//! Commands that used to hang forever; each wait here is bounded, so a regression fails
//! instead of stalling the suite.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Wait for `child` up to `limit`; on timeout kill it (we started it) and return None.
fn wait_bounded(mut child: Child, limit: Duration) -> Option<std::process::Output> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn spawn(b: &Bundle, args: &[&str]) -> Child {
    b.cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// exec --ignore-paused into a paused container held the container's lock while its new
/// process sat frozen, so `resume` blocked on that lock forever.
#[test]
fn exec_ignore_paused_then_resume_does_not_deadlock() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("pausedexec");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let out = b.rt(&["pause", &id]);
    assert!(out.status.success(), "pause: {}", text(&out.stderr));
    let exec = spawn(
        &b,
        &["exec", "--ignore-paused", &id, "echo", "after-resume"],
    );
    std::thread::sleep(Duration::from_millis(500));
    let resume = spawn(&b, &["resume", &id]);
    let resumed = wait_bounded(resume, Duration::from_secs(15));
    let exec = wait_bounded(exec, Duration::from_secs(15));
    let resumed = resumed.expect("resume hung behind exec --ignore-paused");
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let exec = exec.expect("exec did not finish after resume");
    assert!(exec.status.success(), "{}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "after-resume\n");
}

/// A v1 freezer cgroup the test made and froze; thawed and removed on drop.
struct FrozenParent(PathBuf);

impl Drop for FrozenParent {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// create into a frozen cgroup froze init in the middle of its setup and create waited
/// for it forever; runc refuses. Nothing may be left behind.
#[test]
fn create_in_a_frozen_cgroup_is_refused_not_hung() {
    let Some(()) = can_run() else { return };
    let freezer = Path::new("/sys/fs/cgroup/freezer");
    if !freezer.join("tasks").exists() {
        skip(
            "no-v1-hierarchy",
            "no v1 freezer hierarchy (pure v2 is tested by scripts/vm-test)",
        );
        return;
    }
    let mut b = Bundle::new(&["true"]);
    let id = b.id("frozen");
    let parent_name = format!("carrack-test-frozen-{}", std::process::id());
    b.config["linux"]["cgroupsPath"] = format!("/{parent_name}/{id}").into();
    b.write_config();
    let parent = FrozenParent(freezer.join(&parent_name));
    std::fs::create_dir(&parent.0).unwrap();
    std::fs::write(parent.0.join("freezer.state"), "FROZEN").unwrap();
    for verb in ["create", "run"] {
        let bundle = b.bundle();
        let child = spawn(&b, &[verb, "--bundle", bundle.to_str().unwrap(), &id]);
        let out = wait_bounded(child, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{verb} into a frozen cgroup hung"));
        assert!(!out.status.success(), "{verb} succeeded in a frozen cgroup");
        let err = text(&out.stderr);
        assert!(
            err.contains("frozen") && err.contains("linux.cgroupsPath"),
            "{err}"
        );
        assert!(!b.root.join(&id).exists(), "{verb}: state left");
        assert!(
            !freezer.join(&parent_name).join(&id).exists(),
            "{verb}: cgroup left"
        );
    }
    drop(parent);
    assert_nothing_left(&b, &id, &parent_name, "after the refused creates");
}
