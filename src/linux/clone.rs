//! clone3 of the whole process into new namespaces (and a cgroup), without exec: the child
//! runs a closure on a copy of our memory. Used for init (launcher), exec's child
//! (container/exec.rs) and a throwaway user namespace (linux/idmap.rs).
//!
//! A raw clone is `fork` without libc's bookkeeping, so the contract of [`clone_child`] is
//! written down there and the parts that can be checked are checked.

use crate::sync::{self, Channel};
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Flags that would make the child share our memory, signal handlers or thread: the child
/// would then run on our stack and heap at the same time as we do.
const SHARING: u64 = (libc::CLONE_VM
    | libc::CLONE_VFORK
    | libc::CLONE_THREAD
    | libc::CLONE_SIGHAND
    | libc::CLONE_SETTLS
    | libc::CLONE_FILES
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_PARENT_SETTID) as u64;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A cloned child and our end of its channel (sync.rs).
pub struct Child {
    pub pid: i32,
    pub(crate) chan: Channel,
}

/// clone3 with `flags` (and into the v2 cgroup `cgroup_fd`); the child closes `parent_only`,
/// runs `body` with its end of the channel, and `_exit(127)`s should `body` return.
///
/// Checked here (an error, nothing cloned): the process has one thread (`/proc/self/task`
/// has 2 + threads links: one stat), and `flags` share nothing with the child (no CLONE_VM,
/// CLONE_THREAD, CLONE_FILES, ...). Done in the child before `body`: a panic hook that
/// prints the message and `_exit(127)`s (a panic never unwinds into the caller's frames,
/// which the parent owns), and with musl the thread id libc caches is refreshed, so that
/// `abort()` and `raise()` in the child signal the child and not us.
///
/// # Safety
///
/// The caller guarantees what cannot be checked:
/// - no lock is held by this thread that `body` takes (stdio locks, a `Mutex` around the
///   call): the child's copy stays locked forever;
/// - `body` does not return into code that expects to be the parent, and ends in `execve`
///   or `_exit`; destructors of what `body` captured do not run in the child (so nothing
///   it owns may depend on them running: temp files, a lock released on drop);
/// - `parent_only` are fds the child may close (it does not own them as Rust objects).
pub unsafe fn clone_child(
    flags: u64,
    cgroup_fd: Option<&OwnedFd>,
    parent_only: &[RawFd],
    body: impl FnOnce(&Channel),
) -> Result<Child> {
    if flags & SHARING != 0 {
        bail!("clone3: flags {flags:#x} would share our memory or fds with the child");
    }
    let threads = threads().context("clone3: count our threads")?;
    if threads != 1 {
        bail!("clone3: the process has {threads} threads; a clone of it must have one");
    }
    let tid_slot = libc_tid::slot();
    let (parent_end, child_end) = sync::pair()?;
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // Decided here, not in the child: there, geteuid() reads the new user namespace, where
    // it turns from 65534 to 0 the moment we write the uid map. A child that ran late read
    // 0, went non-dumpable, and our open of /proc/<pid>/root failed (EACCES).
    let stay_dumpable = flags & libc::CLONE_NEWUSER as u64 != 0 && crate::rootless::euid();
    // SAFETY: clone3 with a valid CloneArgs of the size passed; no stack given, so the child
    // runs on a copy of ours (no CLONE_VM: checked above), as after fork.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error()).context(if cgroup_fd.is_some() {
            "clone3 into the container's namespaces and cgroup"
        } else {
            "clone3 into the container's namespaces"
        });
    }
    if pid == 0 {
        // SAFETY: the child, single-threaded; the slot was verified in the parent (slot()).
        unsafe { libc_tid::refresh(tid_slot) };
        std::panic::set_hook(Box::new(|info| {
            eprintln!("carrack: child process: {info}");
            // SAFETY: _exit never returns and runs no destructor: nothing of the parent's
            // state (its stack frames, locks) is touched.
            unsafe { libc::_exit(127) }
        }));
        // Non-dumpable until it execs: no container process may open its /proc files
        // (its exe is carrack's: CVE-2019-5736, see selfexe.rs).
        // Except a rootless create's init: /proc/<pid> of a non-dumpable process belongs to
        // the host's root, so its (non-root) parent could not write its id maps or open its
        // root for the mount sources; init turns non-dumpable on Go (init::setup), before
        // anything of the container exists, as runc's nsexec does.
        if !stay_dumpable && !crate::insecure::off(crate::insecure::Defence::ReadonlyExe) {
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) };
        }
        drop(parent_end);
        for fd in parent_only {
            // SAFETY: the caller hands these fds to the child to close (the contract); no
            // Rust object of the child's uses them.
            unsafe { libc::close(*fd) };
        }
        body(&child_end);
        // SAFETY: bodies end in execve or _exit; never return to the caller's frames.
        unsafe { libc::_exit(127) }
    }
    drop(child_end);
    Ok(Child {
        pid: pid as i32,
        chan: parent_end,
    })
}

/// How many threads this process has: /proc/self/task holds one directory per thread, so
/// its link count is 2 + threads.
pub fn threads() -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self/task")?
        .nlink()
        .saturating_sub(2))
}

/// musl caches the calling thread's id in its thread descriptor (`struct pthread`, field
/// `tid`) and `raise`/`abort` signal that id: after a raw clone the child's copy still names
/// the parent, so a child's `abort()` would kill us. musl's own fork rewrites it; we do the
/// same at the field's offset, after checking in the parent that the offset holds our tid.
/// glibc's raise asks the kernel (gettid), so nothing is stale there.
mod libc_tid {
    /// The address of the cached tid, verified, or None (glibc; an unknown musl layout).
    pub fn slot() -> Option<*mut libc::c_int> {
        #[cfg(all(target_env = "musl", target_arch = "x86_64"))]
        const OFFSET: Option<usize> = Some(48); // self, dtv, prev, next, sysinfo, canary
        #[cfg(all(target_env = "musl", target_arch = "aarch64"))]
        const OFFSET: Option<usize> = Some(32); // self, prev, next, sysinfo (TLS above TP)
        #[cfg(not(all(
            target_env = "musl",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        const OFFSET: Option<usize> = None;
        let off = OFFSET?;
        // SAFETY: pthread_self is always callable; the descriptor is at least OFFSET + 4
        // bytes long on these targets (musl's struct pthread), and read as an aligned int.
        let (p, tid) = unsafe {
            let p = (libc::pthread_self() as *mut u8).add(off) as *mut libc::c_int;
            (p, libc::syscall(libc::SYS_gettid) as libc::c_int)
        };
        // SAFETY: see above: inside the descriptor, aligned.
        (unsafe { p.read() } == tid).then_some(p)
    }

    /// In the child: the cached tid becomes the child's.
    ///
    /// # Safety
    /// `slot` is what slot() returned in the parent, and the child has one thread.
    pub unsafe fn refresh(slot: Option<*mut libc::c_int>) {
        if let Some(p) = slot {
            // SAFETY: the caller's contract: a verified slot in our own (copied) descriptor,
            // which no other thread reads.
            unsafe { p.write(libc::syscall(libc::SYS_gettid) as libc::c_int) };
        }
    }
}
