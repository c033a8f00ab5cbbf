//! `process.capabilities` and `process.noNewPrivileges`.
//!
//! Order matters: the bounding set is dropped and PR_SET_KEEPCAPS set while init is still
//! root (`prepare`), then the identity changes, then the four other sets are written (`apply`).
//! A capability this kernel does not know is skipped with a warning, as runc ≥ 1.2 does.

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process};
use std::str::FromStr;

/// The highest capability this kernel knows: a binary search with PR_CAPBSET_READ (EINVAL
/// past the last), 7 calls where probing all 64 took 64, once per process.
fn last_cap() -> u8 {
    static LAST: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        // SAFETY: PR_CAPBSET_READ takes integer arguments only and touches no memory of ours.
        let known = |c: u8| unsafe { libc::prctl(libc::PR_CAPBSET_READ, c as libc::c_ulong) } >= 0;
        let (mut lo, mut hi) = (0u8, 63u8); // cap 0 always exists
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if known(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    })
}

fn supported(cap: Capability) -> bool {
    cap.index() <= last_cap()
}

fn to_set(field: &str, list: Option<&Capabilities>) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    for c in list.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match Capability::from_str(&name) {
            Ok(cap) if supported(cap) => {
                out.insert(cap);
            }
            _ => crate::logging::warn(&format!("{field}: unknown capability {name} skipped")),
        }
    }
    out
}

/// One capset(2) for the effective, permitted and inheritable sets together.
fn capset(
    effective: &CapsHashSet,
    permitted: &CapsHashSet,
    inheritable: &CapsHashSet,
) -> Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mask = |s: &CapsHashSet| s.iter().fold(0u64, |m, c| m | 1 << c.index());
    let (e, p, i) = (mask(effective), mask(permitted), mask(inheritable));
    let data = [
        Data {
            effective: e as u32,
            permitted: p as u32,
            inheritable: i as u32,
        },
        Data {
            effective: (e >> 32) as u32,
            permitted: (p >> 32) as u32,
            inheritable: (i >> 32) as u32,
        },
    ];
    let hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    // SAFETY: capset reads a v3 header and two data structs (_LINUX_CAPABILITY_U32S_3): both
    // repr(C) with the kernel's layouts, alive on the stack for the call.
    if unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("process.capabilities (effective, permitted, inheritable): capset");
    }
    Ok(())
}

/// While still root: drop what is not in the bounding set and keep the rest across setuid.
pub fn prepare(p: &Process) -> Result<()> {
    let Some(c) = p.capabilities() else {
        return Ok(());
    };
    let bounding = to_set("process.capabilities.bounding", c.bounding().as_ref());
    for cap in caps::all()
        .into_iter()
        .filter(|c| supported(*c) && !bounding.contains(c))
    {
        // SAFETY: PR_CAPBSET_DROP takes integer arguments only and touches no memory of ours.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap.index() as libc::c_ulong) };
        if r != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("process.capabilities.bounding: drop {cap}"));
        }
    }
    // SAFETY: PR_SET_KEEPCAPS takes integer arguments only and touches no memory of ours.
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
        // SAFETY: PR_SET_KEEPCAPS takes integer arguments only and touches no memory of ours.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0) };
    }
    if p.no_new_privileges().unwrap_or(false)
        // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only and touches no memory of ours.
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
    // All three in one capset: the kernel checks the new effective set against the new
    // permitted set, so no intermediate state is needed.
    capset(&effective, &permitted, &inheritable)?;
    caps::clear(None, CapSet::Ambient).ok();
    // The kernel only raises an ambient capability that is also permitted and inheritable;
    // like runc, skip the others, quietly: runc's own default spec lists such caps, so a
    // warning would reach every such container's stderr (logging.rs).
    for cap in ambient {
        if !(permitted.contains(&cap) && inheritable.contains(&cap)) {
            crate::logging::debug(&format!(
                "process.capabilities.ambient: {cap} skipped: not in both permitted and inheritable"
            ));
            continue;
        }
        caps::raise(None, CapSet::Ambient, cap)
            .with_context(|| format!("process.capabilities.ambient: raise {cap}"))?;
    }
    Ok(())
}
