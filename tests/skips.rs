//! The skip rule of tests/common (`skip`): in CI (`CI=true`) a skip fails unless its host fact
//! is in tests/allowed-skips, and every skip is logged to `$CARRACK_SKIP_LOG`. Checked by
//! running this binary's own ignored helpers in a child process.

mod common;

use common::*;

#[test]
#[ignore = "helper of a_skip_fails_in_ci_unless_it_is_an_allowed_host_fact"]
fn helper_skip_not_root() {
    skip("not-root", "helper");
}

#[test]
#[ignore = "helper of a_skip_fails_in_ci_unless_it_is_an_allowed_host_fact"]
fn helper_skip_no_selinux() {
    skip("no-selinux", "helper");
}

/// (passed, the skip log) of helper `name` run with `CI` set to `ci` (or unset).
fn run_helper(name: &str, ci: Option<&str>) -> (bool, String) {
    let log = tempfile::Builder::new()
        .prefix("carrack-test-skiplog")
        .tempfile()
        .unwrap();
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.args(["--ignored", "--exact", name, "--test-threads", "1"])
        .env("CARRACK_SKIP_LOG", log.path())
        .env_remove("CI");
    if let Some(v) = ci {
        c.env("CI", v);
    }
    let out = c.output().unwrap();
    assert!(text(&out.stdout).contains("1 passed") || text(&out.stdout).contains("1 failed"));
    (
        out.status.success(),
        std::fs::read_to_string(log.path()).unwrap(),
    )
}

#[test]
fn a_skip_fails_in_ci_unless_it_is_an_allowed_host_fact() {
    let facts = allowed_skip_facts();
    assert!(
        facts.contains(&"no-selinux") && !facts.contains(&"not-root"),
        "{facts:?}"
    );

    let (passed, log) = run_helper("helper_skip_not_root", None);
    assert!(passed, "outside CI a skip passes");
    assert_eq!(log, "not-root\thelper_skip_not_root\thelper\n");

    let (passed, _) = run_helper("helper_skip_not_root", Some("true"));
    assert!(!passed, "in CI a skip on a missing privilege must fail");

    let (passed, log) = run_helper("helper_skip_no_selinux", Some("true"));
    assert!(passed, "in CI a skip on an allowed host fact passes");
    assert_eq!(log, "no-selinux\thelper_skip_no_selinux\thelper\n");
}
