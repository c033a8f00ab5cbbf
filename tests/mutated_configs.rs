//! Property: a randomly mutated config through the real binary gives a container or a clear
//! error (exit 1, one `carrack: …` line), never a panic, a hang or a leak. Mutations of the
//! Bundle's valid config by the proptest strategies the unit tests use (src/mutate.rs); a
//! failure is shrunk (each step runs a container) and kept in proptest-regressions/.

mod common;
#[path = "../src/mutate.rs"]
#[allow(dead_code)]
mod mutate;

use common::*;
use proptest::prop_assert;
use serde_json::json;
use std::cell::{Cell, RefCell};

#[test]
fn mutated_configs_give_a_container_or_an_error_and_leave_nothing() {
    let Some(()) = can_run() else { return };
    let b = RefCell::new(Bundle::new(&["true"]));
    let base = b.borrow().config.clone();
    let (created, refused, n) = (Cell::new(0), Cell::new(0), Cell::new(0u32));
    // 150 containers: about the suite time of the seeded generator this replaced.
    mutate::check(file!(), 150, mutate::mutated(base), |config| {
        let mut config = config.0;
        n.set(n.get() + 1);
        let id = b.borrow().id(&format!("mut{}", n.get()));
        // Keep the cgroup findable (named after the id) unless the mutation removed linux.
        if let Some(l) = config.get_mut("linux").and_then(|l| l.as_object_mut()) {
            l.insert("cgroupsPath".into(), json!(format!("/{id}")));
        }
        let mut b = b.borrow_mut();
        b.config = config;
        b.write_config();
        let out = b.rt_bundle("create", &id, &[]);
        let err = text(&out.stderr);
        // Cleanup and its check first: a failed case must not leave its container behind.
        let del = b.rt(&["delete", "--force", &id]);
        prop_assert!(
            del.status.success(),
            "delete --force: {}",
            text(&del.stderr)
        );
        assert_nothing_left(&b, &id, &id, "mutated config");
        match out.status.code() {
            Some(0) => created.set(created.get() + 1),
            Some(1) => {
                refused.set(refused.get() + 1);
                // Warnings (level=warning lines, e.g. an unknown capability) may come first;
                // the error is one line of its own.
                let last = err.lines().last().unwrap_or("");
                prop_assert!(
                    last.starts_with("carrack: ")
                        && !err.contains("panicked")
                        && err
                            .lines()
                            .all(|l| l == last || l.contains("level=warning")),
                    "unclear error {err:?}"
                );
            }
            other => prop_assert!(false, "exit {other:?}, stderr {err:?}"),
        }
        Ok(())
    });
    let (created, refused) = (created.get(), refused.get());
    println!("{created} created, {refused} refused with an error");
    assert!(
        created > 0 && refused > 0,
        "the mutations never hit one of the two outcomes"
    );
}
