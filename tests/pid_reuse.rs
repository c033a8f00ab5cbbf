//! The pid in state.json may be reused once init has died: no verb may signal that other
//! process or join its namespaces. (kill, exec and delete reach init through a pidfd checked
//! against the recorded start time; this test makes the reuse by editing state.json, the
//! race itself cannot be forced.)

mod common;

use common::*;

#[test]
fn a_reused_init_pid_is_never_signalled_or_joined() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("reuse");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let init = b.state(&id)["pid"].as_i64().unwrap() as i32;
    // init dies (the container's own process, which this test made)...
    // SAFETY: kill takes integers only; the pid is this test's container init, not yet reaped.
    unsafe { libc::kill(init, libc::SIGKILL) };
    assert!(b.wait_status(&id, "stopped"), "init did not die");
    // ...and a process of the test's own stands in for whoever got its pid.
    let mut other = std::process::Command::new("/bin/sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let state_file = b.root.join(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    st["pid"] = (other.id() as i64).into();
    std::fs::write(&state_file, serde_json::to_vec(&st).unwrap()).unwrap();
    let exec = b.rt(&["exec", &id, "true"]);
    let kill = b.rt(&["kill", &id, "KILL"]);
    let delete = b.rt(&["delete", "--force", &id]);
    let survived = other.try_wait().unwrap().is_none();
    let _ = other.kill();
    let _ = other.wait();
    assert!(
        !exec.status.success(),
        "exec joined the reused pid's namespaces"
    );
    assert!(!kill.status.success(), "kill signalled the reused pid");
    assert!(survived, "a verb killed the process that reused init's pid");
    assert!(delete.status.success(), "{}", text(&delete.stderr));
}
