//! Many commands at once: distinct ids never block or corrupt each other, and racing commands
//! on one id leave a consistent state that delete --force removes.

mod common;

use common::*;
use std::sync::Arc;

#[test]
fn parallel_lifecycles_of_distinct_ids() {
    let Some(()) = can_run() else { return };
    let b = Arc::new(Bundle::new(&["sleep", "60"]));
    let ids: Vec<String> = (0..100).map(|i| b.id(&format!("par{i}"))).collect();
    let handles: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                for (verb, extra) in [
                    ("create", true),
                    ("start", false),
                    ("kill", false),
                    ("delete", false),
                ] {
                    let out = match verb {
                        "create" if extra => b.rt_bundle("create", &id, &[]),
                        "kill" => b.rt(&["kill", &id, "KILL"]),
                        "delete" => {
                            assert!(b.wait_status(&id, "stopped"), "{id} never stopped");
                            b.rt(&["delete", &id])
                        }
                        v => b.rt(&[v, &id]),
                    };
                    assert!(out.status.success(), "{verb} {id}: {}", text(&out.stderr));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let out = b.rt(&["list", "-q"]);
    assert_eq!(text(&out.stdout), "", "containers left");
    for id in &ids {
        assert!(cgroup_dirs_named(id).is_empty(), "{id}: cgroup left");
    }
}

#[test]
fn racing_commands_on_one_id() {
    let Some(()) = can_run() else { return };
    let b = Arc::new(Bundle::new(&["sleep", "60"]));
    let id = b.id("racer");
    assert!(b.rt_bundle("create", &id, &[]).status.success());
    let verbs: Vec<Vec<&str>> = vec![
        vec!["state"],
        vec!["start"],
        vec!["kill", "TERM"],
        vec!["state"],
        vec!["start"],
        vec!["list"],
        vec!["kill", "KILL"],
        vec!["state"],
        vec!["delete", "--force"],
        vec!["state"],
    ];
    let handles: Vec<_> = verbs
        .into_iter()
        .cycle()
        .take(20)
        .map(|v| {
            let b = Arc::clone(&b);
            let id = id.clone();
            std::thread::spawn(move || {
                let mut args: Vec<&str> = vec![v[0]];
                if v[0] != "list" {
                    args.push(&id);
                }
                args.extend_from_slice(&v[1..]);
                let out = b.rt(&args);
                // Failures are fine (e.g. start after delete); corrupt output is not.
                if out.status.success() && v[0] == "state" {
                    let _: serde_json::Value =
                        serde_json::from_slice(&out.stdout).expect("corrupt state JSON");
                }
                let err = text(&out.stderr);
                assert!(!err.contains("corrupt"), "{args:?}: {err}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!b.root.join(&id).exists());
    assert!(cgroup_dirs_named(&id).is_empty());
}
