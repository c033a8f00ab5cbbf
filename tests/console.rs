//! process.terminal: the console-socket protocol (pty master over SCM_RIGHTS), exec -t, and
//! `run` in the foreground relaying a pty.

mod common;

use common::*;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// Accept one connection on `listener` and receive the pty master it carries.
fn receive_master(listener: UnixListener) -> std::thread::JoinHandle<(String, OwnedFd)> {
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (name, fd) = recv_fd(&conn).unwrap();
        (String::from_utf8_lossy(&name).into_owned(), fd)
    })
}

/// Read from the master until `want` shows up or 5 s pass.
fn read_until(master: &OwnedFd, want: &str) -> String {
    let mut f = std::fs::File::from(master.try_clone().unwrap());
    // SAFETY: F_SETFL takes an int; the fd is master's, an open OwnedFd.
    unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut out = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !out.contains(want) && std::time::Instant::now() < deadline {
        let mut buf = [0u8; 1024];
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    out
}

#[test]
fn console_socket_receives_a_working_pty() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "tty; stat -c %t:%T /dev/console; echo size $(stty size 2>/dev/null); read x; echo got-$x",
    ]);
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["consoleSize"] = serde_json::json!({"height": 30, "width": 100});
    b.write_config();
    let sock = b.dir.join("console.sock");
    let rx = receive_master(UnixListener::bind(&sock).unwrap());
    let id = b.id("console");
    let out = b.rt_bundle("create", &id, &["--console-socket", sock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (name, master) = rx.join().unwrap();
    assert!(name.starts_with("/dev/pts/"), "{name}");
    assert!(b.rt(&["start", &id]).status.success());
    let first = read_until(&master, "size 30 100");
    assert!(first.contains("/dev/pts/0"), "{first}");
    // /dev/console is the pty (char 136 = 0x88), and consoleSize was applied.
    assert!(first.contains("88:0"), "{first}");
    assert!(first.contains("size 30 100"), "{first}");
    nix::unistd::write(&master, b"ping\n").unwrap();
    let out = read_until(&master, "got-ping");
    assert!(out.contains("got-ping"), "{out}");
    assert!(b.wait_status(&id, "stopped"));
}

#[test]
fn exec_tty_through_a_console_socket() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("exectty");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let sock = b.dir.join("exec.sock");
    let rx = receive_master(UnixListener::bind(&sock).unwrap());
    let out = b.rt(&[
        "exec",
        "-t",
        "--console-socket",
        sock.to_str().unwrap(),
        "-d",
        &id,
        "sh",
        "-c",
        "tty; sleep 1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, master) = rx.join().unwrap();
    let out = read_until(&master, "/dev/pts/");
    assert!(out.contains("/dev/pts/"), "{out}");
}

#[test]
fn run_in_the_foreground_relays_the_pty() {
    let Some(()) = can_run() else { return };
    if !std::path::Path::new("/usr/bin/script").exists() {
        skip(
            "no-script",
            "no script(1) to give the test a terminal (install bsdutils)",
        );
        return;
    }
    let mut b = Bundle::new(&["sh", "-c", "tty; echo relayed; exit 4"]);
    b.config["process"]["terminal"] = true.into();
    b.write_config();
    let id = b.id("runtty");
    let cmd = format!(
        "{BIN} --root {} run --bundle {} {id}",
        b.root.display(),
        b.bundle().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("/dev/pts/0") && stdout.contains("relayed"),
        "{stdout} {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(!b.root.join(&id).exists());
}

#[test]
fn detached_terminal_without_console_socket_is_refused() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["terminal"] = true.into();
    b.write_config();
    let id = b.id("notty");
    let out = b.rt_bundle("create", &id, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("console socket"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.root.join(&id).exists());
}

/// Connect a listener at `<dir>/<name>`; the thread returns the master it receives.
fn console_socket(b: &Bundle, name: &str) -> (String, std::thread::JoinHandle<(String, OwnedFd)>) {
    let sock = b.dir.join(name);
    let rx = receive_master(UnixListener::bind(&sock).unwrap());
    (sock.to_str().unwrap().to_string(), rx)
}

#[test]
fn the_pty_belongs_to_process_user_for_create_and_exec() {
    let Some(()) = can_run() else { return };
    // As runc: the slave's owner becomes process.user's uid; its group stays the one devpts
    // gives it (gid=5, the tty group, in the default config's mount options).
    let show = "echo owner $(stat -c '%u:%g' $(tty)) size $(stty size); sleep 1";
    let mut b = Bundle::new(&["sh", "-c", show]);
    b.config["process"]["terminal"] = true.into();
    b.config["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    b.config["process"]["consoleSize"] = serde_json::json!({"height": 25, "width": 90});
    b.write_config();
    let (sock, rx) = console_socket(&b, "create.sock");
    let id = b.id("ptyowner");
    let out = b.rt_bundle("create", &id, &["--console-socket", &sock]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, master) = rx.join().unwrap();
    assert!(b.rt(&["start", &id]).status.success());
    let got = read_until(&master, "size 25 90");
    assert!(got.contains("owner 1000:5 size 25 90"), "create: {got}");

    let b = Bundle::new(&["sleep", "60"]);
    let id = b.id("ptyownerexec");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let proc_json = b.dir.join("process.json");
    std::fs::write(
        &proc_json,
        serde_json::json!({
            "terminal": true,
            "consoleSize": {"height": 20, "width": 70},
            "user": {"uid": 1000, "gid": 1000},
            "cwd": "/",
            "env": ["PATH=/bin"],
            "args": ["sh", "-c", show],
        })
        .to_string(),
    )
    .unwrap();
    let (sock, rx) = console_socket(&b, "exec.sock");
    let out = b.rt(&[
        "exec",
        "--console-socket",
        &sock,
        "-d",
        "-p",
        proc_json.to_str().unwrap(),
        &id,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, master) = rx.join().unwrap();
    let got = read_until(&master, "size 20 70");
    assert!(got.contains("owner 1000:5 size 20 70"), "exec: {got}");
}

/// An image whose /dev/console is a symlink to a host path (no tmpfs on /dev: the image's
/// entry is what the runtime meets). The console is bound after pivot_root, with the target
/// resolved in the container's root, so nothing may appear at the host path; refusing the
/// container is safe too (carrack accepts it: the link resolves in the root).
#[test]
fn dev_console_symlink_cannot_reach_the_host() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sh", "-c", "stat -L -c %t:%T /dev/console > /tmp/r"]);
    b.config["process"]["terminal"] = true.into();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/dev");
    b.write_config();
    let target = b.dir.join("console-target");
    let _ = std::fs::remove_file(b.rootfs().join("dev/console"));
    std::os::unix::fs::symlink(&target, b.rootfs().join("dev/console")).unwrap();
    let (sock, rx) = console_socket(&b, "link.sock");
    let id = b.id("consolelink");
    let out = b.rt_bundle("create", &id, &["--console-socket", &sock]);
    // Joined only when create succeeded: otherwise nothing connects and the accept blocks.
    let ran = out.status.success() && {
        let _master = rx.join().unwrap();
        assert!(b.rt(&["start", &id]).status.success());
        assert!(b.wait_status(&id, "stopped"));
        true
    };
    assert!(
        !target.exists(),
        "the runtime followed the image's /dev/console symlink onto the host"
    );
    if ran {
        let seen = std::fs::read_to_string(b.rootfs().join("tmp/r")).unwrap_or_default();
        assert!(
            seen.starts_with("88:"),
            "/dev/console is not the pty: {seen}"
        );
    }
}
