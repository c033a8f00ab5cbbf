//! A test bundle: static busybox plus the checker as the rootfs, a runc-like config, a
//! private `--root`, and a Drop that force-deletes every container it made and removes its
//! directory, so a failing case leaves nothing behind.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{fail, Ctx, Res};

static SEQ: AtomicUsize = AtomicUsize::new(0);
const BASE: &str = include_str!("../data/base-config.json");
/// What a runtime command may take before the case fails instead of hanging the suite.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.status.success()
    }
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }
    /// Err with the command's output unless it succeeded.
    pub fn check(self, what: &str) -> Res<Out> {
        if self.ok() {
            Ok(self)
        } else {
            fail(format!(
                "{what} failed (exit {}): {}",
                self.code(),
                self.stderr.trim()
            ))
        }
    }
}

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
    runtime: PathBuf,
    /// The user every runtime command runs as (`--rootless`).
    user: Option<&'static crate::rootless::User>,
    systemd: bool,
    ids: Vec<String>,
    n: usize,
}

impl Bundle {
    pub fn new(ctx: &Ctx) -> Bundle {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("oci-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("bundle dir");
        }
        std::fs::copy(&ctx.busybox, rootfs.join("bin/busybox")).expect("copy busybox");
        std::fs::write(rootfs.join("checker"), crate::CHECKER).expect("write checker");
        set_mode(&rootfs.join("checker"), 0o755);
        for applet in [
            "sh", "cat", "echo", "sleep", "true", "false", "ls", "id", "touch", "mkdir",
        ] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        let mut config: Value = serde_json::from_str(BASE).expect("base config");
        config["root"]["path"] = json!(rootfs);
        if let Some(u) = ctx.rootless {
            crate::rootless::to_rootless(&mut config, u.uid, u.gid);
            crate::rootless::chown_root_owned(&dir, u.uid, u.gid);
        }
        Bundle {
            dir,
            config,
            runtime: ctx.runtime.clone(),
            user: ctx.rootless,
            systemd: ctx.systemd,
            ids: Vec::new(),
            n,
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn state_root(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// A fresh container id, deleted (with --force) when the bundle is dropped.
    pub fn new_id(&mut self) -> String {
        let id = format!(
            "oci-test-{}-{}-{}",
            std::process::id(),
            self.n,
            self.ids.len()
        );
        self.ids.push(id.clone());
        id
    }

    /// Set a value at a JSON pointer, creating the objects on the way.
    pub fn set(&mut self, pointer: &str, v: Value) {
        let mut cur = &mut self.config;
        for part in pointer.trim_start_matches('/').split('/') {
            if !cur.is_object() {
                *cur = json!({});
            }
            cur = cur
                .as_object_mut()
                .unwrap()
                .entry(part.to_string())
                .or_insert(Value::Null);
        }
        *cur = v;
    }

    /// Append to the array at a JSON pointer (created when missing).
    pub fn push(&mut self, pointer: &str, v: Value) {
        // A rootless bundle has its user namespace already: a case asking for one keeps it.
        if self.user.is_some() && pointer == "/linux/namespaces" && v == json!({"type": "user"}) {
            return;
        }
        if self.config.pointer(pointer).map(Value::is_array) != Some(true) {
            self.set(pointer, json!([]));
        }
        self.config
            .pointer_mut(pointer)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(v);
    }

    pub fn args(&mut self, args: &[&str]) {
        self.set("/process/args", json!(args));
    }

    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .expect("write config.json");
        if let Some(u) = self.user {
            crate::rootless::chown_root_owned(&self.dir, u.uid, u.gid);
        }
    }

    /// The runtime with this bundle's `--root` and `args`; stdin is /dev/null. Output goes
    /// through files: a created container's init inherits them, and a pipe would stay open.
    pub fn rt(&self, args: &[&str]) -> Out {
        self.rt_with(args, |_| {})
    }

    pub fn rt_with(&self, args: &[&str], f: impl FnOnce(&mut Command)) -> Out {
        let k = SEQ.fetch_add(1, Ordering::SeqCst);
        let (o, e) = (
            self.dir.join(format!("out.{k}")),
            self.dir.join(format!("err.{k}")),
        );
        let mut cmd = match self.user {
            Some(u) => u.command(&self.runtime, &self.dir),
            None => Command::new(&self.runtime),
        };
        if self.systemd {
            cmd.arg("--systemd-cgroup");
        }
        cmd.arg("--root")
            .arg(self.state_root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap());
        f(&mut cmd);
        let status = wait_timeout(cmd);
        let out = Out {
            status,
            stdout: String::from_utf8_lossy(&std::fs::read(&o).unwrap_or_default()).into(),
            stderr: String::from_utf8_lossy(&std::fs::read(&e).unwrap_or_default()).into(),
        };
        let _ = std::fs::remove_file(o);
        let _ = std::fs::remove_file(e);
        out
    }

    /// `verb --bundle DIR [extra] ID`
    pub fn rt_bundle(&self, verb: &str, id: &str, extra: &[&str]) -> Out {
        let dir = self.dir.to_str().unwrap();
        let mut a = vec![verb, "--bundle", dir];
        a.extend_from_slice(extra);
        a.push(id);
        self.rt(&a)
    }

    /// Write the config and `run` it in the foreground.
    pub fn run(&mut self) -> Out {
        self.write();
        let id = self.new_id();
        self.rt_bundle("run", &id, &[])
    }

    /// Write the config and `create` it; the id is returned with the output.
    pub fn create(&mut self) -> (String, Out) {
        self.write();
        let id = self.new_id();
        let out = self.rt_bundle("create", &id, &[]);
        (id, out)
    }

    /// Run the checker with `extra` arguments and parse what it reports.
    pub fn check(&mut self, extra: &[&str]) -> Res<Value> {
        let mut args = vec!["/checker"];
        args.extend_from_slice(extra);
        self.args(&args);
        let out = self.run().check("run")?;
        parse_report(&out.stdout)
    }

    pub fn state(&self, id: &str) -> Res<Value> {
        let out = self.rt(&["state", id]).check("state")?;
        serde_json::from_str(&out.stdout)
            .or_else(|e| fail(format!("state output is not JSON ({e}): {}", out.stdout)))
    }

    /// Poll `state` until the status is `want` (5 s at most).
    pub fn wait_status(&self, id: &str, want: &str) -> Res<()> {
        let start = Instant::now();
        let mut last = Value::Null;
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(s) = self.state(id) {
                if s["status"] == want {
                    return Ok(());
                }
                last = s["status"].clone();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        fail(format!("status: expected {want}, observed {last}"))
    }

    /// A host path for a file the container can write through a bind mount at `dest`.
    pub fn share_dir(&mut self, dest: &str) -> PathBuf {
        let host = self.dir.join(format!("share{}", dest.replace('/', "_")));
        std::fs::create_dir_all(&host).unwrap();
        self.push(
            "/mounts",
            json!({"destination": dest, "type": "bind", "source": host, "options": ["rbind", "rw"]}),
        );
        host
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.rt(&["delete", "--force", id]);
            remove_cgroups_named(id);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A runtime killed half-way (runc's create hanging past our timeout) can leave cgroups that
/// its own `delete --force` does not know: remove every cgroup named after our id, killing
/// what is still in it (only processes of this case's container can be there).
fn remove_cgroups_named(id: &str) {
    // At the top of each hierarchy (an absolute cgroupsPath) and next to the suite's own
    // cgroup there (runc's default, relative to the runtime's cgroup).
    let mut dirs = vec![std::path::PathBuf::from("/sys/fs/cgroup").join(id)];
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten().map(|h| h.path()) {
            dirs.push(h.join(id));
            let name = h
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            for line in own.lines() {
                let mut f = line.splitn(3, ':');
                let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
                let ctrls = ctrls.trim_start_matches("name=");
                if ctrls == name || (ctrls.is_empty() && name == "unified") {
                    dirs.push(h.join(path.trim_start_matches('/')).join(id));
                }
            }
        }
    }
    for d in dirs.iter().filter(|d| d.is_dir()) {
        for _ in 0..100 {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if std::fs::remove_dir(d).is_ok() || !d.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn parse_report(stdout: &str) -> Res<Value> {
    let line = stdout.lines().find(|l| l.starts_with('{')).unwrap_or("");
    serde_json::from_str(line).or_else(|e| {
        fail(format!(
            "checker output is not JSON ({e}): {:?}",
            &stdout[..stdout.len().min(300)]
        ))
    })
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Wait for the command, killing it (by the pid we started) after TIMEOUT.
fn wait_timeout(mut cmd: Command) -> ExitStatus {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot start {:?}: {e}", cmd.get_program()),
    };
    let start = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
