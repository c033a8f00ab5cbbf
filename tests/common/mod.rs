//! Test bundles: static busybox rootfs, a config from `carrack spec`, a private --root, and a
//! Drop that force-deletes every container the test made and removes the temp dir, even when
//! the test panics.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_carrack");

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// None (after `skip`) when the host cannot run containers for tests.
pub fn can_run() -> Option<()> {
    if !nix::unistd::geteuid().is_root() {
        skip("not-root", "not root");
        return None;
    }
    if busybox().is_none() {
        skip("no-busybox", "no static busybox (install busybox-static)");
        return None;
    }
    Some(())
}

/// The host facts a test may skip on in CI: the first word of each line of
/// tests/allowed-skips (the one list, shared with oci-tests and scripts/test).
pub fn allowed_skip_facts() -> Vec<&'static str> {
    include_str!("../allowed-skips")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

/// Record that the calling test cannot check something on this host because of `fact`; the
/// caller then returns (or narrows its check). In CI (`CI=true`) this panics unless `fact` is
/// in tests/allowed-skips: a skipped check there is a test that passed without testing.
/// The line also goes to the file `$CARRACK_SKIP_LOG` (scripts/test sets it and prints the
/// counts at the end), because `cargo test --quiet` hides what a passing test prints.
pub fn skip(fact: &str, reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    println!("skip [{fact}]: {reason}");
    let allowed = allowed_skip_facts().contains(&fact);
    if std::env::var("CI").is_ok_and(|v| v == "true") && !allowed {
        panic!("skip [{fact}] in CI: {reason} (not a host fact of tests/allowed-skips)");
    }
    if let Some(log) = std::env::var_os("CARRACK_SKIP_LOG") {
        use std::io::Write;
        // O_APPEND and one write per line: tests in parallel threads and processes share it.
        let line = format!("{fact}\t{test}\t{reason}\n");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log);
        f.and_then(|mut f| f.write_all(line.as_bytes()))
            .expect("append to $CARRACK_SKIP_LOG");
    }
}

pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub config: Value,
    ids: std::sync::Mutex<Vec<String>>,
    runtime: String,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        Self::with_runtime(BIN, args)
    }

    pub fn with_runtime(runtime: &str, args: &[&str]) -> Bundle {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("carrack-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("bundle/rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        for d in ["etc", "tmp", "proc", "sys", "dev"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(busybox().unwrap(), rootfs.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "cat", "sleep", "id", "hostname", "ls", "touch", "pwd", "env", "true",
            "grep", "mount", "stat", "readlink", "wc", "tty", "stty",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(dir.join("bundle"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.join("bundle/config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = Value::Bool(false);
        config["process"]["args"] = serde_json::json!(args);
        config["root"]["readonly"] = Value::Bool(false);
        let b = Bundle {
            root: dir.join("state"),
            dir,
            config,
            ids: Default::default(),
            runtime: runtime.to_string(),
        };
        b.write_config();
        b
    }

    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.bundle().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// A unique container id, remembered for cleanup.
    pub fn id(&self, name: &str) -> String {
        let id = format!(
            "carrack-test-{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(&self.root);
        c
    }

    /// Run the runtime with `args`; stdin is closed. Output goes through files, not pipes: a
    /// created container's init inherits them and would keep a pipe open until it exits.
    pub fn rt(&self, args: &[&str]) -> Output {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let (o, e) = (
            self.dir.join(format!("out.{n}")),
            self.dir.join(format!("err.{n}")),
        );
        let status = self
            .cmd()
            .args(args)
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

    /// Like `rt`, with the bundle directory appended as `--bundle`.
    pub fn rt_bundle(&self, verb: &str, id: &str, extra: &[&str]) -> Output {
        let b = self.bundle();
        let mut args = vec![verb, "--bundle", b.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt(&args)
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Poll until the container has the status or the timeout passes.
    pub fn wait_status(&self, id: &str, want: &str) -> bool {
        for _ in 0..500 {
            let out = self.rt(&["state", id]);
            if out.status.success() {
                let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                if v["status"] == want {
                    return true;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        false
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().iter() {
            let _ = self.cmd().args(["delete", "--force", id]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every existing cgroup directory the runtime would make for cgroup `name` (there must be
/// none after delete): see `planned_cgroup_dirs`.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    planned_cgroup_dirs(name)
        .into_iter()
        .filter(|p| p.is_dir())
        .collect()
}

/// Where carrack puts the cgroup `name` on each hierarchy, for both forms a test uses: the
/// relative one (no cgroupsPath means "<id>" relative) and the absolute "/<name>". This is
/// the rule of the runtime's planner (src/cgroups/mod.rs `plan_from`; there is no library
/// crate to call it through): a relative path goes under the caller's own cgroup from
/// /proc/self/cgroup (carrack, our child, inherits ours), or its parent on a pure v2 host,
/// with the mount's root stripped; an absolute one directly under the mount point. So the
/// leak checks hold from any cgroup (a systemd session, a CI runner's cgroup), not only
/// from the root. tests/cgroups.rs checks this against the dirs a container records.
pub fn planned_cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // (mount root, mount point, is cgroup2, super options)
    let mut mounts: Vec<(String, PathBuf, bool, Vec<String>)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            let v2 = match *post.first()? {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let opts = post.get(2)?.split(',').map(String::from).collect();
            Some((pre[3].to_string(), PathBuf::from(pre[4]), v2, opts))
        })
        .collect();
    // As the planner: the mounts under /sys/fs/cgroup when there are any.
    if mounts.iter().any(|m| m.1.starts_with("/sys/fs/cgroup")) {
        mounts.retain(|m| m.1.starts_with("/sys/fs/cgroup"));
    }
    let pure_v2 = mounts.iter().all(|m| m.2);
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut out = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let Some(m) = mounts.iter().find(|m| match ctrls {
            "" => m.2,
            c => !m.2 && c.split(',').all(|c| m.3.iter().any(|o| o == c)),
        }) else {
            continue;
        };
        let mut rel = path.strip_prefix(m.0.as_str()).unwrap_or(path);
        if pure_v2 {
            rel = rel.rsplit_once('/').map_or("", |(parent, _)| parent);
        }
        out.push(m.1.join(rel.trim_start_matches('/')).join(name));
        out.push(m.1.join(name));
    }
    out.sort();
    out.dedup();
    out
}

/// Live processes whose command line mentions `needle` (init is a clone of create: same argv).
pub fn processes_mentioning(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(needle) && !stat.contains(") Z")
        })
        .collect()
}

/// After `delete --force`: no process, cgroup directory (named `cgroup`), mount or state dir
/// of container `id` remains. `what` labels the failure.
pub fn assert_nothing_left(b: &Bundle, id: &str, cgroup: &str, what: &str) {
    let mut left = processes_mentioning(id);
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        left = processes_mentioning(id);
    }
    assert!(left.is_empty(), "{what}: processes left {left:?}");
    let dirs = cgroup_dirs_named(cgroup);
    assert!(dirs.is_empty(), "{what}: cgroups left {dirs:?}");
    assert!(!b.root.join(id).exists(), "{what}: state left");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(id), "{what}: mount left");
}

/// One message and the fd passed with it (SCM_RIGHTS) on a connected unix socket: the
/// protocol of --console-socket, --pidfd-socket and seccomp's listenerPath.
pub fn recv_fd(
    conn: &impl std::os::fd::AsRawFd,
) -> std::io::Result<(Vec<u8>, std::os::fd::OwnedFd)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = vec![0u8; 65536];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    let fd = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmRights(f) => f.first().copied(),
        _ => None,
    });
    let n = msg.bytes;
    let fd = fd.ok_or_else(|| std::io::Error::other("no fd with the message"))?;
    buf.truncate(n);
    // SAFETY: the kernel just installed this fd for us.
    Ok((buf, unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
}
