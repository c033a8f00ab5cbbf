//! A `create` killed at any moment leaves something `delete --force` can find and remove:
//! no process, no cgroup directory, no state directory afterwards.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn create_killed_at_any_moment_is_cleaned_by_delete_force() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    let cg = format!("carrack-test-crash-{}", std::process::id());
    for i in 0..40u64 {
        let id = b.id(&format!("crash{i}"));
        b.config["linux"]["cgroupsPath"] = format!("/{cg}-{i}").into();
        b.write_config();
        let mut child = b
            .cmd()
            .args(["create", "--bundle"])
            .arg(b.bundle())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kill over the whole create (a few ms on this machine).
        std::thread::sleep(Duration::from_micros(i * 250));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        let list = b.rt(&["list", "--format", "json"]);
        assert!(
            list.status.success(),
            "list after crash {i}: {}",
            text(&list.stderr)
        );
        let out = b.rt(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "delete --force after crash {i}: {}",
            text(&out.stderr)
        );
        assert_nothing_left(&b, &id, &format!("{cg}-{i}"), &format!("crash {i}"));
    }
    // Nothing half-made remains under the root either (temp dirs of killed creates).
    let leftovers: Vec<_> = std::fs::read_dir(&b.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
