//! `--systemd-cgroup`: linux.cgroupsPath in systemd's "slice:prefix:name" form, mapped to the
//! cgroupfs path systemd would give the unit (prefix-name.scope under the expanded slice), as
//! runc's mapping does. Creating the unit over D-Bus is not done yet, so the flag needs a
//! running systemd to own that tree, and is refused with a clear error without one.

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Called by main for --systemd-cgroup.
pub fn enable() -> Result<()> {
    if !std::path::Path::new("/run/systemd/system").exists() {
        bail!("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs driver");
    }
    ENABLED.store(true, Ordering::Relaxed);
    Ok(())
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" (the root slice) -> "/".
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        bail!("linux.cgroupsPath: {slice:?} is not a slice name (*.slice)");
    };
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    if stem.is_empty()
        || stem.contains('/')
        || stem.starts_with('-')
        || stem.ends_with('-')
        || stem.contains("--")
    {
        bail!("linux.cgroupsPath: {slice:?} is not a valid slice name");
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// The cgroupfs path for `cgroups_path` ("slice:prefix:name", or empty for the default
/// "system.slice:carrack:<id>").
pub fn path_for(cgroups_path: Option<&str>, id: &str) -> Result<PathBuf> {
    let spec = cgroups_path.filter(|p| !p.is_empty());
    let (slice, prefix, name) = match spec {
        None => ("system.slice", "carrack", id),
        Some(p) => {
            let parts: Vec<&str> = p.split(':').collect();
            let [slice, prefix, name] = parts[..] else {
                bail!(
                    "linux.cgroupsPath {p:?}: with --systemd-cgroup it must be slice:prefix:name"
                );
            };
            (
                if slice.is_empty() {
                    "system.slice"
                } else {
                    slice
                },
                prefix,
                name,
            )
        }
    };
    let mut path = expand_slice(slice)?;
    if name.ends_with(".slice") {
        // A slice as the unit: it nests under the parent by its own expansion.
        let own = expand_slice(name)?;
        path.push(own.file_name().unwrap_or_default());
    } else if prefix.is_empty() {
        path.push(format!("{name}.scope"));
    } else {
        path.push(format!("{prefix}-{name}.scope"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_mapping() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("/system.slice")
        );
        assert_eq!(
            expand_slice("machine-foo-bar.slice").unwrap(),
            PathBuf::from("/machine.slice/machine-foo.slice/machine-foo-bar.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::from("/"));
        assert!(expand_slice("a--b.slice").is_err() && expand_slice("x.scope").is_err());
        assert_eq!(
            path_for(Some("machine.slice:libpod:abc"), "x").unwrap(),
            PathBuf::from("/machine.slice/libpod-abc.scope")
        );
        assert_eq!(
            path_for(None, "c1").unwrap(),
            PathBuf::from("/system.slice/carrack-c1.scope")
        );
        assert_eq!(
            path_for(Some(":pre:n"), "x").unwrap(),
            PathBuf::from("/system.slice/pre-n.scope")
        );
        let e = path_for(Some("/plain/path"), "x").unwrap_err();
        assert!(e.to_string().contains("slice:prefix:name"), "{e}");
    }
}
