//! Cases, their outcomes, and the parallel runner that prints one line per case and the
//! closing `N passed, N failed, N skipped`.

use serde_json::Value;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub enum Outcome {
    Fail(String),
    Skip(String),
}
pub type Res<T = ()> = Result<T, Outcome>;

pub fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(Outcome::Fail(msg.into()))
}
pub fn skip<T>(why: impl Into<String>) -> Res<T> {
    Err(Outcome::Skip(why.into()))
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
                    Err(Outcome::Skip(m)) => {
                        c.2 += 1;
                        println!("skip {}: {m}", case.name);
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
