//! Property: a randomly mutated config through the real binary gives a container or a clear
//! error (exit 1, one `carrack: …` line), never a panic, a hang or a leak. Mutations of the
//! Bundle's valid config by the seeded generator the unit tests use (src/mutate.rs); a
//! failure names its seed.

mod common;
#[path = "../src/mutate.rs"]
#[allow(dead_code)]
mod mutate;

use common::*;
use serde_json::json;

#[test]
fn mutated_configs_give_a_container_or_an_error_and_leave_nothing() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    let base = b.config.clone();
    let (mut created, mut refused) = (0, 0);
    for seed in 0..150u64 {
        let id = b.id(&format!("mut{seed}"));
        let mut r = mutate::Rng::new(seed);
        let mut config = mutate::mutate(&base, &mut r);
        // Keep the cgroup findable (named after the id) unless the mutation removed linux.
        if let Some(l) = config.get_mut("linux").and_then(|l| l.as_object_mut()) {
            l.insert("cgroupsPath".into(), json!(format!("/{id}")));
        }
        b.config = config.clone();
        b.write_config();
        let out = b.rt_bundle("create", &id, &[]);
        let err = text(&out.stderr);
        match out.status.code() {
            Some(0) => created += 1,
            Some(1) => {
                refused += 1;
                // Warnings (level=warning lines, e.g. an unknown capability) may come first;
                // the error is one line of its own.
                let last = err.lines().last().unwrap_or("");
                assert!(
                    last.starts_with("carrack: ")
                        && !err.contains("panicked")
                        && err
                            .lines()
                            .all(|l| l == last || l.contains("level=warning")),
                    "seed {seed}: unclear error {err:?}\nconfig: {config}"
                );
            }
            other => panic!("seed {seed}: exit {other:?}, stderr {err:?}\nconfig: {config}"),
        }
        let del = b.rt(&["delete", "--force", &id]);
        assert!(
            del.status.success(),
            "seed {seed}: delete --force: {}",
            text(&del.stderr)
        );
        assert_nothing_left(&b, &id, &id, &format!("seed {seed}"));
    }
    println!("{created} created, {refused} refused with an error");
    assert!(
        created > 0 && refused > 0,
        "the mutations never hit one of the two outcomes"
    );
}
