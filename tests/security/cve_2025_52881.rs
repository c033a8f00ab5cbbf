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
//! (src/init/mod.rs `write_sysctls`).
//!
//! The LSM label (`process.apparmorProfile`, `exec --apparmor`) is written to
//! /proc/self/attr/exec (or attr/apparmor/exec) just before execve, through `proc_open`
//! (src/linux/lsm.rs). Its reproducers give the container a /proc that is not procfs (a bind
//! of a host directory: /proc is a legal mount destination), or a bind over /proc/self/attr,
//! and check that the label never lands in the host directory. carrack only writes the label
//! when the host runs the LSM; on a host without AppArmor the runtime is started in a mount
//! namespace of its own where /sys/module/apparmor/parameters/enabled says Y (`AppArmorView`),
//! so the write is reached; the real procfs would then refuse it (EINVAL), a fake one not.

use crate::common::*;
use crate::util::*;
use serde_json::json;
use std::path::{Path, PathBuf};

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

/// A wrapper that runs the runtime in a mount namespace of its own with a tmpfs on
/// /sys/module in which AppArmor is enabled, so that `process.apparmorProfile` passes
/// validation and carrack writes the label. The tmpfs stays in that namespace.
struct AppArmorView {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl AppArmorView {
    fn new() -> AppArmorView {
        let dir = tempfile::Builder::new()
            .prefix("carrack-test-apparmor-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("carrack");
        let script = format!(
            "#!/bin/sh\nexec unshare --mount --propagation private sh -c '\
             mount -t tmpfs carrack-test-apparmor /sys/module && \
             mkdir -p /sys/module/apparmor/parameters && \
             echo Y > /sys/module/apparmor/parameters/enabled && exec \"$0\" \"$@\"' {} \"$@\"\n",
            runtime()
        );
        // Written by a child: a write fd held by this multi-threaded process could leak into
        // a concurrent fork and make the execve of the script fail with ETXTBSY.
        let st = std::process::Command::new("sh")
            .args([
                "-c",
                "printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"",
                "sh",
            ])
            .arg(&script)
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "write {}", path.display());
        AppArmorView { _dir: dir, path }
    }

    fn bundle(&self, args: &[&str]) -> Bundle {
        Bundle::with_runtime(self.path.to_str().unwrap(), args)
    }
}

/// Every file under `dir` with its content.
fn tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(tree(&p));
        } else {
            v.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
        }
    }
    v.sort();
    v
}

/// A host directory laid out as the attr files of /proc/self and /proc/thread-self, all empty.
fn fake_proc(dir: &Path) -> Vec<(PathBuf, String)> {
    for d in ["self/attr", "thread-self/attr"] {
        put(&dir.join(d).join("exec"), "", 0o644);
        put(&dir.join(d).join("apparmor/exec"), "", 0o644);
    }
    tree(dir)
}

/// /proc bound from `fake`. Without masked and read-only paths: carrack mounts those through
/// /proc/self/fd/N, which a fake /proc lacks (it would fail closed before the label).
fn fake_proc_mount(config: &mut serde_json::Value, fake: &Path) {
    replace_mount(config, "/proc", bind("/proc", fake));
    config["linux"]["maskedPaths"] = json!([]);
    config["linux"]["readonlyPaths"] = json!([]);
}

const PROFILE: &str = "carrack-test-profile";

/// The write was made and refused: validation passed (AppArmor looked enabled) and the error
/// names the field.
fn assert_label_refused(stderr: &str) {
    assert!(
        stderr.contains("process.apparmorProfile") && !stderr.contains("not enabled"),
        "the label write was not reached (the reproducer does not test it): {stderr}"
    );
}

#[test]
fn apparmor_label_is_not_written_into_a_fake_proc() {
    let Some(()) = can_run() else { return };
    let view = AppArmorView::new();
    let mut b = view.bundle(&["true"]);
    let fake = b.dir.join("fakeproc");
    let before = fake_proc(&fake);
    b.config["process"]["apparmorProfile"] = PROFILE.into();
    fake_proc_mount(&mut b.config, &fake);
    b.write_config();
    let id = b.id("52881-attr-run");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(
        tree(&fake),
        before,
        "the runtime wrote the AppArmor label into the container's fake /proc (a host \
         directory): {}",
        text(&out.stderr)
    );
    assert_label_refused(&text(&out.stderr));
}

#[test]
fn exec_apparmor_label_is_not_written_into_a_fake_proc() {
    let Some(()) = can_run() else { return };
    let view = AppArmorView::new();
    let mut b = view.bundle(&["sleep", "60"]);
    let fake = b.dir.join("fakeproc");
    let before = fake_proc(&fake);
    fake_proc_mount(&mut b.config, &fake);
    b.write_config();
    let id = b.id("52881-attr-exec");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let out = b.rt(&["exec", "--apparmor", PROFILE, &id, "true"]);
    assert_eq!(
        tree(&fake),
        before,
        "exec --apparmor wrote the label into the container's fake /proc (a host directory): \
         {}",
        text(&out.stderr)
    );
    assert_label_refused(&text(&out.stderr));
}

/// A real procfs, with a host directory bound over /proc/self/attr (init is /proc/self when
/// the mounts are made, and writes its own label later).
#[test]
fn apparmor_label_is_not_written_through_a_bind_over_proc_self_attr() {
    let Some(()) = can_run() else { return };
    let view = AppArmorView::new();
    let mut b = view.bundle(&["true"]);
    let fake = b.dir.join("fakeproc");
    let before = fake_proc(&fake);
    b.config["process"]["apparmorProfile"] = PROFILE.into();
    add_mount(
        &mut b.config,
        bind("/proc/self/attr", &fake.join("self/attr")),
    );
    b.write_config();
    let id = b.id("52881-attr-bind");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(
        tree(&fake),
        before,
        "the runtime wrote the AppArmor label through a bind over /proc/self/attr into a host \
         directory: {}",
        text(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "a bind over /proc/self/attr was accepted"
    );
}
