//! Side by side with runc (Debian's package): the same bundle through both runtimes gives the
//! same outputs, exit codes and state fields.

mod common;

use common::*;
use serde_json::Value;

fn runc() -> Option<String> {
    let found = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string());
    if found.is_none() {
        skip("no-runc", "runc is not installed (apt-get install runc)");
    }
    found
}

/// (exit code, stdout, stderr) of `run` through `runtime`.
fn run_with(
    runtime: &str,
    args: &[&str],
    tweak: impl Fn(&mut Value),
) -> (Option<i32>, String, String) {
    let mut b = Bundle::with_runtime(runtime, args);
    tweak(&mut b.config);
    // runc 1.1 refuses configs newer than it knows only in places we do not use here.
    b.write_config();
    let id = b.id("compat");
    let out = b.rt_bundle("run", &id, &[]);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn same_output_and_exit_codes_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let cases: &[&[&str]] = &[
        &["sh", "-c", "echo hi; exit 3"],
        &[
            "sh",
            "-c",
            "echo $$; hostname; id; pwd; cat /proc/self/status | grep -E '^Cap|NoNewPrivs'",
        ],
        &[
            "sh",
            "-c",
            "ls /dev | sort; test -w /proc/sys/kernel/hostname || echo ro-sys",
        ],
        &["sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj; umask"],
        &["/bin/nope"],
    ];
    for args in cases {
        let tweak = |c: &mut Value| {
            c["hostname"] = "compat".into();
        };
        let ours = run_with(BIN, args, tweak);
        let theirs = run_with(&runc, args, tweak);
        assert_eq!(
            ours.0, theirs.0,
            "exit code for {args:?}: ours {ours:?} runc {theirs:?}"
        );
        if ours.0 == Some(0) || args[0] != "/bin/nope" {
            assert_eq!(ours.1, theirs.1, "stdout for {args:?}");
        }
    }
}

#[test]
fn same_state_fields_as_runc() {
    let Some(()) = can_run() else { return };
    let Some(runc) = runc() else { return };
    let mut states = Vec::new();
    for rt in [BIN, runc.as_str()] {
        let b = Bundle::with_runtime(rt, &["sleep", "30"]);
        let id = b.id("state");
        let out = b.rt_bundle("create", &id, &[]);
        assert!(out.status.success(), "{rt} create: {}", text(&out.stderr));
        let created = b.state(&id);
        assert!(b.rt(&["start", &id]).status.success());
        let running = b.state(&id);
        assert!(b.rt(&["kill", &id, "KILL"]).status.success());
        assert!(b.wait_status(&id, "stopped"), "{rt}: never stopped");
        let stopped = b.state(&id);
        let list: Value =
            serde_json::from_slice(&b.rt(&["list", "--format", "json"]).stdout).unwrap();
        assert!(b.rt(&["delete", &id]).status.success());
        let gone = b.rt(&["state", &id]);
        states.push((
            created,
            running,
            stopped,
            list,
            gone.status.code(),
            b.bundle(),
        ));
    }
    let (ours, theirs) = (&states[0], &states[1]);
    for (o, t) in [
        (&ours.0, &theirs.0),
        (&ours.1, &theirs.1),
        (&ours.2, &theirs.2),
    ] {
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(o), keys(t), "state keys");
        assert_eq!(o["status"], t["status"]);
        assert_eq!(
            o["pid"].as_i64().unwrap() > 0,
            t["pid"].as_i64().unwrap() > 0
        );
        assert_eq!(o["owner"], t["owner"]);
    }
    assert_eq!(ours.2["pid"], theirs.2["pid"], "pid of a stopped container");
    assert_eq!(ours.3[0]["status"], theirs.3[0]["status"], "list status");
    assert_eq!(ours.4, theirs.4, "state exit code after delete");
    assert_eq!(ours.0["bundle"], ours.5.to_str().unwrap());
}
