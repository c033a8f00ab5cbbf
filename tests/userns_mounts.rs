//! A container with a user namespace whose mapped root (host uid 100000) cannot traverse the
//! host directories holding its bundle and its bind sources (0700, owned by host root): the
//! runtime opens them from the host's side and hands them to init (src/sync.rs).

mod common;

use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `b`'s bundle moved into `<dir>/private` (0700), its old place a symlink to it; a bind of
/// `<dir>/hidden/src` (inside another 0700 dir) on /data; uid and gid 0 mapped to 100000.
fn hidden_bundle(args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    let private = b.dir.join("private");
    let hidden = b.dir.join("hidden/src");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::write(hidden.join("f"), "from the hidden source\n").unwrap();
    for d in [&private, &b.dir.join("hidden")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::rename(b.bundle(), private.join("bundle")).unwrap();
    std::os::unix::fs::symlink("private/bundle", b.bundle()).unwrap();
    // Made here: the container's root (host 100000) may not write the host-owned rootfs.
    std::fs::create_dir_all(b.rootfs().join("data")).unwrap();
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    for m in ["uidMappings", "gidMappings"] {
        b.config["linux"][m] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": hidden, "options": ["rbind", "ro"]}),
    );
    b.write_config();
    b
}

#[test]
fn bundle_and_bind_source_in_untraversable_dirs_work_for_run_and_exec() {
    let Some(()) = can_run() else { return };
    let mut b = hidden_bundle(&["sleep", "60"]);
    // The same hidden source idmapped through the container's mappings: the parent's
    // detached tree (linux/idmap.rs) next to the fds it sends.
    std::fs::create_dir_all(b.rootfs().join("idm")).unwrap();
    let src = b.dir.join("hidden/src");
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/idm", "type": "bind", "source": src, "options": ["rbind", "idmap"]}),
    );
    b.write_config();
    let id = b.id("usernshidden");
    let out = b.rt_bundle("run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));

    let out = b.rt(&[
        "exec",
        "--cwd",
        "/data",
        &id,
        "sh",
        "-c",
        "cat f; pwd; id -u; stat -c %u f /idm/f; cat /proc/self/uid_map",
    ]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    // The host's root owns f: unmapped (overflow uid) through the plain bind, the
    // container's root through the idmapped one.
    let want = ["from the hidden source", "/data", "0", "65534", "0"];
    assert_eq!(lines[..5], want, "{t}");
    let map: Vec<&str> = lines[5].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{t}");
    // The container really runs as the unprivileged host uid.
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid.split_whitespace().nth(1), Some("100000"), "{uid}");

    let out = b.rt(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_nothing_left(&b, &id, &id, "after delete");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = b.dir.to_string_lossy().into_owned();
    assert!(!mounts.contains(&dir), "a mount under {dir} is left");
}

/// `--no-pivot` moves the rootfs by its fd too; runc 1.1.5 opens a bind source from the
/// host's side (but not the rootfs): the bind-source half on its own; and a source missing on
/// the host is still named in the error.
#[test]
fn no_pivot_a_reachable_bundle_and_a_missing_source() {
    let Some(()) = can_run() else { return };
    let mut b = hidden_bundle(&["cat", "/data/f"]);
    let id = b.id("usernsnopivot");
    let out = b.rt_bundle("run", &id, &["--no-pivot"]);
    assert!(
        out.status.success(),
        "run --no-pivot: {}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stdout),
        "from the hidden source
"
    );

    std::fs::set_permissions(
        b.dir.join("private"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let id = b.id("usernssrc");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from the hidden source\n");

    let missing = b.dir.join("hidden/nope");
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    let last = mounts.len() - 1;
    mounts[last]["source"] = Value::from(missing.to_str().unwrap());
    b.write_config();
    let id = b.id("usernsmissing");
    let out = b.rt_bundle("run", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let want = format!("mounts[{last}] \"/data\": source {}", missing.display());
    assert!(err.contains(&want), "{err}");
    assert!(!b.root.join(&id).exists(), "state left");
    assert!(!Path::new(&missing).exists());
}
