//! `process.capabilities` and `process.noNewPrivileges`.
//!
//! Order matters: the bounding set is dropped and PR_SET_KEEPCAPS set while init is still
//! root (`prepare`), then the identity changes, then the four other sets are written (`apply`).
//! A capability this kernel does not know is skipped with a warning, as runc ≥ 1.2 does.

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process};
use std::str::FromStr;

fn to_set(field: &str, list: Option<&Capabilities>) -> CapsHashSet {
    let supported = caps::runtime::thread_all_supported();
    let mut out = CapsHashSet::new();
    for c in list.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match Capability::from_str(&name) {
            Ok(cap) if supported.contains(&cap) => {
                out.insert(cap);
            }
            _ => crate::logging::warn(&format!("{field}: unknown capability {name} skipped")),
        }
    }
    out
}

/// While still root: drop what is not in the bounding set and keep the rest across setuid.
pub fn prepare(p: &Process) -> Result<()> {
    let Some(c) = p.capabilities() else {
        return Ok(());
    };
    let bounding = to_set("process.capabilities.bounding", c.bounding().as_ref());
    for cap in caps::runtime::thread_all_supported() {
        if !bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .with_context(|| format!("process.capabilities.bounding: drop {cap}"))?;
        }
    }
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1) } != 0 {
        return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_KEEPCAPS)");
    }
    Ok(())
}

/// After the identity change: permitted, inheritable, effective, then ambient; then
/// no_new_privs, last, because it must not stop our own setup.
pub fn apply(p: &Process) -> Result<()> {
    if let Some(c) = p.capabilities() {
        set_sets(c)?;
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0) };
    }
    if p.no_new_privileges().unwrap_or(false)
        && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0
    {
        return Err(std::io::Error::last_os_error()).context("process.noNewPrivileges: prctl");
    }
    Ok(())
}

fn set_sets(c: &LinuxCapabilities) -> Result<()> {
    let permitted = to_set("process.capabilities.permitted", c.permitted().as_ref());
    let inheritable = to_set("process.capabilities.inheritable", c.inheritable().as_ref());
    let effective = to_set("process.capabilities.effective", c.effective().as_ref());
    let ambient = to_set("process.capabilities.ambient", c.ambient().as_ref());
    // Effective first would fail when it is not a subset of the new permitted set; permitted
    // first would fail while effective still holds more. Shrink effective to the overlap.
    let overlap: CapsHashSet = effective.intersection(&permitted).copied().collect();
    caps::set(None, CapSet::Effective, &overlap).context("process.capabilities.effective")?;
    caps::set(None, CapSet::Permitted, &permitted).context("process.capabilities.permitted")?;
    caps::set(None, CapSet::Inheritable, &inheritable)
        .context("process.capabilities.inheritable")?;
    caps::set(None, CapSet::Effective, &effective).context("process.capabilities.effective")?;
    caps::clear(None, CapSet::Ambient).ok();
    // The kernel only raises an ambient capability that is also permitted and inheritable;
    // like runc, skip the others with a warning (runc's own default spec lists such caps).
    for cap in ambient {
        if !(permitted.contains(&cap) && inheritable.contains(&cap)) {
            crate::logging::warn(&format!(
                "process.capabilities.ambient: {cap} skipped: not in both permitted and inheritable"
            ));
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap)
            .with_context(|| format!("process.capabilities.ambient: raise {cap}"))?;
    }
    Ok(())
}
