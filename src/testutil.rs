//! Unit tests' counterpart of tests/common/mod.rs `skip`: a check this host cannot make is
//! recorded under a host fact, fails in CI (`CI=true`) unless the fact is listed in
//! tests/allowed-skips, and is appended to `$CARRACK_SKIP_LOG` (scripts/test counts them).

/// The first word of each line of tests/allowed-skips.
fn allowed_facts() -> impl Iterator<Item = &'static str> {
    include_str!("../tests/allowed-skips")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
}

/// The calling test cannot check something because of `fact`; it then returns or narrows its
/// check.
pub fn skip(fact: &str, reason: &str) {
    let thread = std::thread::current();
    let test = format!("unit:{}", thread.name().unwrap_or("?"));
    println!("skip [{fact}]: {reason}");
    if std::env::var("CI").is_ok_and(|v| v == "true") && !allowed_facts().any(|f| f == fact) {
        panic!("skip [{fact}] in CI: {reason} (not a host fact of tests/allowed-skips)");
    }
    if let Some(log) = std::env::var_os("CARRACK_SKIP_LOG") {
        use std::io::Write;
        // O_APPEND and one write per line: test threads and processes share the file.
        let line = format!("{fact}\t{test}\t{reason}\n");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("append to $CARRACK_SKIP_LOG");
    }
}

#[test]
fn skip_facts_are_read_from_the_shared_list() {
    assert!(allowed_facts().any(|f| f == "no-selinux"));
    assert!(!allowed_facts().any(|f| f == "not-root"));
}
