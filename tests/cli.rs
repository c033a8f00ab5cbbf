//! The command line's edges that engines rely on: kill's signal forms, update's -1, ps of a
//! stopped container, --debug, warnings on stderr, the key order of state/list/events.

mod common;

use common::*;
use std::time::Duration;

/// A running container whose init records each real-time signal it receives in /tmp/got.
fn signal_recorder(b: &Bundle) -> String {
    let id = b.id("sig");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    id
}

/// Poll for up to 3 s.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    (0..300).any(|_| {
        cond() || {
            std::thread::sleep(Duration::from_millis(10));
            false
        }
    })
}

fn has_line(path: &std::path::Path, want: &str) -> bool {
    let got = std::fs::read_to_string(path).unwrap_or_default();
    got.lines().any(|l| l == want)
}

/// `kill ID 0` probes (runc accepts it); real-time signals by number and by the names
/// engines use (SIGRTMIN+3 stops systemd) reach init as the numbers glibc and Go give them.
#[test]
fn kill_signal_zero_and_realtime_signals() {
    let Some(()) = can_run() else { return };
    let script = "for s in 34 37 62 64; do trap \"echo $s >> /tmp/got\" $s; done; \
                  touch /tmp/ready; while :; do sleep 0.05; done";
    let b = Bundle::new(&["sh", "-c", script]);
    let id = signal_recorder(&b);
    let got = b.rootfs().join("tmp/got");
    assert!(
        wait_for(|| b.rootfs().join("tmp/ready").exists()),
        "never ready"
    );
    let out = b.rt(&["kill", &id, "0"]);
    assert!(out.status.success(), "kill 0: {}", text(&out.stderr));
    assert_eq!(b.state(&id)["status"], "running", "signal 0 must not kill");
    for (spec, want) in [
        ("37", "37"),
        ("RTMIN+3", "37"),
        ("SIGRTMIN+3", "37"),
        ("rtmin", "34"),
        ("SIGRTMAX-2", "62"),
        ("RTMAX", "64"),
    ] {
        let _ = std::fs::remove_file(&got);
        let out = b.rt(&["kill", &id, spec]);
        assert!(out.status.success(), "kill {spec}: {}", text(&out.stderr));
        assert!(
            wait_for(|| has_line(&got, want)),
            "kill {spec}: init did not get signal {want}: {:?}",
            std::fs::read_to_string(&got)
        );
    }
    for bad in ["65", "RTMIN+31", "RTMAX-31", "SIGRTMIN-1", "SIGFOO"] {
        let out = b.rt(&["kill", &id, bad]);
        assert_eq!(out.status.code(), Some(1), "kill {bad} accepted");
        assert!(
            text(&out.stderr).contains("signal"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(b.rt(&["kill", &id, "KILL"]).status.success());
    assert!(b.wait_status(&id, "stopped"));
    let out = b.rt(&["kill", &id, "0"]);
    assert_eq!(out.status.code(), Some(1), "kill 0 of a stopped container");
}
