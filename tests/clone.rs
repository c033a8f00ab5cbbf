//! linux::clone::clone_child's contract, checked in a process of our own (harness = false:
//! the test harness runs tests on threads, and a clone of a threaded process is refused).
//! No root: a clone without namespaces.

use carrack::linux::clone::{clone_child, threads};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

fn wait(pid: i32) -> WaitStatus {
    waitpid(Pid::from_raw(pid), None).expect("waitpid")
}

fn main() {
    assert_eq!(threads().unwrap(), 1, "the test starts single-threaded");

    // abort() in the child kills the child (musl: its cached tid refreshed), not us.
    // SAFETY: single-threaded (checked by clone_child too); the body ends in abort.
    let c = unsafe { clone_child(0, None, &[], |_| std::process::abort()) }.unwrap();
    assert_eq!(
        wait(c.pid),
        WaitStatus::Signaled(Pid::from_raw(c.pid), Signal::SIGABRT, false)
    );

    // A panic in the child is an _exit(127) there, never an unwind into our frames.
    // SAFETY: as above; the body panics.
    let c = unsafe { clone_child(0, None, &[], |_| panic!("in the child")) }.unwrap();
    assert_eq!(wait(c.pid), WaitStatus::Exited(Pid::from_raw(c.pid), 127));

    // Flags that share memory are refused before anything is cloned.
    // SAFETY: refused, nothing runs.
    let e = unsafe { clone_child(libc::CLONE_VM as u64, None, &[], |_| {}) }
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("would share"), "{e:#}");

    // A second thread: refused.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _ = rx.recv();
    });
    // SAFETY: refused (two threads), nothing runs.
    let e = unsafe { clone_child(0, None, &[], |_| {}) }.err().unwrap();
    assert!(format!("{e:#}").contains("2 threads"), "{e:#}");
    drop(tx);
    t.join().unwrap();
    println!("clone: 4 checks passed");
}
