//! Mounts and the rootfs through the carrack binary: propagation between the host and the
//! container, masked and read-only paths, submounts under read-only mounts, and the rootfs
//! refusals. Each test checks the host's /proc/self/mountinfo or what the container saw.

mod common;

use common::*;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A tmpfs of the test's own under its bundle dir, made shared on the host, the way a CSI
/// plugin's /var/lib/kubelet is. Dropping it detaches it and everything under it (a mount the
/// container propagated back included).
struct SharedDir {
    path: PathBuf,
}

impl SharedDir {
    fn new(b: &Bundle) -> SharedDir {
        let path = b.dir.join("carrack-test-shared");
        std::fs::create_dir_all(&path).unwrap();
        mount(
            Some("carrack-test-shared"),
            &path,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        let d = SharedDir { path };
        mount(
            None::<&str>,
            &d.path,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .unwrap();
        d
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = umount2(&self.path, MntFlags::MNT_DETACH);
    }
}

/// Give the container's process CAP_SYS_ADMIN, so that it can mount.
fn allow_mount(b: &mut Bundle) {
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
}

/// Mount points in this (the host's) mount namespace at or under `dir`.
fn host_mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// Bind the shared dir at /mnt/s with `options`, set `rootfsPropagation` (None: the default),
/// run a container that mounts a tmpfs at /mnt/s/inner, and return the host's mounts under
/// the shared dir afterwards (the shared tmpfs itself is first).
fn container_mounts_under_bind(
    runtime: &str,
    options: &[&str],
    rootfs_prop: Option<&str>,
) -> Vec<String> {
    let mut b = Bundle::with_runtime(
        runtime,
        &[
            "sh",
            "-c",
            "mkdir -p /mnt/s/inner && mount -t tmpfs carrack-test-inner /mnt/s/inner",
        ],
    );
    let shared = SharedDir::new(&b);
    allow_mount(&mut b);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt/s", "type": "bind",
            "source": shared.path, "options": options}));
    if let Some(p) = rootfs_prop {
        b.config["linux"]["rootfsPropagation"] = json!(p);
    }
    b.write_config();
    let id = b.id("prop");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let seen = host_mounts_under(&shared.path);
    drop(shared);
    assert!(
        host_mounts_under(&b.dir).is_empty(),
        "cleanup left {:?}",
        host_mounts_under(&b.dir)
    );
    seen
}

/// Kubernetes' `mountPropagation: Bidirectional`: containerd binds the volume `rshared` and
/// sets `rootfsPropagation` to rshared; a mount the container makes under it (a CSI node
/// plugin's) must reach the host. runc 1.1.5 passes this test (and the next) too.
#[test]
fn rshared_bind_propagates_container_mounts_to_the_host() {
    let Some(()) = can_run() else { return };
    let seen = container_mounts_under_bind(BIN, &["rbind", "rshared"], Some("rshared"));
    assert_eq!(
        seen.len(),
        2,
        "the container's tmpfs is not on the host: {seen:?}"
    );
    assert!(seen[1].ends_with("/carrack-test-shared/inner"), "{seen:?}");
}

/// Without `rshared` on both, nothing the container mounts reaches the host.
#[test]
fn default_propagation_keeps_container_mounts_off_the_host() {
    let Some(()) = can_run() else { return };
    for (opts, prop) in [
        (&["rbind"][..], None),
        (&["rbind", "rslave"][..], None),
        (&["rbind", "rprivate"][..], None),
        (&["rbind", "rprivate"][..], Some("rshared")),
        (&["rbind", "rshared"][..], Some("rslave")),
        (&["rbind", "rshared"][..], Some("rprivate")),
    ] {
        let seen = container_mounts_under_bind(BIN, opts, prop);
        assert_eq!(
            seen.len(),
            1,
            "{opts:?} {prop:?}: leaked to the host: {seen:?}"
        );
    }
}

/// `rslave` (Kubernetes' HostToContainer): a mount the host makes after the container started
/// shows up inside it.
#[test]
fn rslave_bind_sees_host_mounts_made_later() {
    let Some(()) = can_run() else { return };
    let script = "i=0; while [ ! -e /mnt/s/later/marker ] && [ $i -lt 200 ]; do \
                  sleep 0.05; i=$((i+1)); done; cat /mnt/s/later/marker";
    let mut b = Bundle::new(&["sh", "-c", script]);
    let shared = SharedDir::new(&b);
    std::fs::create_dir(shared.path.join("later")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt/s", "type": "bind",
            "source": shared.path, "options": ["rbind", "rslave"]}));
    b.write_config();
    let id = b.id("hostprop");
    let out_path = b.dir.join("hostprop.out");
    let mut child = b
        .cmd()
        .args(["run", "--bundle"])
        .arg(b.bundle())
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    assert!(b.wait_status(&id, "running"));
    let later = shared.path.join("later");
    mount(
        Some("carrack-test-later"),
        &later,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap();
    std::fs::write(later.join("marker"), "from-the-host").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "from-the-host");
}

/// A masked or read-only path that does not exist is skipped (runc's rule); one that cannot
/// be opened for another reason (a symlink loop, a file used as a directory) fails the create
/// naming the entry, and leaves nothing behind.
#[test]
fn masked_and_readonly_paths_fail_on_errors_other_than_missing() {
    let Some(()) = can_run() else { return };
    for (field, bad) in [
        ("maskedPaths", "/loop/x"),
        ("maskedPaths", "/bin/busybox/x"),
        ("readonlyPaths", "/loop"),
        ("readonlyPaths", "/bin/busybox/x"),
    ] {
        let mut b = Bundle::new(&["true"]);
        std::os::unix::fs::symlink("loop", b.rootfs().join("loop")).unwrap();
        b.config["linux"][field] = json!(["/carrack-test-absent", bad]);
        b.write_config();
        let id = b.id("paths");
        let out = b.rt_bundle("run", &id, &[]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{field} {bad}: run succeeded");
        assert!(
            err.contains(&format!("linux.{field}[1]")),
            "{field} {bad}: {err}"
        );
        assert_nothing_left(&b, &id, &id, &format!("{field} {bad}"));
    }
    // Missing entries alone are skipped.
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["maskedPaths"] = json!(["/carrack-test-absent", "/proc/carrack-x"]);
    b.config["linux"]["readonlyPaths"] = json!(["/carrack-test-absent/y"]);
    b.write_config();
    let out = b.rt_bundle("run", &b.id("absent"), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The options of the mount at `point` in a mountinfo text (the per-mount options field).
fn mount_options<'a>(mountinfo: &'a str, point: &str) -> Option<&'a str> {
    mountinfo
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .rfind(|f| f.get(4) == Some(&point))
        .map(|f| f[5])
}

/// A read-only `/dev` tmpfs with `/dev/pts` and the devices under it, and a read-only bind
/// and tmpfs with a later mount under a mount point they lack: the submounts are made first
/// and `ro` applied afterwards (runc's finalizeRootfs), with a terminal too (/dev/console).
#[test]
fn read_only_mounts_get_their_later_submounts() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/mountinfo; ls /dev/null /dev/pts/ptmx >/dev/null || echo DEVS-MISSING; \
         touch /dev/x /mnt/b/x /mnt/t/x 2>/dev/null && echo WRITABLE; true",
    ]);
    let src = b.dir.join("carrack-test-bind-src");
    std::fs::create_dir(&src).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    for m in mounts.iter_mut() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    mounts.extend([
        json!({"destination": "/mnt/b", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
        json!({"destination": "/mnt/b/sub", "type": "tmpfs", "source": "tmpfs"}),
        json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid"]}),
        json!({"destination": "/mnt/t/sub/deeper", "type": "tmpfs", "source": "tmpfs"}),
    ]);
    b.write_config();
    let out = b.rt_bundle("run", &b.id("rodev"), &[]);
    let info = text(&out.stdout);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    assert!(
        !info.contains("DEVS-MISSING") && !info.contains("WRITABLE"),
        "{info}"
    );
    for (point, want) in [
        ("/dev", "ro,nosuid"),
        ("/dev/pts", "rw"),
        ("/mnt/b", "ro"),
        ("/mnt/b/sub", "rw"),
        ("/mnt/t", "ro,nosuid"),
        ("/mnt/t/sub/deeper", "rw"),
    ] {
        let opts = mount_options(&info, point).unwrap_or_else(|| panic!("no {point}: {info}"));
        assert!(opts.starts_with(want), "{point}: {opts}");
    }
}

/// With a terminal the pty is bound over /dev/console after the mounts: a read-only /dev
/// must still take it.
#[test]
fn read_only_dev_takes_the_console() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    b.config["process"]["terminal"] = true.into();
    b.write_config();
    let sock = b.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let rx = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        recv_fd(&conn).unwrap()
    });
    let id = b.id("roconsole");
    let out = b.rt_bundle("create", &id, &["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    rx.join().unwrap();
}

/// A rootfs whose /proc or /sys is a symlink (or a file) is refused, naming the mount, and
/// nothing is mounted where the link points (CVE-2019-19921 class).
#[test]
fn proc_and_sys_on_a_symlink_are_refused() {
    let Some(()) = can_run() else { return };
    for (dest, kind) in [("proc", "symlink"), ("sys", "symlink"), ("proc", "file")] {
        let b = Bundle::new(&["true"]);
        let rootfs = b.rootfs();
        std::fs::remove_dir(rootfs.join(dest)).unwrap();
        std::fs::create_dir(rootfs.join("elsewhere")).unwrap();
        if kind == "symlink" {
            std::os::unix::fs::symlink("/elsewhere", rootfs.join(dest)).unwrap();
        } else {
            std::fs::write(rootfs.join(dest), "").unwrap();
        }
        let id = b.id("procsym");
        let out = b.rt_bundle("run", &id, &[]);
        let err = text(&out.stderr);
        let what = format!("/{dest} as a {kind}");
        assert!(!out.status.success(), "{what}: run succeeded");
        let index = if dest == "proc" { 0 } else { 5 };
        assert!(
            err.contains(&format!("mounts[{index}] \"/{dest}\"")) && err.contains(kind_word(kind)),
            "{what}: {err}"
        );
        assert_nothing_left(&b, &id, &id, &what);
        assert!(
            std::fs::read_dir(rootfs.join("elsewhere"))
                .unwrap()
                .next()
                .is_none(),
            "{what}: something was made through the link"
        );
    }
}

fn kind_word(kind: &str) -> &str {
    match kind {
        "symlink" => "a symlink",
        _ => "not a directory",
    }
}

/// `rnorelatime` chooses no atime mode (runc's table clears MOUNT_ATTR_RELATIME, which is 0):
/// the mount keeps its own, or an earlier r*atime option's. It applied strictatime. runc 1.1.5
/// gives these four binds the same modes.
#[test]
fn rnorelatime_keeps_the_atime_mode() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let src = b.dir.join("carrack-test-atime");
    std::fs::create_dir(&src).unwrap();
    let cases = [
        (
            "/mnt/a",
            &["rbind", "noatime", "rnorelatime"][..],
            "noatime",
        ),
        ("/mnt/b", &["rbind", "rnorelatime"][..], "relatime"),
        (
            "/mnt/c",
            &["rbind", "rnoatime", "rnorelatime"][..],
            "noatime",
        ),
        ("/mnt/d", &["rbind", "strictatime", "rnorelatime"][..], ""),
    ];
    for (dest, opts, _) in cases {
        b.config["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": dest, "type": "bind", "source": src, "options": opts}));
    }
    b.write_config();
    let out = b.rt_bundle("run", &b.id("atime"), &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let info = text(&out.stdout);
    for (dest, opts, want) in cases {
        let got = mount_options(&info, dest).unwrap_or_else(|| panic!("no {dest}: {info}"));
        let atime: Vec<&str> = got.split(',').filter(|o| o.ends_with("atime")).collect();
        let want: Vec<&str> = [want].into_iter().filter(|w| !w.is_empty()).collect();
        assert_eq!(atime, want, "{opts:?}: {got}");
    }
}

/// With `--no-pivot` the host's procfs must not stay reachable in the container's mount
/// namespace: a process that unshares a user, mount and pid namespace could otherwise mount a
/// fresh procfs without the container's masks (the kernel allows it when a fully visible
/// procfs exists in the namespace). runc's msMoveRoot detaches them first. The same command
/// works up to the mount (`true`), and fails the same way with pivot_root. runc 1.1.5 passes.
#[test]
fn no_pivot_leaves_no_host_procfs_to_mount_a_fresh_one() {
    let Some(()) = can_run() else { return };
    for pivot in [false, true] {
        let mut b = Bundle::new(&[
            "sh",
            "-c",
            "unshare -Urmpf true && echo UNSHARE-OK; mkdir -p /mnt/p; \
             unshare -Urmpf mount -t proc proc /mnt/p && echo MOUNTED; true",
        ]);
        // Mapping root in a new user namespace takes CAP_SETFCAP (Linux 5.12).
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SETFCAP"));
        }
        b.write_config();
        std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/unshare")).unwrap();
        std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/mkdir")).unwrap();
        let id = b.id("nopivot");
        let extra: &[&str] = if pivot { &[] } else { &["--no-pivot"] };
        let out = b.rt_bundle("run", &id, extra);
        let got = text(&out.stdout);
        let what = if pivot { "pivot_root" } else { "--no-pivot" };
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        assert!(got.contains("UNSHARE-OK"), "{what}: {got}");
        assert!(
            !got.contains("MOUNTED"),
            "{what}: a fresh procfs was mounted: {got}"
        );
    }
}

/// Without a mount namespace the container shares the runtime's: carrack chroots into the
/// rootfs and mounts nothing, so nothing of the container is in the host's mount table while
/// it runs or after delete; exec enters the same root. A mount the config asks for is refused
/// (mounts: needs a mount namespace) rather than made on the host.
#[test]
fn without_a_mount_namespace_nothing_is_mounted_on_the_host() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "cat /etc/carrack-marker; exec sleep 60"]);
    std::fs::write(b.rootfs().join("etc/carrack-marker"), "in-the-rootfs\n").unwrap();
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "mount");
    let refused = b.id("nomnt-refused");
    b.write_config();
    let out = b.rt_bundle("run", &refused, &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("mounts: needs a mount namespace"),
        "{}",
        text(&out.stderr)
    );

    b.config["mounts"] = json!([]);
    let linux = b.config["linux"].as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    b.write_config();
    let mentions = || {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = b.dir.to_str().unwrap().to_string();
        info.lines()
            .filter(|l| l.contains(&dir))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let id = b.id("nomnt");
    let out_path = b.dir.join("nomnt.out");
    let out = b
        .cmd()
        .args(["run", "--detach", "--bundle"])
        .arg(b.bundle())
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .status()
        .unwrap();
    assert!(out.success());
    assert!(b.wait_status(&id, "running"));
    let exec = b.rt(&["exec", &id, "cat", "/etc/carrack-marker"]);
    assert!(exec.status.success(), "exec: {}", text(&exec.stderr));
    assert_eq!(text(&exec.stdout), "in-the-rootfs\n");
    assert_eq!(mentions(), Vec::<String>::new(), "while running");
    let del = b.rt(&["delete", "--force", &id]);
    assert!(del.status.success(), "delete: {}", text(&del.stderr));
    assert_eq!(mentions(), Vec::<String>::new(), "after delete");
    assert_nothing_left(&b, &id, &id, "no mount namespace");
    let ours = std::fs::read_to_string(&out_path).unwrap();
    assert_eq!(ours, "in-the-rootfs\n");
}

/// `linux.mountLabel` on a host without SELinux is ignored, as runc does (go-selinux's
/// FormatMountLabel adds nothing then): the container runs and no mount carries `context=`.
/// With SELinux, scripts/vm/selinux.sh checks the labels.
#[test]
fn mount_label_is_ignored_without_selinux() {
    let Some(()) = can_run() else { return };
    if Path::new("/sys/fs/selinux").exists() {
        skip(
            "lsm-host",
            "SELinux is enabled here: scripts/vm/selinux.sh covers it",
        );
        return;
    }
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    b.config["linux"]["mountLabel"] = "system_u:object_r:svirt_tmpfs_t:s0:c1,c2".into();
    b.write_config();
    let out = b.rt_bundle("run", &b.id("mountlabel"), &[]);
    let info = text(&out.stdout);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    assert!(mount_options(&info, "/dev").is_some(), "{info}");
    assert!(!info.contains("context="), "{info}");
}
