//! `process.apparmorProfile` and `process.selinuxLabel`: the label the process gets at
//! execve, written to /proc/self/attr (checked to be procfs). On a host without the LSM,
//! runc refuses both (the SELinux label at validation, the AppArmor profile when the write
//! fails); carrack refuses both at validation, before anything is made, naming the field.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use std::io::Write;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim_start().starts_with('Y'))
}

pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Validation: a label for an LSM this host does not run is an error.
pub fn check(p: &Process) -> Result<()> {
    if let Some(a) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
        if !apparmor_enabled() {
            bail!("process.apparmorProfile {a:?}: AppArmor is not enabled on this host");
        }
    }
    if let Some(l) = p.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            bail!("process.selinuxLabel {l:?}: SELinux is disabled or not supported on this host");
        }
    }
    Ok(())
}

/// In init, before execve: ask the LSMs to label the process at exec.
pub fn apply(p: &Process) -> Result<()> {
    if let Some(a) = p.apparmor_profile().as_deref().filter(|a| !a.is_empty()) {
        let path = if std::path::Path::new("/proc/self/attr/apparmor/exec").exists() {
            "self/attr/apparmor/exec"
        } else {
            "self/attr/exec"
        };
        write_attr(path, &format!("exec {a}"))
            .with_context(|| format!("process.apparmorProfile {a:?}"))?;
    }
    if let Some(l) = p.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr("self/attr/exec", l).with_context(|| format!("process.selinuxLabel {l:?}"))?;
    }
    Ok(())
}

/// Through `proc_open`: a bind mount over the attr file must not redirect the write.
fn write_attr(rel: &str, value: &str) -> Result<()> {
    let fd = super::fs::proc_open(rel, libc::O_WRONLY)?;
    std::fs::File::from(fd)
        .write_all(value.as_bytes())
        .with_context(|| format!("write /proc/{rel}"))
}
