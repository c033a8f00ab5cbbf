//! CVE-2025-31133: `linux.maskedPaths` files are masked by bind-mounting the container's
//! /dev/null over them. runc took /dev/null by path, without checking that it was the null
//! device: an attacker who replaced it (racing through a shared mount) with a symlink got any
//! file bind-mounted read-write over the masked path (a writable /proc/sys/kernel/core_pattern
//! is a host root), and one who deleted it made runc skip the masking silently.
//!
//! Deterministic form: /dev is a bind of a directory the attacker controls (the shared mount of
//! the advisory, without the timing), its `null` a symlink to a file on the host. A masked path
//! must then be the null device or the container must not start; writing to it must not reach
//! the host file.

use crate::common::*;
use crate::util::*;
use serde_json::json;

/// A bundle with /dev bound from `<dir>/devvol` (no tmpfs: the attacker's entries stay
/// visible and carrack creates no device there), a host volume at /hostvol holding `f`, and
/// an extra masked file /etc/secret of the image.
fn bundle(script: &str) -> Bundle {
    let mut b = new_bundle(&["sh", "-c", script]);
    let devvol = b.dir.join("devvol");
    let hostvol = b.dir.join("hostvol");
    std::fs::create_dir_all(&devvol).unwrap();
    std::fs::create_dir_all(&hostvol).unwrap();
    std::fs::write(hostvol.join("f"), "original").unwrap();
    std::fs::write(b.rootfs().join("etc/secret"), "SECRET").unwrap();
    remove_mounts(&mut b.config, &["/dev/pts", "/dev/shm", "/dev/mqueue"]);
    replace_mount(&mut b.config, "/dev", bind("/dev", &devvol));
    add_mount(&mut b.config, bind("/hostvol", &hostvol));
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/etc/secret"));
    b.write_config();
    b
}

#[test]
fn masked_paths_get_the_null_device_not_what_dev_null_points_to() {
    let Some(()) = can_run() else { return };
    // No redirection to /dev/null in the script: it is the attacker's link here.
    let b = bundle(
        "stat -c '%n %F %t:%T' /etc/secret /proc/timer_list > /tmp/r 2>&1; \
         echo pwned > /etc/secret; echo pwned > /proc/timer_list; true",
    );
    symlink("/hostvol/f", &b.dir.join("devvol/null"));
    let id = b.id("31133-link");
    let out = b.rt_bundle("run", &id, &[]);
    let host = std::fs::read_to_string(b.dir.join("hostvol/f")).unwrap();
    let seen = read_or_empty(&b.rootfs().join("tmp/r"));
    assert_eq!(
        host, "original",
        "a masked path was bound from the target of the container's /dev/null symlink and the \
         container wrote through it to a host file; masked paths in the container:\n{seen}"
    );
    if out.status.success() {
        for line in seen.lines().filter(|l| !l.contains("No such file")) {
            assert!(
                line.ends_with("character special file 1:3"),
                "masked path is not the null device: {line}"
            );
        }
    }
}

#[test]
fn masking_is_not_skipped_when_dev_null_is_missing() {
    let Some(()) = can_run() else { return };
    let b = bundle("cat /etc/secret");
    let id = b.id("31133-missing");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(
        !text(&out.stdout).contains("SECRET"),
        "the container read a masked file: masking was skipped without /dev/null"
    );
}

/// Variant: /dev/null a hard link to a host file. No symlink is on the way, so opening it
/// with O_NOFOLLOW or in the root changes nothing: only checking that it is the null device
/// (char 1:3) stops the bind. (A directory there cannot be bound over a file at all.)
#[test]
fn masking_with_a_hard_link_at_dev_null_does_not_expose_the_host_file() {
    let Some(()) = can_run() else { return };
    let b = bundle("cat /etc/secret; echo pwned > /etc/secret");
    std::fs::hard_link(b.dir.join("hostvol/f"), b.dir.join("devvol/null")).unwrap();
    let id = b.id("31133-hardlink");
    let out = b.rt_bundle("run", &id, &[]);
    let host = std::fs::read_to_string(b.dir.join("hostvol/f")).unwrap();
    assert_eq!(
        host,
        "original",
        "a masked path was bound from the host file linked at the container's /dev/null and \
         the container wrote through it; it read: {}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stdout).contains("SECRET"),
        "the container read a masked file"
    );
}
