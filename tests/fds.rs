//! File descriptors: --preserve-fds, socket activation (LISTEN_FDS), and nothing else leaks.

mod common;

use common::*;

/// Run `carrack run` from a shell that first runs `prelude` (to open fds, set env).
fn run_via_shell(b: &Bundle, id: &str, prelude: &str, flags: &str) -> std::process::Output {
    let cmd = format!(
        "{prelude} exec {BIN} --root {} run {flags} --bundle {} {id}",
        b.root.display(),
        b.bundle().display()
    );
    std::process::Command::new("/bin/sh")
        .args(["-c", &cmd])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn preserve_fds_passes_exactly_those_fds() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sh", "-c", "cat <&3; cat <&4; ls /proc/self/fd | wc -l"]);
    std::fs::write(b.dir.join("a"), "A\n").unwrap();
    std::fs::write(b.dir.join("c"), "C\n").unwrap();
    let files = format!("exec 3<{0}/a 4<{0}/c 5<{0}/a;", b.dir.display());
    let id = b.id("fds");
    let out = run_via_shell(&b, &id, &files, "--preserve-fds 2");
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 0,1,2,3,4 and ls's own directory fd: fd 5 and carrack's own fds did not leak.
    assert_eq!(text(&out.stdout), "A\nC\n6\n");
    let id = b.id("nofds");
    let out = run_via_shell(&b, &id, &files, "");
    assert_eq!(
        text(&out.stdout),
        "4\n",
        "fds reached a container without --preserve-fds"
    );
}

#[test]
fn socket_activation_fds_and_env() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
    std::fs::write(b.dir.join("sock"), "activated\n").unwrap();
    let prelude = format!(
        "exec 3<{}/sock; export LISTEN_FDS=1 LISTEN_PID=$$;",
        b.dir.display()
    );
    let id = b.id("listen");
    let out = run_via_shell(&b, &id, &prelude, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1 1\nactivated\n");
}

/// --preserve-fds larger than what the caller opened used to hand carrack's own fds (cgroup
/// files and directories, exec.fifo, the init socket) to the container. Refused, as runc.
#[test]
fn preserve_fds_beyond_the_callers_open_fds_is_refused() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["sh", "-c", "ls -l /proc/self/fd/"]);
    let files = format!("exec 3<{0}/bundle/config.json;", b.dir.display());
    for (name, flags, why) in [
        ("run", "--preserve-fds 6", "preserved-fd 4"),
        ("big", "--preserve-fds 2147483000", "preserved-fd 4"),
        ("huge", "--preserve-fds 4294967295", "too large"),
    ] {
        let id = b.id(name);
        let out = run_via_shell(&b, &id, &files, flags);
        assert!(!out.status.success(), "{flags}: {}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains(why),
            "{flags}: {}",
            text(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "the container ran: {}",
            text(&out.stdout)
        );
        assert_nothing_left(&b, &id, &id, flags);
    }
    // exec into a running container, likewise.
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["process"]["args"] = serde_json::json!(["sleep", "60"]);
    b.write_config();
    let id = b.id("exec");
    assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
    let cmd = format!(
        "exec 3</dev/null; exec {BIN} --root {} exec --preserve-fds 3 {id} ls -l /proc/self/fd/",
        b.root.display()
    );
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &cmd])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "exec ran: {}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("preserved-fd 4"),
        "{}",
        text(&out.stderr)
    );
}

/// A caller that closed stdin (podman `run -d` without `-i`) hands the container a closed fd 0,
/// not the host /dev/null carrack opens for itself: that one is outside the container's mounts
/// (CRIU cannot checkpoint it) and is carrack's, not the caller's.
#[test]
fn a_closed_stdin_stays_closed_in_the_container() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&["readlink", "/proc/self/fd/0"]);
    let id = b.id("closed0");
    let out = run_via_shell(&b, &id, "exec 0<&-;", "");
    assert_eq!(text(&out.stdout), "", "fd 0 of the container is open");
    assert!(!out.status.success(), "readlink of a closed fd 0 succeeded");
    let id = b.id("open0");
    let out = run_via_shell(&b, &id, "", "");
    assert_eq!(text(&out.stdout), "/dev/null\n", "{}", text(&out.stderr));
}

/// A caller's /dev/null on stdio becomes the container's own /dev/null (runc's
/// reOpenDevNull): the host's is a file on a mount outside the container, which CRIU cannot
/// checkpoint (podman's conmon gives it as stdin without `-i`).
#[test]
fn the_hosts_dev_null_on_stdin_becomes_the_containers() {
    let Some(()) = can_run() else { return };
    let b = Bundle::new(&[
        "sh",
        "-c",
        "grep mnt_id /proc/self/fdinfo/0; grep ' /dev ' /proc/self/mountinfo",
    ]);
    let id = b.id("devnull");
    let out = run_via_shell(&b, &id, "", "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let fd0_mount = lines.next().and_then(|l| l.split_whitespace().nth(1));
    let dev_mount = lines.next().and_then(|l| l.split_whitespace().next());
    assert!(fd0_mount.is_some() && dev_mount.is_some(), "{stdout}");
    assert_eq!(
        fd0_mount, dev_mount,
        "fd 0 is not on the container's /dev mount: {stdout}"
    );
}
