//! Test-only positive controls: each switches one security defence off so that scripts/test
//! can show that its reproducer in tests/security/ catches the escape. Compiled in only with
//! the cargo feature `insecure-controls` (a release build refuses it: src/main.rs); one build
//! serves every control, and `CARRACK_INSECURE=<name>` in the environment chooses which
//! defence is off (scripts/test runs each reproducer with its own). Without the feature
//! `off` is a constant false and the compiler drops the insecure branches.

/// A defence that a positive control can switch off; the name is the CVE it defends against.
#[derive(Clone, Copy)]
pub enum Defence {
    /// CVE-2019-5736: no read-only re-exec, clones stay dumpable.
    ReadonlyExe,
    /// CVE-2021-30465: rootfs paths resolved without RESOLVE_IN_ROOT.
    ResolveInRoot,
    /// CVE-2024-21626: cwd opened by path, the runtime's fds reach the process.
    FdIsolation,
    /// CVE-2025-31133: masks bound from whatever /dev/null leads to.
    NullCheck,
    /// CVE-2025-52565: console bound by name, before the masks.
    ConsoleFd,
    /// CVE-2025-52881: mounts into /proc allowed, /proc writes by path.
    ProcChecks,
}

impl Defence {
    /// The value of CARRACK_INSECURE that switches this defence off.
    #[cfg_attr(not(feature = "insecure-controls"), allow(dead_code))]
    pub const fn name(self) -> &'static str {
        match self {
            Defence::ReadonlyExe => "no-readonly-exe",
            Defence::ResolveInRoot => "no-resolve-in-root",
            Defence::FdIsolation => "no-fd-isolation",
            Defence::NullCheck => "no-null-check",
            Defence::ConsoleFd => "no-console-fd",
            Defence::ProcChecks => "no-proc-checks",
        }
    }
}

/// True when the test-only build was asked to run with `d` switched off.
#[inline(always)]
pub fn off(d: Defence) -> bool {
    #[cfg(feature = "insecure-controls")]
    {
        std::env::var_os("CARRACK_INSECURE").is_some_and(|v| v == d.name())
    }
    #[cfg(not(feature = "insecure-controls"))]
    {
        let _ = d;
        false
    }
}
