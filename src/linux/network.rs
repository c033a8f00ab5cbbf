//! A new network namespace starts with `lo` down; runc brings it up, and so do we.

use anyhow::{Context, Result};

pub fn loopback_up() -> Result<()> {
    // SAFETY: socket takes integers only; the fd returned is checked below and closed at the end.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(std::io::Error::last_os_error()).context("socket for lo");
    }
    // SAFETY: libc::ifreq is a C struct of integers, arrays, unions and raw pointers, for which
    // all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: both ioctls take a pointer to one live ifreq (the name NUL-terminated by the loop
    // above); the union's ifru_flags is the field SIOCGIFFLAGS just filled. sock is the socket
    // opened above.
    let r = unsafe {
        let mut r = libc::ioctl(sock, libc::SIOCGIFFLAGS as _, &mut req);
        if r == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            r = libc::ioctl(sock, libc::SIOCSIFFLAGS as _, &req);
        }
        r
    };
    let err = std::io::Error::last_os_error();
    // SAFETY: sock is ours alone (socket above) and is not used after this close.
    unsafe { libc::close(sock) };
    if r != 0 {
        return Err(err).context("bring lo up");
    }
    Ok(())
}
