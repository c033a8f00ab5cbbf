//! CVE-2019-5736: a container must never reach the runtime binary for writing. Every process
//! carrack puts in a container (init, exec children) is a clone of carrack, so its
//! /proc/<pid>/exe is carrack's executable, and so is /proc/self/exe when init runs a
//! `#!/proc/self/exe` script. Two defences:
//! - the executable is on a read-only mount: before `create`, `run` or `exec` does anything,
//!   carrack re-executes itself once through a detached read-only bind mount of its own file
//!   (open_tree + mount_setattr(MOUNT_ATTR_RDONLY) + execveat; no copy, no path the container
//!   can see), so a reopen of /proc/<pid>/exe for writing fails with EROFS. Where that mount
//!   cannot be made, a sealed memfd copy is executed instead (writes fail with EPERM);
//! - the clones are non-dumpable until they exec (linux::clone::clone_child), so a container
//!   process cannot even open their /proc files.
//!
//! When the binary already lives on a read-only mount (a read-only /usr), nothing is done.

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicPtr, Ordering};

/// The command line as the kernel passed it to `main`: a NULL-terminated array that lives as
/// long as the process. carrack's binary keeps its own because std::env::args is empty under
/// `no_main` with musl (only glibc hands argv to std's .init_array hook).
static ARGV: AtomicPtr<*const libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The binary's C entry point hands over its argv (before anything else runs).
///
/// # Safety
///
/// `argv` is null or a NULL-terminated array of NUL-terminated strings, which with the array
/// stay valid and unchanged for the rest of the process: `args` reads them as `'static`.
pub unsafe fn set_argv(argv: *mut *const libc::c_char) {
    ARGV.store(argv, Ordering::Relaxed);
}

/// argv for execve: the entry point's, or for a program that uses carrack as a library (a
/// Rust `main`), std's arguments made into one (kept for the process's life); null if
/// neither has any.
pub fn argv() -> *const *const libc::c_char {
    let p = ARGV.load(Ordering::Relaxed);
    if !p.is_null() {
        return p;
    }
    let args: Vec<std::ffi::CString> = std::env::args_os()
        .filter_map(|a| std::ffi::CString::new(std::os::unix::ffi::OsStringExt::into_vec(a)).ok())
        .collect();
    if args.is_empty() {
        return std::ptr::null();
    }
    let mut ptrs: Vec<*const libc::c_char> =
        args.into_iter().map(|a| a.into_raw() as *const _).collect();
    ptrs.push(std::ptr::null());
    let leaked = Box::leak(ptrs.into_boxed_slice()).as_mut_ptr();
    match ARGV.compare_exchange(
        std::ptr::null_mut(),
        leaked,
        Ordering::Relaxed,
        Ordering::Relaxed,
    ) {
        Ok(_) => leaked,
        Err(theirs) => theirs, // another thread was first: ours stays leaked, once
    }
}

/// The arguments, program name first (see argv).
pub fn args() -> impl Iterator<Item = &'static std::ffi::CStr> {
    let mut p = argv();
    std::iter::from_fn(move || {
        // SAFETY: argv() is a NULL-terminated array of NUL-terminated strings that lives as
        // long as the process (the kernel's, or one leaked above).
        unsafe {
            if p.is_null() || (*p).is_null() {
                return None;
            }
            let arg = std::ffi::CStr::from_ptr(*p);
            p = p.add(1);
            Some(arg)
        }
    })
}

const OPEN_TREE_CLONE: u32 = 1;
const MOUNT_ATTR_RDONLY: u64 = 1;

/// The verbs that put a clone of carrack into a container.
#[cfg_attr(test, allow(dead_code))] // called from the C entry point only
const VERBS: [&[u8]; 3] = [b"create", b"run", b"exec"];

/// protect() before the command line is parsed, when any argument is one of VERBS: parsing
/// builds clap's whole command tree (about 0.6 ms), and a process that re-executes would
/// parse twice. Over-matching (a container named "run") costs one exec, nothing else. An
/// error is left to the check after parsing (main.rs), which reports it with the --log set up.
#[cfg_attr(test, allow(dead_code))] // called from the C entry point only
pub fn protect_early() {
    if args().skip(1).any(|a| VERBS.contains(&a.to_bytes())) {
        let _ = protect();
    }
}

/// Returns when carrack runs from a read-only executable; otherwise re-executes and does
/// not return.
pub fn protect() -> Result<()> {
    if crate::insecure::off(crate::insecure::Defence::ReadonlyExe) || already_protected() {
        return Ok(());
    }
    let exe = match read_only_bind() {
        Ok(fd) => fd,
        Err(e) => sealed_copy().with_context(|| format!("read-only bind failed ({e:#})"))?,
    };
    let argv = argv();
    if argv.is_null() {
        bail!("protect the runtime binary (CVE-2019-5736): no command line to re-execute");
    }
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // The new image must see SIGPIPE as our caller left it (signals.rs).
    crate::linux::signals::restore_sigpipe();
    // SAFETY: the path is an empty C string literal (AT_EMPTY_PATH: exe itself, an open OwnedFd);
    // argv is non-null (checked) and NULL-terminated (argv()'s contract); environ is libc's
    // NULL-terminated array, which carrack never modifies. On success nothing returns.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe.as_raw_fd(),
            c"".as_ptr(),
            argv,
            environ,
            libc::AT_EMPTY_PATH,
        )
    };
    Err(std::io::Error::last_os_error())
        .context("protect the runtime binary (CVE-2019-5736): execveat")
}

/// Our executable is on a read-only mount, or is a memfd sealed against writes.
fn already_protected() -> bool {
    // SAFETY: libc::statvfs is a C struct of integers, for which all zeroes is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a NUL-terminated C string literal; statvfs writes one statvfs into `st`,
    // a live local.
    if unsafe { libc::statvfs(c"/proc/self/exe".as_ptr(), &mut st) } == 0
        && st.f_flag & libc::ST_RDONLY != 0
    {
        return true;
    }
    const F_SEAL_FUTURE_WRITE: i32 = 0x0010;
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS takes no argument; the fd is f's, open here.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals > 0 && seals & (libc::F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0
}

/// A detached bind mount of our executable, made read-only.
fn read_only_bind() -> Result<OwnedFd> {
    // SAFETY: the path is a NUL-terminated C string literal; the fd returned is checked and owned
    // below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open_tree");
    }
    // SAFETY: fd is the new fd open_tree returned, checked >= 0 above; nothing else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    crate::linux::fs::mount_setattr(&tree, MOUNT_ATTR_RDONLY, 0, None, false)
        .context("mount_setattr")?;
    Ok(tree)
}

/// A memfd holding a copy of our executable, sealed against any write.
fn sealed_copy() -> Result<OwnedFd> {
    // SAFETY: the name is a NUL-terminated C string literal; the fd returned is checked and owned
    // below.
    let fd = unsafe {
        libc::memfd_create(
            c"carrack".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fd is the new memfd, checked >= 0 above; nothing else owns it.
    let mem = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut src = std::fs::File::open("/proc/self/exe").context("open /proc/self/exe")?;
    // Plain reads and writes: std::io::copy splices page-cache pages into the memfd, and
    // F_SEAL_WRITE then fails with EBUSY while the kernel still holds them.
    let mut buf = vec![0u8; 1 << 20];
    loop {
        use std::io::{Read, Write};
        let n = src.read(&mut buf).context("read the binary")?;
        if n == 0 {
            break;
        }
        (&mem).write_all(&buf[..n]).context("copy the binary")?;
    }
    // F_SEAL_WRITE can fail with EBUSY while the kernel still holds the new pages (seen with
    // large shmem folios); F_SEAL_FUTURE_WRITE refuses every later write just as well.
    const F_SEAL_FUTURE_WRITE: i32 = 0x0010;
    let base = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
    let sealed = [libc::F_SEAL_WRITE, F_SEAL_FUTURE_WRITE]
        .iter()
        // SAFETY: F_ADD_SEALS takes an int; the fd is mem's, open here.
        .any(|w| unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, base | w) } == 0);
    if !sealed {
        bail!("seal the copy: {}", std::io::Error::last_os_error());
    }
    Ok(mem.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback must produce an executable the next run recognises as protected, or
    /// carrack would re-execute itself forever.
    #[test]
    fn a_sealed_copy_refuses_writes_and_counts_as_protected() {
        let fd = sealed_copy().unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| {
                use std::io::Write;
                f.write_all(b"x")
            });
        assert!(err.is_err(), "a write to the sealed copy succeeded");
        const F_SEAL_FUTURE_WRITE: i32 = 0x0010;
        // SAFETY: F_GET_SEALS takes no argument; the fd is fd's, an open OwnedFd.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        assert!(
            seals & (libc::F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0,
            "seals {seals:#x}"
        );
    }
}
