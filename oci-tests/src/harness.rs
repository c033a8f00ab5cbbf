//! Cases, their outcomes, and the parallel runner that prints one line per case and the
//! closing `N passed, N failed, N skipped`.

use serde_json::Value;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub enum Outcome {
    Fail(String),
    /// The host fact (a name from tests/allowed-skips, or another one) and why.
    Skip(&'static str, String),
}
pub type Res<T = ()> = Result<T, Outcome>;

pub fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(Outcome::Fail(msg.into()))
}
/// The case cannot check on this host because of `fact`. In CI (`CI=true`) it counts as a
/// failure unless `fact` is listed in tests/allowed-skips (the one list, shared with the
/// cargo tests and scripts/test).
pub fn skip<T>(fact: &'static str, why: impl Into<String>) -> Res<T> {
    Err(Outcome::Skip(fact, why.into()))
}

fn skip_allowed(fact: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    !ci || include_str!("../../tests/allowed-skips")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.split_whitespace().next() == Some(fact))
}

/// One line `fact<TAB>oci:case<TAB>why` to `$CARRACK_SKIP_LOG` (scripts/test prints the
/// counts at the end).
fn log_skip(fact: &str, case: &str, why: &str) {
    use std::io::Write;
    let Some(log) = std::env::var_os("CARRACK_SKIP_LOG") else {
        return;
    };
    let line = format!("{fact}\toci:{case}\t{why}\n");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log);
    if let Err(e) = f.and_then(|mut f| f.write_all(line.as_bytes())) {
        eprintln!("oci-tests: $CARRACK_SKIP_LOG: {e}");
    }
}

/// Fail with observed and expected values unless they are equal.
pub fn eq<T: PartialEq + Debug>(what: &str, observed: T, expected: T) -> Res {
    if observed == expected {
        Ok(())
    } else {
        fail(format!(
            "{what}: expected {expected:?}, observed {observed:?}"
        ))
    }
}

pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Res {
    if cond {
        Ok(())
    } else {
        fail(msg())
    }
}

/// One conformance case: the spec fields (or CLI contract items) it covers and the check.
#[derive(Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub covers: &'static [&'static str],
    pub run: fn(&Ctx) -> Res,
}

pub struct Ctx {
    pub runtime: PathBuf,
    pub busybox: PathBuf,
    pub host: crate::host::Host,
    /// `--rootless`: the unprivileged user every runtime command runs as.
    pub rootless: Option<&'static crate::rootless::User>,
    /// --systemd-cgroup: runc's systemd cgroup driver (see main.rs).
    pub systemd: bool,
}

/// Runs `cases` on `jobs` threads; prints as they finish; returns (passed, failed, skipped).
pub fn run_all(ctx: &Ctx, cases: &[&Case], jobs: usize) -> (usize, usize, usize) {
    let next = AtomicUsize::new(0);
    let counts = Mutex::new((0, 0, 0));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let started = std::time::Instant::now();
                let res = std::panic::catch_unwind(|| (case.run)(ctx)).unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    fail(format!("panicked: {msg}"))
                });
                let res = match res {
                    Err(Outcome::Skip(fact, m)) if !skip_allowed(fact) => Err(Outcome::Fail(
                        format!("skip [{fact}] in CI (not in tests/allowed-skips): {m}"),
                    )),
                    r => r,
                };
                let ms = started.elapsed().as_millis();
                let mut c = counts.lock().unwrap();
                match res {
                    Ok(()) => {
                        c.0 += 1;
                        println!("ok {} ({ms} ms)", case.name);
                    }
                    Err(Outcome::Fail(m)) => {
                        c.1 += 1;
                        println!("FAIL {}: {}", case.name, m.replace('\n', "\n    "));
                    }
                    Err(Outcome::Skip(fact, m)) => {
                        c.2 += 1;
                        log_skip(fact, case.name, &m);
                        println!("skip {}: [{fact}] {m}", case.name);
                    }
                }
            });
        }
    });
    counts.into_inner().unwrap()
}

/// A string field of the checker's report.
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An integer field of the checker's report (-1 when absent).
pub fn i(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(-1)
}

/// The value of `Key:` in /proc/self/status as the checker reported it.
pub fn status_field(report: &Value, key: &str) -> String {
    s(report, "/status")
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .unwrap_or("")
        .trim()
        .to_string()
}
