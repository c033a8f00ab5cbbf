//! `process.apparmorProfile`, `process.selinuxLabel` and `linux.mountLabel`. The process
//! labels are what the process gets at execve, written to /proc/thread-self/attr (checked to
//! be procfs); the SELinux label also labels the session keyring init makes. On a host
//! without the LSM, runc refuses both process labels (the SELinux label at validation, the
//! AppArmor profile when the write fails); carrack refuses both at validation, before
//! anything is made, naming the field. `linux.mountLabel` is ignored there, as runc does.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;
use std::io::Write;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim_start().starts_with('Y'))
}

/// As go-selinux's GetEnabled (runc): selinuxfs mounted read-write at /sys/fs/selinux and a
/// policy loaded (before the load every process is labelled "kernel"). Asked before
/// pivot_root: the container does not see the host's selinuxfs.
pub fn selinux_enabled() -> bool {
    const SELINUX_MAGIC: i64 = 0xf97c_ff8c;
    let path = c"/sys/fs/selinux";
    // SAFETY: libc::statfs is a C struct of integers, for which all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: libc::statvfs is a C struct of integers, for which all zeroes is a valid value.
    let mut vst: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and structs the kernel fills.
    let ok = unsafe { libc::statfs(path.as_ptr(), &mut st) == 0 }
        && unsafe { libc::statvfs(path.as_ptr(), &mut vst) == 0 };
    // A read-only selinuxfs is how a container is told SELinux is off (go-selinux too).
    if !ok || st.f_type as i64 != SELINUX_MAGIC || vst.f_flag & libc::ST_RDONLY != 0 {
        return false;
    }
    let current = super::fs::proc_open("thread-self/attr/current", libc::O_RDONLY)
        .and_then(|fd| Ok(std::io::read_to_string(std::fs::File::from(fd))?));
    current.is_ok_and(|c| c.trim_end_matches(['\0', '\n']) != "kernel")
}

/// `linux.mountLabel` when it applies: SELinux enabled and the label not empty.
pub fn mount_label(linux: Option<&oci_spec::runtime::Linux>) -> Option<String> {
    let label = linux?.mount_label().as_deref().filter(|l| !l.is_empty())?;
    selinux_enabled().then(|| label.to_string())
}

/// A mount's data with runc's `context="<label>"` appended (go-selinux FormatMountLabel):
/// every file of the mount then carries the label. Quoted: an MCS label has commas
/// (s0:c1,c2), and the kernel's SELinux option parser takes quotes.
pub fn with_mount_label(data: Option<String>, label: Option<&str>) -> Option<String> {
    let Some(label) = label else { return data };
    let context = format!("context=\"{label}\"");
    Some(match data {
        Some(d) if !d.is_empty() => format!("{d},{context}"),
        _ => context,
    })
}

/// Label one file as runc does for /dev/mqueue (its mount takes no `context=`).
pub fn set_file_label(fd: &impl std::os::fd::AsRawFd, label: &str) -> Result<()> {
    // SAFETY: a NUL-terminated name and a buffer of the given length.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            c"security.selinux".as_ptr(),
            label.as_ptr().cast(),
            label.len(),
            0,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("linux.mountLabel {label:?}: set security.selinux"));
    }
    Ok(())
}

/// In init, before the new session keyring is made: the keyring gets `process.selinuxLabel`
/// (runc's SetKeyLabel). execve resets the key-create label, so nothing else is affected.
pub fn set_key_label(p: &Process) -> Result<()> {
    if let Some(l) = p.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr("thread-self/attr/keycreate", l)
            .with_context(|| format!("process.selinuxLabel {l:?}: keyring label"))?;
    }
    Ok(())
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
        // The calling thread's: the label is per thread (go-selinux writes the same file).
        write_attr("thread-self/attr/exec", l)
            .with_context(|| format!("process.selinuxLabel {l:?}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_label_is_a_quoted_context_option() {
        let l = Some("system_u:object_r:svirt_tmpfs_t:s0:c1,c2");
        assert_eq!(
            with_mount_label(Some("mode=755,size=65536k".into()), l).as_deref(),
            Some("mode=755,size=65536k,context=\"system_u:object_r:svirt_tmpfs_t:s0:c1,c2\"")
        );
        assert_eq!(
            with_mount_label(None, l).as_deref(),
            Some("context=\"system_u:object_r:svirt_tmpfs_t:s0:c1,c2\"")
        );
        assert_eq!(
            with_mount_label(Some(String::new()), Some("x")).as_deref(),
            Some("context=\"x\"")
        );
        assert_eq!(
            with_mount_label(Some("mode=755".into()), None).as_deref(),
            Some("mode=755")
        );
        assert_eq!(with_mount_label(None, None), None);
    }
}
