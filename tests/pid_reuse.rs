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
    let state_file = b.root.join(&id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    let mut other = stand_in(st["pid_start"].as_u64().unwrap());
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

/// A process started in a later clock tick than init (start times count 10 ms ticks): one
/// started within init's tick would be init as far as its pid and start time can tell, which
/// a real reuse of the pid, after the whole pid space wrapped, never is. This test's
/// container lives a few ms, so that happened (a flake in a CI-like run).
fn stand_in(init_start: u64) -> std::process::Child {
    for _ in 0..50 {
        let mut p = std::process::Command::new("/bin/sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.id())).unwrap();
        let start: u64 = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        if start != init_start {
            return p;
        }
        let _ = p.kill();
        let _ = p.wait();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no process started in a later tick than init");
}
