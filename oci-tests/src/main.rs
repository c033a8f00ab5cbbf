//! oci-tests: a runtime-agnostic conformance suite for OCI runtimes with runc's CLI.
//!
//!   oci-tests --runtime PATH [--rootless] [--systemd-cgroup] [--filter PATTERN] [--jobs N]
//!             [--list] [--table]
//!
//! With `--rootless` every runtime command runs as a throwaway unprivileged user and each
//! bundle starts from runc's rootless config (rootless.rs).
//!
//! --systemd-cgroup: the runtime gets runc's flag of that name and the cgroup cases a
//! `linux.cgroupsPath` of `system.slice:oci-test:ID` (a transient scope; needs systemd).
//!
//! Each case builds a bundle (static busybox and our static checker, see checker/checker.c),
//! runs it with the runtime under test, and compares what the container reports with its
//! config.json. Output: one line per case, then `N passed, N failed, N skipped`.

mod bundle;
mod cases;
mod fields;
mod harness;
mod host;
mod rootless;
mod unix;

use std::path::PathBuf;

/// The in-container checker, built statically by build.rs.
pub const CHECKER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/checker"));

fn usage() -> ! {
    eprintln!(
        "usage: oci-tests --runtime PATH [--rootless] [--systemd-cgroup] [--filter PATTERN] [--jobs N] [--list] [--table]"
    );
    std::process::exit(2)
}

fn main() {
    let mut runtime = None;
    let (mut filter, mut jobs) = (String::new(), 2usize);
    let (mut list, mut table, mut rootless, mut systemd) = (false, false, false, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next().map(PathBuf::from),
            "--filter" => filter = args.next().unwrap_or_else(|| usage()),
            "--jobs" => {
                jobs = args
                    .next()
                    .and_then(|j| j.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--list" => list = true,
            "--table" => table = true,
            "--rootless" => rootless = true,
            "--systemd-cgroup" => systemd = true,
            _ => usage(),
        }
    }
    let all = cases::all();
    if table {
        print!("{}", fields::table(&all));
        return;
    }
    let selected: Vec<_> = all.iter().filter(|c| c.name.contains(&filter)).collect();
    if list {
        for c in &selected {
            println!("{}\t{}", c.name, c.covers.join(", "));
        }
        return;
    }
    let Some(runtime) = runtime else { usage() };
    let runtime = std::fs::canonicalize(&runtime).unwrap_or_else(|e| {
        eprintln!("oci-tests: runtime {}: {e}", runtime.display());
        std::process::exit(2)
    });
    let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        eprintln!("oci-tests: no static busybox (apt install busybox-static)");
        std::process::exit(2)
    };
    if !is_root() {
        eprintln!("oci-tests: must run as root");
        std::process::exit(2)
    }
    let (runtime, user) = if rootless {
        rootless_setup(&runtime)
    } else {
        (runtime, None)
    };
    let ctx = harness::Ctx {
        runtime,
        busybox,
        host: host::Host::detect(),
        rootless: user,
        systemd,
    };
    let (p, f, s) = harness::run_all(&ctx, &selected, jobs);
    if let Some(u) = user {
        u.remove();
        let _ = std::fs::remove_dir_all(runtime_copy_dir());
    }
    println!("{p} passed, {f} failed, {s} skipped");
    std::process::exit(if f == 0 { 0 } else { 1 });
}

/// The throwaway user, and the runtime where that user can execute it.
fn rootless_setup(runtime: &std::path::Path) -> (PathBuf, Option<&'static rootless::User>) {
    let user = rootless::User::create().unwrap_or_else(|e| {
        eprintln!("oci-tests: --rootless: {e}");
        std::process::exit(2)
    });
    let user: &'static rootless::User = Box::leak(Box::new(user));
    match rootless::reachable_runtime(runtime, &runtime_copy_dir()) {
        Ok(rt) => (rt, Some(user)),
        Err(e) => {
            user.remove();
            eprintln!("oci-tests: --rootless: copy the runtime: {e}");
            std::process::exit(2)
        }
    }
}

fn runtime_copy_dir() -> PathBuf {
    std::env::temp_dir().join(format!("oci-test-{}-runtime", std::process::id()))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
