//! CVE-2025-52881: the runtime's own writes to /proc (LSM labels under /proc/self/attr,
//! `linux.sysctl` under /proc/sys) were redirected elsewhere: a racing container with a
//! shared mount put something other than procfs (a tmpfs with symlinks, a bind) where the
//! runtime expected /proc, and runc wrote where the attacker chose (with free-form sysctl text,
//! up to /proc/sys/kernel/core_pattern or /proc/sysrq-trigger). The older CVE-2019-16884 /
//! CVE-2019-19921 are the same primitive reached through a volume whose destination is an
//! image symlink into /proc.
//!
//! Deterministic form: the image has `/vol -> /proc/sys/kernel`, the config binds a host
//! volume at /vol and sets `kernel.domainname`. The volume must not end up over procfs, and
//! the sysctl must reach procfs or fail, never the volume.
//! carrack writes sysctls after pivot_root through /proc/sys, checking that /proc/sys is procfs
//! (src/init/mod.rs `write_sysctls`). It writes no LSM attributes (AppArmor and SELinux are not
//! supported: `features` says so).

use crate::common::*;
use crate::util::*;
use serde_json::json;

fn bundle(script: &str) -> (Bundle, std::path::PathBuf) {
    let mut b = new_bundle(&["sh", "-c", script]);
    let vol = b.dir.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("MARKER"), "volume").unwrap();
    symlink("/proc/sys/kernel", &b.rootfs().join("vol"));
    add_mount(&mut b.config, bind("/vol", &vol));
    b.write_config();
    (b, vol)
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn sysctl_write_is_not_redirected_into_a_volume() {
    let Some(()) = can_run() else { return };
    let (mut b, vol) = bundle("true");
    b.config["linux"]["sysctl"] = json!({"kernel.domainname": "pwned"});
    b.write_config();
    let id = b.id("52881-sysctl");
    let _ = b.rt_bundle("run", &id, &[]);
    assert_eq!(
        entries(&vol),
        ["MARKER"],
        "a write meant for /proc/sys/kernel/domainname landed in a host directory"
    );
}

#[test]
fn volume_cannot_be_mounted_over_proc_through_an_image_symlink() {
    let Some(()) = can_run() else { return };
    let (b, _vol) = bundle("stat -f -c %T /proc/sys/kernel; ls /proc/sys/kernel");
    let id = b.id("52881-mount");
    let out = b.rt_bundle("run", &id, &[]);
    if out.status.success() {
        let seen = text(&out.stdout);
        assert!(
            seen.starts_with("proc\n") && !seen.contains("MARKER"),
            "a volume was mounted over /proc/sys/kernel (through the image's /vol symlink), \
             where the runtime writes sysctls:\n{seen}"
        );
    }
}
