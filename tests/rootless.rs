//! Rootless containers (issue 21): an unprivileged test user, made for each test with
//! /etc/subuid and /etc/subgid ranges and removed at the end (even when the test fails), runs
//! carrack through `setpriv`. Lifecycle, exec, ps, kill, delete --force, a terminal through
//! --console-socket, multi-range maps through newuidmap, seccomp, a bind mount of the user's
//! own directory, a delegated cgroup v2 directory, the refused cases, and another user's
//! refusal. runc 1.1.5 is run the same way where cheap.

mod common;

use common::{text, Bundle};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// An unprivileged user `carrack-test-rl-<pid>-<n>` (unique per test and run) with the
/// subordinate ranges useradd gives it; userdel removes it and its ranges on drop.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    /// (first, count) from /etc/subuid and /etc/subgid.
    subuid: (u32, u32),
    subgid: (u32, u32),
}

impl User {
    fn new() -> Option<User> {
        common::can_run()?;
        if !userns_allowed() {
            common::skip(
                "no-unprivileged-userns",
                "the kernel refuses unprivileged user namespaces",
            );
            return None;
        }
        for tool in ["useradd", "setpriv", "newuidmap", "newgidmap"] {
            if which(tool).is_none() {
                common::skip("no-uidmap", &format!("{tool} is not installed"));
                return None;
            }
        }
        sweep_dead_users();
        let name = format!(
            "carrack-test-rl-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin"])
            .args(["--home-dir", "/nonexistent", "--user-group", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "useradd: {}", text(&out.stderr));
        let mut u = User {
            uid: id_of(&name, "-u"),
            gid: id_of(&name, "-g"),
            name,
            subuid: (0, 0),
            subgid: (0, 0),
        };
        // Debian's useradd allocates ranges itself (SUB_UID_COUNT); add them where it did not.
        if sub_range("/etc/subuid", &u.name).is_none() {
            let out = Command::new("usermod")
                .args([
                    "--add-subuids",
                    "300000-365535",
                    "--add-subgids",
                    "300000-365535",
                ])
                .arg(&u.name)
                .output()
                .unwrap();
            assert!(out.status.success(), "usermod: {}", text(&out.stderr));
        }
        u.subuid = sub_range("/etc/subuid", &u.name).expect("subuid range");
        u.subgid = sub_range("/etc/subgid", &u.name).expect("subgid range");
        Some(u)
    }

    /// `cmd` as this user: its uid, gid and groups, a clean environment with
    /// XDG_RUNTIME_DIR=`xdg`.
    fn command(&self, xdg: &Path, cmd: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg("env")
            .arg("-i")
            .arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
            .arg(format!("HOME={}", xdg.display()))
            .arg(cmd);
        c
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // Its containers are gone by now (the bundles are dropped first); what remains of
        // this test's own user (rootless podman's pause process) is ours to end. userdel
        // removes the /etc/subuid and /etc/subgid entries too.
        for pid in processes_of(self.uid..self.uid + 1) {
            // SAFETY: kill(2); the uid is unique to this test, so these are its processes.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for _ in 0..100 {
            if processes_of(self.uid..self.uid + 1).is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = Command::new("userdel").arg(&self.name).output();
        for f in ["/etc/subuid", "/etc/subgid"] {
            if sub_range(f, &self.name).is_some() {
                let _ = Command::new("usermod")
                    .arg(if f.ends_with("uid") {
                        "--del-subuids"
                    } else {
                        "--del-subgids"
                    })
                    .arg("1-4294967294")
                    .arg(&self.name)
                    .output();
            }
        }
    }
}

fn userns_allowed() -> bool {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    read("/proc/sys/kernel/unprivileged_userns_clone").is_none_or(|v| v != "0")
        && read("/proc/sys/user/max_user_namespaces").is_none_or(|v| v != "0")
}

fn which(tool: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
}

fn id_of(name: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().unwrap();
    text(&out.stdout).trim().parse().unwrap()
}

fn sub_range(file: &str, name: &str) -> Option<(u32, u32)> {
    let t = std::fs::read_to_string(file).ok()?;
    t.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        match f[..] {
            [n, start, count] if n == name => Some((start.parse().ok()?, count.parse().ok()?)),
            _ => None,
        }
    })
}

/// Users left by a test run that was killed (its pid is gone): remove them.
fn sweep_dead_users() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for name in passwd.lines().filter_map(|l| l.split(':').next()) {
        let Some(rest) = name.strip_prefix("carrack-test-rl-") else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("userdel").arg(name).output();
        }
    }
}

/// A bundle the user owns, configured by `carrack spec --rootless` run as the user, with
/// `args` as the process. The state root (`b.root`) and $XDG_RUNTIME_DIR are the user's.
struct Rootless {
    b: Bundle,
    /// The runtime run as the user (carrack, or runc for comparison).
    bin: PathBuf,
}

impl Rootless {
    fn new(u: &User, args: &[&str]) -> Rootless {
        Self::with_runtime(u, common::BIN, args)
    }

    fn with_runtime(u: &User, runtime: &str, args: &[&str]) -> Rootless {
        let b = Bundle::with_runtime(runtime, args);
        let xdg = b.dir.join("xdg");
        std::fs::create_dir_all(&xdg).unwrap();
        // The user must reach the binary: copy it when a parent dir is closed to others.
        let carrack = if reachable_by_others(Path::new(common::BIN)) {
            PathBuf::from(common::BIN)
        } else {
            let to = b.dir.join("carrack");
            std::fs::copy(common::BIN, &to).unwrap();
            to
        };
        let bin = match runtime {
            "runc" => which("runc").expect("runc"),
            _ => carrack.clone(),
        };
        std::fs::remove_file(b.bundle().join("config.json")).unwrap();
        chown_r(&b.dir, u);
        let out = u
            .command(&xdg, &carrack)
            .args(["spec", "--rootless", "--bundle"])
            .arg(b.bundle())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spec --rootless: {}",
            text(&out.stderr)
        );
        let mut r = Rootless { b, bin };
        let cfg = std::fs::read(r.b.bundle().join("config.json")).unwrap();
        r.b.config = serde_json::from_slice(&cfg).unwrap();
        r.b.config["process"]["terminal"] = json!(false);
        r.b.config["process"]["args"] = json!(args);
        r.b.config["root"]["readonly"] = json!(false);
        r.b.write_config();
        r
    }

    fn xdg(&self) -> PathBuf {
        self.b.dir.join("xdg")
    }

    /// The runtime as `u`, with `--root b.root`; output through files (see Bundle::rt).
    fn rt(&self, u: &User, args: &[&str]) -> Output {
        let mut c = u.command(&self.xdg(), &self.bin);
        c.arg("--root").arg(&self.b.root).args(args);
        run_to_files(&self.b.dir, c)
    }

    fn rt_bundle(&self, u: &User, verb: &str, id: &str, extra: &[&str]) -> Output {
        let bundle = self.b.bundle();
        let mut args = vec![verb, "--bundle", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt(u, &args)
    }

    fn ok(&self, u: &User, args: &[&str]) -> String {
        let out = self.rt(u, args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn status(&self, u: &User, id: &str) -> String {
        let out = self.rt(u, &["state", id]);
        if !out.status.success() {
            return format!("error: {}", text(&out.stderr));
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    fn init_pid(&self, u: &User, id: &str) -> i32 {
        let out = self.ok(u, &["state", id]);
        let v: Value = serde_json::from_str(&out).unwrap();
        v["pid"].as_i64().unwrap() as i32
    }
}

fn run_to_files(dir: &Path, mut c: Command) -> Output {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let (o, e) = (
        dir.join(format!("rl-out.{n}")),
        dir.join(format!("rl-err.{n}")),
    );
    let status = c
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

fn reachable_by_others(p: &Path) -> bool {
    let exec_ok = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    };
    exec_ok(p) && p.ancestors().skip(1).all(exec_ok)
}

fn chown_r(dir: &Path, u: &User) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", u.uid, u.gid))
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Every process of the host whose real uid is in `uids` (the user's and its subordinate
/// ids): none may be left after delete.
fn processes_of(uids: std::ops::Range<u32>) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let zombie = st
                .lines()
                .any(|l| l.starts_with("State:") && l.contains('Z'));
            st.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
                .is_some_and(|uid| uids.contains(&uid))
                && !zombie
        })
        .collect()
}

fn nothing_left(r: &Rootless, u: &User, what: &str) {
    let mut left = processes_of(u.uid..u.uid + 1);
    left.extend(processes_of(u.subuid.0..u.subuid.0 + u.subuid.1));
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        left = processes_of(u.uid..u.uid + 1);
        left.extend(processes_of(u.subuid.0..u.subuid.0 + u.subuid.1));
    }
    assert!(left.is_empty(), "{what}: processes left {left:?}");
    let list = r.ok(u, &["list", "--quiet"]);
    assert_eq!(list.trim(), "", "{what}: containers left");
    let hidden: Vec<_> = std::fs::read_dir(&r.b.root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(hidden.is_empty(), "{what}: state left {hidden:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&r.b.dir.display().to_string()),
        "{what}: mount left"
    );
}

#[test]
fn spec_rootless_maps_the_caller_and_is_runcs() {
    let Some(u) = User::new() else { return };
    let r = Rootless::new(&u, &["true"]);
    let cfg = &r.b.config;
    assert_eq!(
        cfg["linux"]["uidMappings"],
        json!([{"containerID": 0, "hostID": u.uid, "size": 1}])
    );
    assert_eq!(
        cfg["linux"]["gidMappings"],
        json!([{"containerID": 0, "hostID": u.gid, "size": 1}])
    );
    let ns: Vec<&str> = cfg["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user") && !ns.contains(&"network"), "{ns:?}");
    assert!(cfg["linux"].get("resources").is_none());
    // runc 1.1.5 `spec --rootless` run as the same user writes the same config.
    if which("runc").is_some() {
        let dir = r.b.dir.join("runc-spec");
        std::fs::create_dir(&dir).unwrap();
        chown_r(&dir, &u);
        let out = u
            .command(&r.xdg(), &which("runc").unwrap())
            .args(["spec", "--rootless", "--bundle"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "runc spec: {}", text(&out.stderr));
        let mut theirs: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let ours: Value =
            serde_json::from_slice(&std::fs::read(r.b.bundle().join("config.json")).unwrap())
                .unwrap();
        theirs["ociVersion"] = ours["ociVersion"].clone();
        theirs["hostname"] = ours["hostname"].clone();
        for k in ["process", "root"] {
            theirs[k] = ours[k].clone(); // the test changed args, terminal, readonly
        }
        assert_eq!(ours, theirs);
    }
}

#[test]
fn lifecycle_exec_ps_kill_and_delete_by_the_owner() {
    let Some(u) = User::new() else { return };
    let r = Rootless::new(&u, &["sleep", "100"]);
    let id = r.b.id("life");
    let out = r.rt_bundle(&u, "create", &id, &[]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    assert_eq!(r.status(&u, &id), "created");
    let pid = r.init_pid(&u, &id);
    // The container's root is the user on the host, in a user namespace of its own with
    // setgroups denied (a single own-id map is written without newuidmap).
    let host_uid = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        host_uid
            .lines()
            .any(|l| l.starts_with("Uid:")
                && l.split_whitespace().nth(1) == Some(&u.uid.to_string())),
        "{host_uid}"
    );
    let setgroups = std::fs::read_to_string(format!("/proc/{pid}/setgroups")).unwrap();
    assert_eq!(setgroups.trim(), "deny");
    r.ok(&u, &["start", &id]);
    assert_eq!(r.status(&u, &id), "running");
    let idout = r.ok(&u, &["exec", &id, "id"]);
    assert!(
        idout.starts_with("uid=0(root) gid=0(root)") || idout.starts_with("uid=0 gid=0"),
        "{idout}"
    );
    let map = r.ok(&u, &["exec", &id, "cat", "/proc/self/uid_map"]);
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields, ["0", &u.uid.to_string(), "1"]);
    // A second process, then ps sees both (no cgroup: init and its descendants).
    r.ok(&u, &["exec", "--detach", &id, "sleep", "200"]);
    let ps: Vec<i32> = serde_json::from_str(&r.ok(&u, &["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert!(ps.contains(&pid), "{ps:?}");
    let table = r.ok(&u, &["ps", &id]);
    assert!(table.contains("sleep 200"), "{table}");
    r.ok(&u, &["kill", "--all", &id, "KILL"]);
    for _ in 0..200 {
        if r.status(&u, &id) == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(r.status(&u, &id), "stopped");
    r.ok(&u, &["delete", &id]);
    // delete --force of a running one.
    let id2 = r.b.id("force");
    let out = r.rt_bundle(&u, "run", &id2, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    r.ok(&u, &["exec", "--detach", &id2, "sleep", "300"]);
    r.ok(&u, &["delete", "--force", &id2]);
    nothing_left(&r, &u, "after delete --force");
}

#[test]
fn default_root_is_xdg_runtime_dir_carrack() {
    let Some(u) = User::new() else { return };
    let r = Rootless::new(&u, &["true"]);
    let id = r.b.id("xdg");
    let bundle = r.b.bundle();
    let mut c = u.command(&r.xdg(), &r.bin);
    c.args(["run", "--detach", "--bundle", bundle.to_str().unwrap(), &id]);
    let out = run_to_files(&r.b.dir, c);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let state = r.xdg().join("carrack").join(&id).join("state.json");
    assert!(state.exists(), "{} missing", state.display());
    let mut c = u.command(&r.xdg(), &r.bin);
    c.args(["delete", "--force", &id]);
    let out = run_to_files(&r.b.dir, c);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(!state.exists());
}

/// Another user neither lists nor touches the owner's container, even in a shared
/// world-writable --root; runc 1.1.5 refuses the same verbs (EACCES on its state.json).
#[test]
fn another_user_can_neither_see_nor_touch_the_container() {
    let Some(owner) = User::new() else { return };
    let Some(other) = User::new() else { return };
    let r = Rootless::new(&owner, &["sleep", "100"]);
    let id = r.b.id("mine");
    let out = r.rt_bundle(&owner, "run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let pid = r.init_pid(&owner, &id);
    // A shared, world-writable root: the owner's container dir is theirs alone.
    std::fs::set_permissions(&r.b.root, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let list = r.rt(&other, &["list", "--quiet"]);
    assert!(
        !text(&list.stdout).contains(&id),
        "another user lists it: {}",
        text(&list.stdout)
    );
    for args in [
        vec!["state", id.as_str()],
        vec!["kill", id.as_str(), "KILL"],
        vec!["exec", id.as_str(), "true"],
        vec!["ps", id.as_str()],
        vec!["delete", "--force", id.as_str()],
    ] {
        let out = r.rt(&other, &args);
        assert!(!out.status.success(), "{args:?} by another user succeeded");
        assert_eq!(
            text(&out.stderr).lines().count(),
            1,
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(r.status(&owner, &id), "running");
    assert_eq!(r.init_pid(&owner, &id), pid);
    r.ok(&owner, &["delete", "--force", &id]);
    nothing_left(&r, &owner, "after the owner's delete");
    if which("runc").is_some() {
        let rr = Rootless::with_runtime(&owner, "runc", &["sleep", "100"]);
        let id = rr.b.id("mine-runc");
        let out = rr.rt_bundle(&owner, "run", &id, &["--detach"]);
        assert!(out.status.success(), "runc run -d: {}", text(&out.stderr));
        std::fs::set_permissions(&rr.b.root, std::fs::Permissions::from_mode(0o1777)).unwrap();
        // runc 1.1.5 refuses the same way: its list skips the container (with a line on
        // stderr), and every verb fails reading the owner's state.json (EACCES).
        let list = rr.rt(&other, &["list", "--quiet"]);
        assert!(!text(&list.stdout).contains(&id), "runc lists it");
        for args in [
            vec!["state", id.as_str()],
            vec!["kill", id.as_str(), "KILL"],
            vec!["exec", id.as_str(), "true"],
            vec!["ps", id.as_str()],
            vec!["delete", "--force", id.as_str()],
        ] {
            let out = rr.rt(&other, &args);
            assert!(!out.status.success(), "runc {args:?} by another user");
            let err = text(&out.stderr);
            assert!(err.contains("state.json: permission denied"), "{err}");
        }
        assert_eq!(rr.status(&owner, &id), "running");
        rr.ok(&owner, &["delete", "--force", &id]);
        nothing_left(&rr, &owner, "after the owner's runc delete");
    }
}

#[test]
fn multi_range_maps_go_through_newuidmap() {
    let Some(u) = User::new() else { return };
    let r0 = Rootless::new(&u, &["sh", "-c", "id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; touch /tmp/f; stat -c %u:%g /tmp/f"]);
    let mut r = r0;
    let maps = |own: u32, sub: (u32, u32)| {
        json!([{"containerID": 0, "hostID": own, "size": 1},
               {"containerID": 1, "hostID": sub.0, "size": sub.1}])
    };
    r.b.config["linux"]["uidMappings"] = maps(u.uid, u.subuid);
    r.b.config["linux"]["gidMappings"] = maps(u.gid, u.subgid);
    r.b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    r.b.write_config();
    std::fs::set_permissions(
        r.b.rootfs().join("tmp"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    let id = r.b.id("multi");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.starts_with("uid=1000 gid=1000"), "{o}");
    let want = format!("0 {} 1 1 {} {}", u.uid, u.subuid.0, u.subuid.1);
    let words: Vec<&str> = o.split_whitespace().collect();
    assert!(words.join(" ").contains(&want), "{o}");
    // newgidmap, not a direct write: setgroups stays allowed, as with runc.
    assert!(words.contains(&"allow"), "{o}");
    assert_eq!(words.last(), Some(&"1000:1000"), "{o}");
    nothing_left(&r, &u, "after run");
    if which("runc").is_some() {
        // runc 1.1.5 the same way: same ids (its groups line also lists group 0).
        let rr = Rootless::with_runtime(&u, "runc", &[]);
        let mut rr = rr;
        rr.b.config = r.b.config.clone();
        rr.b.write_config();
        let tmp = rr.b.rootfs().join("tmp");
        std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let rid = rr.b.id("multi-runc");
        let out = rr.rt_bundle(&u, "run", &rid, &[]);
        assert!(out.status.success(), "runc run: {}", text(&out.stderr));
        let theirs: Vec<String> = text(&out.stdout)
            .split_whitespace()
            .filter(|w| !w.starts_with("groups="))
            .map(String::from)
            .collect();
        let ours: Vec<String> = words
            .iter()
            .filter(|w| !w.starts_with("groups="))
            .map(|w| w.to_string())
            .collect();
        assert_eq!(ours, theirs);
    }
}

#[test]
fn terminal_through_console_socket() {
    use std::io::Read;
    use std::os::unix::net::UnixListener;
    let Some(u) = User::new() else { return };
    let mut r = Rootless::new(&u, &["sh", "-c", "tty; id -u"]);
    r.b.config["process"]["terminal"] = json!(true);
    r.b.write_config();
    let sock = r.b.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let rx = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        common::recv_fd(&conn).unwrap().1
    });
    let id = r.b.id("tty");
    let out = r.rt_bundle(
        &u,
        "create",
        &id,
        &["--console-socket", sock.to_str().unwrap()],
    );
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let master = rx.join().unwrap();
    r.ok(&u, &["start", &id]);
    let mut f = std::fs::File::from(master);
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    // EIO once the last slave fd closes.
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let got = text(&got);
    assert!(got.contains("/dev/pts/0"), "{got:?}");
    assert!(got.contains("\n0") || got.contains("0\r"), "{got:?}");
    r.ok(&u, &["delete", "--force", &id]);
    nothing_left(&r, &u, "after delete");
}

#[test]
fn seccomp_and_a_bind_mount_of_the_users_own_dir() {
    let Some(u) = User::new() else { return };
    let mut r = Rootless::new(
        &u,
        &[
            "sh",
            "-c",
            "cat /data/in; echo out > /data/out; mkdir /tmp/x; echo mkdir=$?",
        ],
    );
    let data = r.b.dir.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("in"), "the user's file\n").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    chown_r(&data, &u);
    r.b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/data", "type": "bind", "source": data, "options": ["rbind", "rw"]}),
    );
    r.b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    r.b.write_config();
    let id = r.b.id("sec");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.starts_with("the user's file\n"), "{o}");
    assert!(
        o.trim_end().ends_with("mkdir=1"),
        "{o}{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    let written = std::fs::read_to_string(data.join("out")).unwrap();
    assert_eq!(written, "out\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(data.join("out")).unwrap().uid(), u.uid);
    nothing_left(&r, &u, "after run");
}

/// Each refusal: non-zero exit, one line naming the field, nothing left behind; runc 1.1.5,
/// run the same way as the same user, refuses each config too (its message is checked), and
/// accepts device rules alone as carrack does.
#[test]
fn what_a_rootless_user_cannot_do_is_refused_naming_the_field() {
    let Some(u) = User::new() else { return };
    let outside = |base: &Value, key: &str| {
        let mut m = base["linux"][key].clone();
        m.as_array_mut()
            .unwrap()
            .push(json!({"containerID": 1, "hostID": 5000, "size": 10}));
        m
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    // (what, the field our error names, what runc 1.1.5 says refusing it, the change)
    let cases: Vec<(&str, &str, &str, Edit)> = vec![
        (
            "non-namespaced sysctl",
            "linux.sysctl \"vm.swappiness\"",
            "is not in a separate kernel namespace",
            Box::new(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "10"})),
        ),
        (
            "net sysctl without a network namespace",
            "linux.sysctl \"net.ipv4.ip_forward\"",
            "not allowed in host network namespace",
            Box::new(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"})),
        ),
        (
            "uid mapping outside the subordinate ids",
            "linux.uidMappings",
            "newuidmap: uid range [1-11) -> [5000-5010) not allowed",
            Box::new(move |c| c["linux"]["uidMappings"] = outside(c, "uidMappings")),
        ),
        (
            "gid mapping outside the subordinate ids",
            "linux.gidMappings",
            "newgidmap: gid range [1-11) -> [5000-5010) not allowed",
            Box::new(move |c| c["linux"]["gidMappings"] = outside(c, "gidMappings")),
        ),
        (
            "a memory limit with no cgroup delegated",
            "linux.resources",
            "cannot set memory limit: container could not join or create cgroup",
            Box::new(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}})),
        ),
        (
            "additional groups",
            "process.user.additionalGids",
            "cannot set any additional groups in a rootless container",
            Box::new(|c| c["process"]["user"]["additionalGids"] = json!([0])),
        ),
        (
            "no user namespace",
            "linux.namespaces",
            "rootless container requires user namespaces",
            Box::new(|c| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "user");
            }),
        ),
        (
            "a device the host lacks",
            "linux.devices[0]",
            "error creating device nodes: mount /dev/carrack-test-none",
            Box::new(|c| {
                c["linux"]["devices"] = json!([{"path": "/dev/carrack-test-none", "type": "c",
                                                "major": 1, "minor": 3}])
            }),
        ),
    ];
    let mut r = Rootless::new(&u, &["true"]);
    let mut rr = which("runc").map(|_| Rootless::with_runtime(&u, "runc", &["true"]));
    let base = r.b.config.clone();
    for (what, field, runc_says, edit) in &cases {
        r.b.config = base.clone();
        edit(&mut r.b.config);
        r.b.write_config();
        let id = r.b.id("refused");
        let out = r.rt_bundle(&u, "run", &id, &[]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{what}: accepted");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.contains(field), "{what}: {err:?} does not name {field}");
        println!("{what}: {}", err.trim());
        nothing_left(&r, &u, what);
        // runc 1.1.5 as the same user with the same config refuses it too.
        if let Some(rr) = rr.as_mut() {
            rr.b.config = r.b.config.clone();
            rr.b.write_config();
            let id = rr.b.id("refused-runc");
            let out = rr.rt_bundle(&u, "run", &id, &[]);
            let _ = rr.rt(&u, &["delete", "--force", &id]);
            let theirs = text(&out.stderr);
            assert!(!out.status.success(), "{what}: runc accepts it");
            assert!(theirs.contains(runc_says), "{what}: runc says {theirs:?}");
            nothing_left(rr, &u, what);
        }
    }
    // Device rules alone, and zero limits, are not limits: runc ignores them rootless.
    r.b.config = base.clone();
    r.b.config["linux"]["resources"] = json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "pids": {"limit": 0}
    });
    r.b.write_config();
    let id = r.b.id("devrules");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(out.status.success(), "device rules: {}", text(&out.stderr));
    nothing_left(&r, &u, "device rules");
    if let Some(rr) = rr.as_mut() {
        rr.b.config = r.b.config.clone();
        rr.b.write_config();
        let id = rr.b.id("devrules-runc");
        let out = rr.rt_bundle(&u, "run", &id, &[]);
        assert!(
            out.status.success(),
            "runc, device rules: {}",
            text(&out.stderr)
        );
        nothing_left(rr, &u, "runc, device rules");
    }
}

/// A cgroup v2 directory delegated to the user (chowned, as systemd delegates): the
/// container's cgroup is made under it and removed at delete. This host's cgroup2 has no
/// controllers, so limits there need the systemd VM (pure v2).
#[test]
fn a_delegated_cgroup2_directory_is_used() {
    let Some(u) = User::new() else { return };
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists());
    let Some(unified) = unified else {
        common::skip("no-v1-hierarchy", "no cgroup2 mount");
        return;
    };
    // Only the hybrid layout is covered here: on pure v2 the test's own cgroup is not a leaf
    // we may move a process out of freely (scripts/vm-test).
    if unified == Path::new("/sys/fs/cgroup") {
        common::skip("pure-v2", "delegation on pure v2 is tested in the VM");
        return;
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own2 = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/");
    let deleg = unified.join(own2.trim_start_matches('/')).join(format!(
        "carrack-test-rl-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir(&deleg).unwrap();
    struct Rmdir(PathBuf);
    impl Drop for Rmdir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _guard = Rmdir(deleg.clone());
    for f in [
        "",
        "cgroup.procs",
        "cgroup.subtree_control",
        "cgroup.threads",
    ] {
        let p = deleg.join(f);
        std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
    }
    let r = Rootless::new(&u, &["sleep", "100"]);
    let id = r.b.id("deleg");
    // The user's carrack runs in the delegated dir, as in a systemd user session.
    let procs = deleg.join("cgroup.procs");
    let mut c = u.command(&r.xdg(), &r.bin);
    c.arg("--root").arg(&r.b.root).args([
        "run",
        "--detach",
        "--bundle",
        r.b.bundle().to_str().unwrap(),
        &id,
    ]);
    use std::os::unix::process::CommandExt;
    let procs_file = std::fs::OpenOptions::new()
        .write(true)
        .open(&procs)
        .unwrap();
    // SAFETY: only a write(2) to a file opened before fork runs in the child (write_all's
    // errors are allocation-free), which is async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            use std::io::Write;
            (&procs_file).write_all(b"0")
        });
    }
    let out = run_to_files(&r.b.dir, c);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let pid = r.init_pid(&u, &id);
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!(
        "0::{}/{}",
        deleg.strip_prefix(&unified).unwrap().display(),
        id
    );
    let want = want.replace("0::", "0::/").replace("0:://", "0::/");
    assert!(cg.lines().any(|l| l == want), "{want} not in {cg}");
    assert!(deleg.join(&id).is_dir());
    // exec from outside the delegated dir (our cgroup, not the user's: the common ancestor's
    // cgroup.procs is root's), as runc: the process runs, left in the caller's cgroup.
    let out = r.rt(&u, &["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot be joined from here"),
        "{}",
        text(&out.stderr)
    );
    r.ok(&u, &["delete", "--force", &id]);
    assert!(!deleg.join(&id).exists(), "cgroup left");
    nothing_left(&r, &u, "after delete");
}

/// Rootless podman as the test user with `--runtime carrack`, an image imported from a
/// busybox rootfs tarball: run, exec, logs, stop, rm, with runc giving the same output. No
/// network (`--network none`): slirp4netns needs /dev/net/tun, which only root may open here.
#[test]
fn rootless_podman_with_carrack() {
    let Some(u) = User::new() else { return };
    if which("podman").is_none() {
        common::skip("no-podman", "podman is not installed");
        return;
    }
    let r = Rootless::new(&u, &["true"]);
    let tar = r.b.dir.join("bb.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(r.b.rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    chown_r(&r.b.dir, &u);
    let podman = |args: &[&str]| {
        let mut c = u.command(&r.xdg(), &which("podman").unwrap());
        c.args(args);
        run_to_files(&r.b.dir, c)
    };
    let ok = |args: &[&str]| {
        let out = podman(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    ok(&[
        "import",
        tar.to_str().unwrap(),
        "localhost/carrack-test-bb:1",
    ]);
    let mut seen = Vec::new();
    for runtime in [r.bin.to_str().unwrap(), "runc"] {
        if runtime == "runc" && which("runc").is_none() {
            break;
        }
        let name = format!("carrack-test-pod-{}", seen.len());
        let rt = ["--runtime", runtime];
        let run = |extra: &[&str]| {
            let mut a = rt.to_vec();
            a.extend_from_slice(extra);
            ok(&a)
        };
        let id = run(&[
            "run",
            "--rm",
            "--network",
            "none",
            "localhost/carrack-test-bb:1",
            "id",
        ]);
        run(&[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &name,
            "localhost/carrack-test-bb:1",
            "sh",
            "-c",
            "echo hello; sleep 100",
        ]);
        let exec = run(&["exec", &name, "sh", "-c", "echo from exec; id -u"]);
        let logs = run(&["logs", &name]);
        run(&["stop", "-t", "1", &name]);
        run(&["rm", &name]);
        seen.push((id, exec, logs));
    }
    assert_eq!(seen[0].0.trim(), "uid=0 gid=0", "{:?}", seen[0]);
    assert_eq!(seen[0].1, "from exec\n0\n");
    assert_eq!(seen[0].2, "hello\n");
    if let Some(runc) = seen.get(1) {
        assert_eq!(&seen[0], runc, "carrack and runc differ");
    }
    let _ = podman(&["rmi", "-f", "localhost/carrack-test-bb:1"]);
}

/// `process.oomScoreAdj` with a user namespace: init is non-dumpable there, so its /proc files
/// belong to the host's root, unmapped in the namespace; the runtime writes the value (as
/// runc). As the rootless user, and as root with a mapped user namespace.
#[test]
fn oom_score_adj_is_set_in_a_user_namespace() {
    let Some(u) = User::new() else { return };
    let args = ["cat", "/proc/self/oom_score_adj"];
    let mut r = Rootless::new(&u, &args);
    r.b.config["process"]["oomScoreAdj"] = json!(423);
    r.b.write_config();
    let id = r.b.id("oom");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(out.status.success(), "rootless run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "423\n");
    nothing_left(&r, &u, "after run");

    let mut b = Bundle::new(&args);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    for m in ["uidMappings", "gidMappings"] {
        b.config["linux"][m] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["type"] != "cgroup");
    b.config["process"]["oomScoreAdj"] = json!(423);
    b.write_config();
    let id = b.id("oom-userns");
    let out = b.rt_bundle("run", &id, &[]);
    assert!(out.status.success(), "run as root: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "423\n");
}

/// `features` answers for its caller: as the rootless user idmapped mounts and moving host
/// network devices are not offered, and the rest is root's answer (the systemd driver, with
/// the user's own instance, included: scripts/vm/systemd-tests.sh t_rootless_systemd). What it does offer works: each namespace in a rootless container, and an idmapped
/// bind is indeed refused. runc 1.1.5 gives every caller root's answer.
#[test]
fn features_answer_for_the_rootless_caller() {
    let Some(u) = User::new() else { return };
    let r = Rootless::new(&u, &["true"]);
    let features = |as_user: bool| -> Value {
        let out = if as_user {
            run_to_files(&r.b.dir, {
                let mut c = u.command(&r.xdg(), &r.bin);
                c.arg("features");
                c
            })
        } else {
            Command::new(common::BIN).arg("features").output().unwrap()
        };
        assert!(out.status.success(), "features: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (mut root, mut user) = (features(false), features(true));
    for (f, want) in [(&mut root, true), (&mut user, false)] {
        for p in [
            "/linux/netDevices/enabled",
            "/linux/mountExtensions/idmap/enabled",
        ] {
            let v = f.pointer_mut(p).unwrap();
            assert_eq!(*v, json!(want), "{p} (rootless: {})", !want);
            *v = Value::Null;
        }
    }
    assert_eq!(root, user, "the rest differs");

    for ns in user["linux"]["namespaces"].as_array().unwrap() {
        let ns = ns.as_str().unwrap();
        let file = match ns {
            "network" => "net",
            "mount" => "mnt",
            n => n,
        };
        let link = format!("/proc/self/ns/{file}");
        let mut r = Rootless::new(&u, &["readlink", &link]);
        let list = r.b.config["linux"]["namespaces"].as_array_mut().unwrap();
        if !list.iter().any(|n| n["type"] == ns) {
            list.push(json!({"type": ns}));
        }
        r.b.write_config();
        let id = r.b.id(&format!("ns-{ns}"));
        let out = r.rt_bundle(&u, "run", &id, &[]);
        assert!(out.status.success(), "{ns}: {}", text(&out.stderr));
        let host = std::fs::read_link(&link).unwrap();
        let inside = text(&out.stdout);
        assert!(inside.starts_with(&format!("{file}:[")), "{ns}: {inside}");
        assert_ne!(inside.trim(), host.to_str().unwrap(), "{ns}: the host's");
    }

    // Not offered, and indeed refused: an idmapped bind of the user's own directory.
    let mut r = Rootless::new(&u, &["true"]);
    let src = r.b.dir.join("idmap-src");
    std::fs::create_dir(&src).unwrap();
    chown_r(&src, &u);
    let map = json!([{"containerID": 0, "hostID": u.subuid.0, "size": 1}]);
    r.b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "bind", "source": src, "options": ["rbind", "idmap"],
        "uidMappings": map, "gidMappings": map
    }));
    r.b.write_config();
    let id = r.b.id("idmap");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(!out.status.success(), "an idmapped bind worked rootless");
    assert!(
        text(&out.stderr).contains("mounts["),
        "{}",
        text(&out.stderr)
    );
    nothing_left(&r, &u, "after the idmap refusal");
}

/// Rootless podman publishes a port (`-p 127.0.0.1:PORT:8080`) to busybox httpd in the
/// container, reached from the host on loopback, with carrack and with runc. Podman 4.3
/// (bookworm) has slirp4netns only (pasta came in 4.4), which needs /dev/net/tun: on a host
/// where only root may open it, this is the host fact `no-rootless-net`.
#[test]
fn rootless_podman_publishes_a_port() {
    use std::io::{Read, Write};
    let Some(u) = User::new() else { return };
    let Some(podman) = which("podman") else {
        common::skip("no-podman", "podman is not installed");
        return;
    };
    let r = Rootless::new(&u, &["true"]);
    let mut probe = u.command(&r.xdg(), Path::new("/bin/sh"));
    probe.args(["-c", "exec 3<>/dev/net/tun"]);
    if !run_to_files(&r.b.dir, probe).status.success() {
        common::skip(
            "no-rootless-net",
            "/dev/net/tun is not usable by unprivileged users (slirp4netns needs it)",
        );
        return;
    }
    let tar = r.b.dir.join("bb.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(r.b.rootfs())
        .args(["-cf"])
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    chown_r(&r.b.dir, &u);
    let ok = |args: &[&str]| {
        let mut c = u.command(&r.xdg(), &podman);
        c.args(args);
        let out = run_to_files(&r.b.dir, c);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let image = "localhost/carrack-test-bb-net:1";
    ok(&["import", tar.to_str().unwrap(), image]);
    let mut seen = Vec::new();
    for runtime in [r.bin.to_str().unwrap(), "runc"] {
        if runtime == "runc" && which("runc").is_none() {
            break;
        }
        // A port free now; podman's port forwarder binds it as the user.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let name = format!("carrack-test-net-{}", seen.len());
        let publish = format!("127.0.0.1:{port}:8080");
        ok(&[
            "--runtime",
            runtime,
            "run",
            "-d",
            "--name",
            &name,
            "-p",
            &publish,
            image,
            "sh",
            "-c",
            "echo hello over the port > /tmp/index.html; exec busybox httpd -f -p 8080 -h /tmp",
        ]);
        let mut got = String::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
                got.clear();
                let _ = s.read_to_string(&mut got);
                if got.contains("hello") {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        ok(&["--runtime", runtime, "stop", "-t", "1", &name]);
        ok(&["--runtime", runtime, "rm", &name]);
        let body = got.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        seen.push((runtime.to_string(), body));
    }
    assert_eq!(seen[0].1, "hello over the port\n", "carrack: {:?}", seen[0]);
    if let Some(runc) = seen.get(1) {
        assert_eq!(seen[0].1, runc.1, "carrack and runc differ");
    }
    ok(&["rmi", "-f", image]);
}

/// The race of create with its own init: clone3, then the parent writes the id maps and
/// opens /proc/<init>/root for the mount sources. Init once decided after clone3, from its
/// own euid, whether to stay dumpable for that; when the parent had already written the
/// maps its euid read 0 ("not rootless"), it went non-dumpable, and the open failed with
/// EACCES (1 in 3 runs of oci-tests --rootless). Every create here runs real-time on CPU 0,
/// where the parent goes on after clone3 until it blocks (on newgidmap, after the uid map):
/// that order is then the only one.
#[test]
fn create_on_one_cpu_never_races_its_init() {
    let Some(u) = User::new() else { return };
    let mut r = Rootless::new(&u, &["true"]);
    // The own uid (written directly), then gids through newgidmap: the parent waits on
    // newgidmap with init's uid map already written, and init runs in that wait.
    r.b.config["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": u.subgid.0, "size": u.subgid.1}
    ]);
    r.b.write_config();
    let taskset = which("taskset").expect("taskset (util-linux)");
    let chrt = which("chrt").expect("chrt (util-linux)");
    let rt = Command::new(&chrt).args(["--fifo", "1", "true"]).output();
    if !rt.is_ok_and(|o| o.status.success()) {
        common::skip("no-rt-sched", "chrt --fifo is refused here");
        return;
    }
    let bundle = r.b.bundle();
    let mut failed = Vec::new();
    let rounds = 20;
    for i in 0..rounds {
        let id = r.b.id(&format!("cpu0-{i}"));
        let mut user = u.command(&r.xdg(), &r.bin);
        user.arg("--root")
            .arg(&r.b.root)
            .args(["create", "--bundle"])
            .arg(&bundle)
            .arg(&id);
        // Real-time FIFO on one CPU: a child of the same priority waits until the parent
        // blocks, as it may wait on a loaded machine.
        let mut c = Command::new(&chrt);
        c.args(["--reset-on-fork", "--fifo", "1"])
            .arg(&taskset)
            .args(["-c", "0"])
            .arg(user.get_program())
            .args(user.get_args());
        let out = run_to_files(&r.b.dir, c);
        if !out.status.success() {
            failed.push(text(&out.stderr).trim().to_string());
        }
        let _ = r.rt(&u, &["delete", "--force", &id]);
    }
    assert!(
        failed.is_empty(),
        "{} of {rounds} creates failed, first: {}",
        failed.len(),
        failed[0]
    );
    nothing_left(&r, &u, "after the creates");
}

/// process.user with an id the user namespace does not map: one line naming the field and
/// the mappings, nothing left; runc 1.1.5 refuses it too ("unmapped user"). Exec with such
/// a --user names it as well.
#[test]
fn an_unmapped_process_user_is_refused_naming_the_mappings() {
    let Some(u) = User::new() else { return };
    let mut r = Rootless::new(&u, &["sleep", "100"]);
    let mut rr = which("runc").map(|_| Rootless::with_runtime(&u, "runc", &["true"]));
    let base = r.b.config.clone();
    let cases = [
        (
            json!({"uid": 1000, "gid": 0}),
            format!(
                "process.user.uid 1000: not mapped in the container's user namespace \
                 (linux.uidMappings: 0 -> host {})",
                u.uid
            ),
            "cannot set uid to unmapped user in user namespace",
        ),
        (
            json!({"uid": 0, "gid": 1000}),
            format!(
                "process.user.gid 1000: not mapped in the container's user namespace \
                 (linux.gidMappings: 0 -> host {})",
                u.gid
            ),
            "cannot set gid to unmapped user in user namespace",
        ),
    ];
    for (user, want, runc_says) in &cases {
        r.b.config = base.clone();
        r.b.config["process"]["user"] = user.clone();
        r.b.write_config();
        let id = r.b.id("unmapped");
        let out = r.rt_bundle(&u, "run", &id, &[]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{user}: accepted");
        assert_eq!(err.trim(), format!("carrack: {want}"), "{user}");
        nothing_left(&r, &u, &user.to_string());
        if let Some(rr) = rr.as_mut() {
            rr.b.config = r.b.config.clone();
            rr.b.write_config();
            let id = rr.b.id("unmapped-runc");
            let out = rr.rt_bundle(&u, "run", &id, &[]);
            let _ = rr.rt(&u, &["delete", "--force", &id]);
            let theirs = text(&out.stderr);
            assert!(!out.status.success(), "{user}: runc accepts it");
            assert!(theirs.contains(runc_says), "{user}: runc says {theirs:?}");
        }
    }
    // A range: the message gives it whole.
    r.b.config = base.clone();
    r.b.config["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": u.subuid.0, "size": 999}
    ]);
    r.b.config["process"]["user"] = json!({"uid": 1000, "gid": 0});
    r.b.write_config();
    let out = r.rt_bundle(&u, "run", &r.b.id("range"), &[]);
    let err = text(&out.stderr);
    let want = format!(
        "(linux.uidMappings: 0 -> host {}, 1-999 -> host {}-{})",
        u.uid,
        u.subuid.0,
        u.subuid.0 + 998
    );
    assert!(
        !out.status.success() && err.trim_end().ends_with(&want),
        "{err}"
    );
    nothing_left(&r, &u, "range");
    // exec --user into a running container: the map is the namespace's.
    r.b.config = base.clone();
    r.b.write_config();
    let id = r.b.id("exec-unmapped");
    let out = r.rt_bundle(&u, "run", &id, &["--detach"]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let out = r.rt(&u, &["exec", "--user", "1000:0", &id, "true"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "exec --user 1000 accepted");
    assert_eq!(err.lines().count(), 1, "{err}");
    let want = format!(
        "process.user.uid 1000: setuid: not mapped in the container's user namespace (uid_map: 0 {} 1)",
        u.uid
    );
    assert!(err.contains(&want), "{err}");
    r.ok(&u, &["delete", "--force", &id]);
    nothing_left(&r, &u, "after exec");
}

/// linux.timeOffsets for a rootless user: a time namespace owned by the container's user
/// namespace, the offsets written by init (while it is still dumpable: as a non-dumpable
/// process its /proc/self/timens_offsets would be the host root's, which a rootless init
/// cannot write). runc 1.1.5 has no time namespace and refuses the config.
#[test]
fn time_offsets_in_a_rootless_container() {
    if !Path::new("/proc/self/ns/time").exists() {
        common::skip("no-namespace", "the kernel has no time namespace");
        return;
    }
    let Some(u) = User::new() else { return };
    let mut r = Rootless::new(
        &u,
        &["sh", "-c", "cat /proc/self/timens_offsets /proc/uptime"],
    );
    r.b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    r.b.config["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400},
        "boottime": {"secs": 1000000, "nanosecs": 5}
    });
    r.b.write_config();
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let id = r.b.id("timens");
    let out = r.rt_bundle(&u, "run", &id, &[]);
    assert!(out.status.success(), "run: {}", text(&out.stderr));
    let o = text(&out.stdout);
    let words: Vec<&str> = o.split_whitespace().collect();
    assert_eq!(
        words[..6],
        ["monotonic", "86400", "0", "boottime", "1000000", "5"],
        "{o}"
    );
    // /proc/uptime counts boottime: the container's is the host's plus the offset.
    let uptime: f64 = words[6].parse().unwrap();
    assert!(
        uptime >= host_uptime + 1000000.0 && uptime < host_uptime + 1000000.0 + 600.0,
        "container uptime {uptime}, host {host_uptime}"
    );
    nothing_left(&r, &u, "after run");
    if which("runc").is_some() {
        let mut rr = Rootless::with_runtime(&u, "runc", &[]);
        rr.b.config = r.b.config.clone();
        rr.b.write_config();
        let out = rr.rt_bundle(&u, "run", &rr.b.id("timens-runc"), &[]);
        assert!(!out.status.success(), "runc 1.1.5 ran a time namespace");
        let theirs = text(&out.stderr);
        assert!(
            theirs.contains("time") && theirs.contains("does not exist"),
            "{theirs}"
        );
    }
}
