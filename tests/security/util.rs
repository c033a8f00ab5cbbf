//! Helpers shared by the reproducers: a private copy of the runtime, config surgery, files in
//! the rootfs, the console socket, and a racer thread standing in for a second container.

use crate::common::*;
use serde_json::{json, Value};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The runtime under test: carrack, or the one named by `CARRACK_SECURITY_RUNTIME` (e.g. an
/// old runc, to see the reproducers catch what they reproduce).
pub fn runtime() -> String {
    std::env::var("CARRACK_SECURITY_RUNTIME").unwrap_or_else(|_| BIN.to_string())
}

/// A test bundle run by `runtime()`.
pub fn new_bundle(args: &[&str]) -> Bundle {
    Bundle::with_runtime(&runtime(), args)
}

/// A copy of the runtime binary in a temp dir of its own, so that an attack that works damages
/// the copy, never the build. Declare it before the Bundle that runs it: the Bundle's Drop
/// (delete --force) still needs it.
pub struct RuntimeCopy {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl RuntimeCopy {
    pub fn new() -> RuntimeCopy {
        let dir = tempfile::Builder::new()
            .prefix("carrack-security-bin-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("carrack");
        // cp in a child process: a write fd on the copy held by this (multi-threaded) test
        // process could leak into a concurrent fork and make execve fail with ETXTBSY.
        let st = std::process::Command::new("cp")
            .arg(runtime())
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "cp {}", runtime());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        RuntimeCopy { _dir: dir, path }
    }

    pub fn str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    /// sha256sum's hex digest (for messages; the comparison is on the bytes).
    pub fn sha256(&self) -> String {
        std::process::Command::new("sha256sum")
            .arg(&self.path)
            .output()
            .map(|o| text(&o.stdout).split(' ').next().unwrap_or("").to_string())
            .unwrap_or_default()
    }
}

/// Write `content` at `path` (parents created) with `mode`.
pub fn put(path: &Path, content: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Replace whatever is at `link` with a symlink to `target`.
pub fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(link);
    let _ = std::fs::remove_dir_all(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A character device node (the test runs as root).
pub fn mknod_char(path: &Path, major: u32, minor: u32) {
    let _ = std::fs::remove_file(path);
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(major as u64, minor as u64),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
}

/// Drop the config's mounts at these destinations.
pub fn remove_mounts(config: &mut Value, destinations: &[&str]) {
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !destinations.iter().any(|d| m["destination"] == *d));
}

pub fn add_mount(config: &mut Value, m: Value) {
    config["mounts"].as_array_mut().unwrap().push(m);
}

/// Put `m` in place of the mount at `dest`, keeping the order of the others (a /dev bind must
/// stay before the /dev/pts mount on top of it).
pub fn replace_mount(config: &mut Value, dest: &str, m: Value) {
    let mounts = config["mounts"].as_array_mut().unwrap();
    let i = mounts
        .iter()
        .position(|x| x["destination"] == dest)
        .unwrap_or_else(|| panic!("no mount at {dest}"));
    mounts[i] = m;
}

/// A bind mount of a host directory.
pub fn bind(dest: &str, src: &Path) -> Value {
    json!({"destination": dest, "type": "bind", "source": src, "options": ["rbind"]})
}

/// Poll `f` every 10 ms until it holds or `secs` pass.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// A file the container wrote under the rootfs, or "".
pub fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Accept one connection on `listener` and receive the pty master it carries (the
/// --console-socket protocol).
pub fn receive_master(listener: UnixListener) -> std::thread::JoinHandle<Option<OwnedFd>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).ok()?;
        let end = Instant::now() + Duration::from_secs(10);
        let conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return None,
            }
        };
        conn.set_nonblocking(false).ok()?;
        recv_fd(&conn).ok().map(|(_, fd)| fd)
    })
}

/// renameat2(RENAME_EXCHANGE) of `a` and `b` in a loop until dropped: the racing container
/// of the advisories, played by the host (it has the same view of a shared directory).
pub struct Exchanger {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exchanger {
    pub fn start(a: &Path, b: &Path) -> Exchanger {
        use std::os::unix::ffi::OsStrExt;
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicUsize::new(0));
        let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
        let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
        let (s, n) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // SAFETY: `a` and `b` are NUL-terminated CStrings the thread owns for the call; the
                // other arguments are integers.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                if r == 0 {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Exchanger {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    pub fn swaps(&self) -> usize {
        self.swaps.load(Ordering::Relaxed)
    }
}

impl Drop for Exchanger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
