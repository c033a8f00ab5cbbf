//! The ENOSYS probe of the VM's seccomp test (scripts/vm/tests.sh t_seccomp_docker), built by
//! scripts/vm-test for the VM's arch with rustc alone (no C cross compiler needed): calls three
//! syscalls by number through syscall(2) and prints "name return errno" for each.
use std::ffi::{c_char, c_long};

extern "C" {
    fn syscall(nr: c_long, ...) -> c_long;
}

// fchmodat2 (Linux 6.6) is newer than Docker 20.10's profile: runc's stub gives it ENOSYS.
// kexec_load is in no allow rule: the profile's EPERM. fchmodat is allowed.
#[cfg(target_arch = "x86_64")]
const CALLS: [(&str, c_long); 3] = [("fchmodat2", 452), ("kexec_load", 246), ("fchmodat", 268)];
#[cfg(target_arch = "aarch64")]
const CALLS: [(&str, c_long); 3] = [("fchmodat2", 452), ("kexec_load", 104), ("fchmodat", 53)];

fn main() {
    // A tmpfs of the container's own: its root is read-only in the VM's configs.
    let path = c"/dev/shm".as_ptr() as *const c_char;
    for (name, nr) in CALLS {
        let args: [c_long; 4] = if name == "kexec_load" {
            [0; 4]
        } else {
            [-100, path as c_long, 0o1777, 0] // AT_FDCWD, "/dev/shm", mode, flags
        };
        // SAFETY: each call's arguments are valid for it (a NUL-terminated path, zeros).
        let r = unsafe { syscall(nr, args[0], args[1], args[2], args[3]) };
        let e = if r < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        };
        println!("{name} {r} {e}");
    }
}
