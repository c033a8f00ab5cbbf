//! CVE-2021-30465: the runtime resolved a mount's destination inside the rootfs, then mounted
//! onto that *path*; a racing container sharing the directory swapped a component for a
//! symlink in between (renameat2 RENAME_EXCHANGE), and the mount landed on a host path.
//!
//! carrack opens each destination once with openat2(RESOLVE_IN_ROOT) and mounts onto
//! /proc/self/fd/N, the inode it opened (src/linux/fs.rs, src/linux/mounts.rs). The static
//! form (a symlink already in the image) is also the unit test
//! `linux::fs::tests::symlinks_resolve_inside_the_root`; here both forms run end to end.
//!
//! The race test also catches the runtime *creating* a missing destination on the host (the
//! CVE-2024-45310 class): runc 1.1.5 fails it that way.
//!
//! The witness is a createContainer hook: it runs in the container's mount namespace after
//! every mount and before pivot_root, where host paths are still visible, and reports whether
//! a canary directory on the host got anything mounted over it.

use crate::common::*;
use crate::util::*;
use serde_json::json;
use std::path::Path;

/// A canary host directory holding `keep`, and a createContainer hook that appends to
/// `report` if `keep` is hidden or something is mounted on or under the canary.
fn canary_and_hook(b: &mut Bundle) -> (std::path::PathBuf, std::path::PathBuf) {
    let canary = b.dir.join("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("keep"), "keep").unwrap();
    let report = b.dir.join("report");
    let c = canary.display();
    let script = format!(
        "test -e {c}/keep || echo \"HIDDEN {c}/keep\" >> {r}; \
         while read -r a b d e mp rest; do case \"$mp\" in {c}|{c}/*) echo \"MOUNTED-ON-HOST $mp\" >> {r};; esac; done < /proc/self/mountinfo; true",
        r = report.display()
    );
    b.config["hooks"] =
        json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    b.write_config();
    (canary, report)
}

fn canary_untouched(canary: &Path) {
    let names: Vec<String> = std::fs::read_dir(canary)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["keep"],
        "the runtime created entries in a host directory"
    );
}

#[test]
fn symlinked_mount_destinations_stay_in_the_rootfs() {
    let Some(()) = can_run() else { return };
    let mut b = new_bundle(&["true"]);
    let (canary, report) = canary_and_hook(&mut b);
    // One absolute and one relative link out of the rootfs, each used by a tmpfs and a bind.
    symlink(&canary, &b.rootfs().join("abs"));
    let up = "../".repeat(20);
    let rel = format!("{up}{}", canary.strip_prefix("/").unwrap().display());
    symlink(rel, &b.rootfs().join("rel"));
    let src = b.dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("file"), "x").unwrap();
    for dest in ["/abs", "/rel"] {
        add_mount(
            &mut b.config,
            json!({"destination": format!("{dest}/tmpfs"), "type": "tmpfs", "source": "tmpfs"}),
        );
        add_mount(&mut b.config, bind(&format!("{dest}/dir"), &src));
        add_mount(
            &mut b.config,
            bind(&format!("{dest}/file"), &src.join("file")),
        );
    }
    b.write_config();
    let id = b.id("30465-static");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let r = read_or_empty(&report);
    assert!(r.is_empty(), "mounts reached the host: {r}");
    canary_untouched(&canary);
}

#[test]
fn mount_destination_swapped_for_a_symlink_stays_in_the_rootfs() {
    let Some(()) = can_run() else { return };
    let mut b = new_bundle(&["true"]);
    let (canary, report) = canary_and_hook(&mut b);
    let race = b.rootfs().join("race");
    std::fs::create_dir_all(race.join("d")).unwrap();
    symlink(&canary, &race.join("l"));
    add_mount(
        &mut b.config,
        json!({"destination": "/race/d", "type": "tmpfs", "source": "tmpfs"}),
    );
    add_mount(
        &mut b.config,
        json!({"destination": "/race/d/sub", "type": "tmpfs", "source": "tmpfs"}),
    );
    b.write_config();
    let racer = Exchanger::start(&race.join("d"), &race.join("l"));
    let (mut ok, mut failed) = (0, 0);
    for i in 0..80 {
        let id = b.id(&format!("30465-race-{i}"));
        if b.rt_bundle("run", &id, &[]).status.success() {
            ok += 1;
        } else {
            failed += 1; // a lookup that met the swap mid-way may fail: that is safe
        }
    }
    let swaps = racer.swaps();
    drop(racer);
    // Where a lookup met the symlink, carrack followed it inside the root.
    let inside = b.rootfs().join(canary.strip_prefix("/").unwrap()).exists();
    println!("{ok} runs succeeded, {failed} failed, {swaps} swaps; symlink met: {inside}");
    let r = read_or_empty(&report);
    assert!(r.is_empty(), "a mount landed on a host path: {r}");
    canary_untouched(&canary);
}
