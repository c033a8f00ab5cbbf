//! CVE-2025-52565: with `process.terminal`, the runtime bind-mounts the pty (/dev/pts/N) over
//! /dev/console. runc did it by path and *before* applying maskedPaths and readonlyPaths, so a
//! racing container that swapped /dev/pts/N for a symlink to, say,
//! /proc/sys/kernel/core_pattern got a read-write bind of it at /dev/console. (A /dev/console
//! that is itself a symlink is tests/console.rs.)
//!
//! carrack binds the console after pivot_root and after maskedPaths, readonlyPaths and
//! root.readonly (src/init/mod.rs `setup`), with the target resolved in the root
//! (src/linux/console.rs `bind_dev_console`): whatever the source ends up being, the bind
//! cannot be more writable than the container's own view of it.

use crate::common::*;
use crate::util::*;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::process::Output;

/// create with process.terminal and a console socket; the pty master when one was sent.
fn create_with_console(b: &Bundle, id: &str, n: usize) -> (Output, Option<OwnedFd>) {
    let sock = b.dir.join(format!("c{n}.sock"));
    let _ = std::fs::remove_file(&sock);
    let rx = receive_master(UnixListener::bind(&sock).unwrap());
    let out = b.rt_bundle("create", id, &["--console-socket", sock.to_str().unwrap()]);
    (out, rx.join().unwrap())
}

/// The advisory without the race: devpts is mounted at /dev/realpts and /dev/ptmx leads
/// there, while /dev/pts is the attacker's directory whose entries 0..15 are symlinks to
/// /proc/sys/kernel/domainname. A runtime that binds the console by its name /dev/pts/N gets
/// the procfs file at /dev/console; bound before readonlyPaths, writing /dev/console changes
/// it. The pty opened from the master (TIOCGPTPEER) never goes through the name.
#[test]
fn console_is_the_pty_not_what_its_name_leads_to() {
    let Some(()) = can_run() else { return };
    let mut b = new_bundle(&[
        "sh",
        "-c",
        "stat -L -c '%F %t:%T' /dev/console > /tmp/r; echo pwned > /dev/console; \
         cat /proc/sys/kernel/domainname >> /tmp/r",
    ]);
    b.config["process"]["terminal"] = true.into();
    b.config["domainname"] = "orig".into();
    let devvol = b.dir.join("devvol");
    for n in 0..16 {
        symlink(
            "/proc/sys/kernel/domainname",
            &devvol.join(format!("pts/{n}")),
        );
    }
    std::fs::create_dir_all(devvol.join("realpts")).unwrap();
    symlink("realpts/ptmx", &devvol.join("ptmx"));
    mknod_char(&devvol.join("null"), 1, 3);
    put(&devvol.join("console"), "", 0o644);
    replace_mount(&mut b.config, "/dev", bind("/dev", &devvol));
    let mut devpts = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/dev/pts")
        .expect("the default config mounts devpts")
        .clone();
    devpts["destination"] = "/dev/realpts".into();
    replace_mount(&mut b.config, "/dev/pts", devpts);
    remove_mounts(&mut b.config, &["/dev/shm", "/dev/mqueue"]);
    b.write_config();
    let id = b.id("52565-name");
    let (out, master) = create_with_console(&b, &id, 0);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    assert!(b.rt(&["start", &id]).status.success());
    assert!(b.wait_status(&id, "stopped"));
    drop(master);
    let seen = read_or_empty(&b.rootfs().join("tmp/r"));
    assert!(
        seen.starts_with("character special file 88:") && seen.ends_with("\norig\n"),
        "/dev/console is not the pty, or the container changed a read-only /proc file \
         through it:\n{seen}"
    );
}

/// The race of the advisory: a second party flips which of two directories is /dev/pts (the
/// real devpts or one of symlinks to /proc/sys/kernel/domainname) while containers start, so
/// the pty is opened in one and /dev/pts/N looked up in the other. Some
/// runs get the symlink as their console; /proc/sys is read-only by then, so writing
/// /dev/console must never change the value. (domainname is per UTS namespace: a run that
/// loses harms nothing; core_pattern would be the real target.)
#[test]
fn console_bind_never_gives_write_access_to_read_only_proc() {
    let Some(()) = can_run() else { return };
    let mut b = new_bundle(&[
        "sh",
        "-c",
        "stat -L -c '%F %t:%T' /dev/console > /tmp/r; echo pwned > /dev/console; \
         cat /proc/sys/kernel/domainname >> /tmp/r",
    ]);
    b.config["process"]["terminal"] = true.into();
    b.config["domainname"] = "orig".into();
    // Two directories trade the name /dev/pts. devpts gets mounted on whichever holds it when
    // the mounts are made; the other one is the attacker's: its entries 0..15 point at the
    // procfs file, and its ptmx at the devpts one (whatever its name is at that moment, the
    // uncovered directory is only reached as pts/ when devpts is fakepts/).
    let devvol = b.dir.join("devvol");
    for dir in ["pts", "fakepts"] {
        for n in 0..16 {
            symlink(
                "/proc/sys/kernel/domainname",
                &devvol.join(format!("{dir}/{n}")),
            );
        }
        symlink("../fakepts/ptmx", &devvol.join(format!("{dir}/ptmx")));
    }
    mknod_char(&devvol.join("null"), 1, 3);
    symlink("pts/ptmx", &devvol.join("ptmx"));
    put(&devvol.join("console"), "", 0o644);
    replace_mount(&mut b.config, "/dev", bind("/dev", &devvol));
    remove_mounts(&mut b.config, &["/dev/shm", "/dev/mqueue"]);
    b.write_config();

    let racer = Exchanger::start(&devvol.join("pts"), &devvol.join("fakepts"));
    let (mut redirected, mut real, mut failed) = (0, 0, 0);
    let r = b.rootfs().join("tmp/r");
    for i in 0..30 {
        let _ = std::fs::remove_file(&r);
        let id = b.id(&format!("52565-race-{i}"));
        let (out, master) = create_with_console(&b, &id, i);
        if !out.status.success() {
            failed += 1; // the lookup of /dev/ptmx met the fake directory: safe
            continue;
        }
        assert!(b.rt(&["start", &id]).status.success());
        assert!(b.wait_status(&id, "stopped"));
        drop(master);
        let seen = read_or_empty(&r);
        assert!(
            !seen.contains("pwned"),
            "the container wrote a read-only /proc file through /dev/console:\n{seen}"
        );
        if seen.starts_with("character special file") {
            real += 1;
        } else {
            redirected += 1;
        }
        let _ = b.rt(&["delete", "--force", &id]);
    }
    let swaps = racer.swaps();
    drop(racer);
    println!(
        "{real} runs had the pty as console, {redirected} a redirected one (written in vain), \
         {failed} failed to start; {swaps} swaps"
    );
}
