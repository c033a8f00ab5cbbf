//! One planned write into a cgroup file, and the executor that performs a list of them.
//!
//! Planners (v1.rs, v2.rs) turn OCI fields into `Write`s without touching anything but the
//! files they must read to decide an order; `run` then writes them, so every failure names
//! the OCI field, its value and the file, e.g.
//! `linux.resources.memory.limit 1024: write /…/memory.limit_in_bytes: Device or resource busy`.

use anyhow::{bail, Result};
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// OCI path of the field, e.g. "linux.resources.memory.limit".
    pub field: String,
    /// The OCI value as the user wrote it.
    pub shown: String,
    /// File name inside the cgroup dir.
    pub file: String,
    /// What is written.
    pub value: String,
    /// On EINVAL, try again after the rest of the list (values that the kernel checks
    /// against a partner being set in the same batch: cfs period vs quota, rt period vs runtime).
    pub retry_einval: bool,
    /// A missing file is not an error (the value is the kernel default anyway).
    pub ok_if_missing: bool,
    /// Read back and compare: the kernel clamps some values silently (cpu.shares).
    pub verify: bool,
}

impl Write {
    pub fn new(
        field: impl Into<String>,
        shown: impl ToString,
        file: impl Into<String>,
        value: impl ToString,
    ) -> Write {
        Write {
            field: field.into(),
            shown: shown.to_string(),
            file: file.into(),
            value: value.to_string(),
            retry_einval: false,
            ok_if_missing: false,
            verify: false,
        }
    }

    pub fn retry_einval(mut self, on: bool) -> Write {
        self.retry_einval = on;
        self
    }

    pub fn ok_if_missing(mut self) -> Write {
        self.ok_if_missing = true;
        self
    }

    pub fn verify(mut self) -> Write {
        self.verify = true;
        self
    }

    fn attempt(&self, dir: &Path) -> std::io::Result<()> {
        super::write_file(&dir.join(&self.file), &self.value)
    }

    /// Like `attempt`, through `open` when it already holds this file: consecutive writes to
    /// one file (the device rules of devices.allow) share one open. Each write(2) is still
    /// one separate request to the kernel.
    fn attempt_in(&self, dir: &Path, open: &mut Option<(String, fs::File)>) -> std::io::Result<()> {
        use std::io::Write as _;
        if open.as_ref().is_none_or(|(f, _)| *f != self.file) {
            *open = None;
            let f = fs::OpenOptions::new()
                .write(true)
                .open(dir.join(&self.file))?;
            *open = Some((self.file.clone(), f));
        }
        let (_, f) = open.as_mut().expect("opened above");
        f.write_all(self.value.as_bytes())
    }

    fn error(&self, dir: &Path, e: &std::io::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "{} {}: write {}: {}",
            self.field,
            self.shown,
            dir.join(&self.file).display(),
            describe(e)
        )
    }

    fn check(&self, dir: &Path) -> Result<()> {
        if !self.verify {
            return Ok(());
        }
        let path = dir.join(&self.file);
        let got = fs::read_to_string(&path).unwrap_or_default();
        if got.trim() != self.value.trim() {
            bail!(
                "{} {}: {} holds {} after writing {} (out of the kernel's range)",
                self.field,
                self.shown,
                path.display(),
                got.trim(),
                self.value
            );
        }
        Ok(())
    }
}

/// The errno text without Rust's "(os error N)" suffix.
pub fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Perform `writes` in order in `dir`; EINVAL on a `retry_einval` write defers it to the end.
pub fn run(dir: &Path, writes: &[Write]) -> Result<()> {
    // File names come from config values (hugetlb page sizes, unified keys): never a path.
    if let Some(w) = writes
        .iter()
        .find(|w| w.file.contains('/') || w.file.starts_with('.'))
    {
        bail!(
            "{} {}: {:?} is not a cgroup file name",
            w.field,
            w.shown,
            w.file
        );
    }
    let mut deferred = Vec::new();
    let mut open = None;
    for w in writes {
        match w.attempt_in(dir, &mut open) {
            Ok(()) => w.check(dir)?,
            Err(e) if w.ok_if_missing && e.kind() == ErrorKind::NotFound => {}
            Err(e) if w.retry_einval && e.raw_os_error() == Some(libc::EINVAL) => deferred.push(w),
            Err(e) => return Err(w.error(dir, &e)),
        }
    }
    for w in deferred {
        w.attempt(dir).map_err(|e| w.error(dir, &e))?;
        w.check(dir)?;
    }
    Ok(())
}

/// Read a cgroup file, trimmed; errors name the file.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    crate::linux::fs::read_text(&p)
        .map(|s| s.trim().to_string())
        .map_err(|e| anyhow::anyhow!("read {}: {}", p.display(), describe(&e)))
}
