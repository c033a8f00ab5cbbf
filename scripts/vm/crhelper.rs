//! The checkpoint/restore tests' helper (scripts/vm/criu.sh), built static by scripts/vm-test
//! with rustc alone, like probe.rs; in the VM and in its containers as /bin/crhelper.
//!
//!   crhelper serve PORT        a TCP listener on 127.0.0.1:PORT answering each line with "pong"
//!   crhelper hold PORT FILE    one connection to it kept open: a line every 0.2 s, the number
//!                              of answers so far written to FILE
//!   crhelper ask PORT          one new connection: prints the answer to "ping" (2 s timeout)
//!   crhelper console SOCK OUT  a --console-socket receiver: takes the pty master sent to SOCK
//!                              and copies what it reads to OUT until the pty closes
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| a.get(i).cloned().unwrap_or_else(|| usage());
    let r = match a.get(1).map(String::as_str) {
        Some("serve") => serve(&arg(2)),
        Some("hold") => hold(&arg(2), &arg(3)),
        Some("ask") => ask(&arg(2)),
        Some("console") => console(&arg(2), &arg(3)),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("crhelper {}: {e}", a[1]);
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: crhelper serve PORT | hold PORT FILE | ask PORT | console SOCK OUT");
    std::process::exit(2)
}

fn addr(port: &str) -> String {
    format!("127.0.0.1:{port}")
}

fn serve(port: &str) -> std::io::Result<()> {
    let l = TcpListener::bind(addr(port))?;
    for c in l.incoming() {
        let mut c = c?;
        std::thread::spawn(move || {
            let mut r = BufReader::new(c.try_clone().expect("dup"));
            let mut line = String::new();
            while r.read_line(&mut line).map_or(false, |n| n > 0) {
                if c.write_all(b"pong\n").is_err() {
                    break;
                }
                line.clear();
            }
        });
    }
    Ok(())
}

fn connect(port: &str) -> std::io::Result<TcpStream> {
    let mut last = None;
    // The listener may still be starting.
    for _ in 0..50 {
        match TcpStream::connect(addr(port)) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last.unwrap())
}

fn hold(port: &str, file: &str) -> std::io::Result<()> {
    let mut s = connect(port)?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    for n in 1u64.. {
        s.write_all(b"n\n")?;
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        std::fs::write(file, format!("{n}\n"))?;
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn ask(port: &str) -> std::io::Result<()> {
    let a = addr(port).parse().expect("address");
    let mut s = TcpStream::connect_timeout(&a, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"ping\n")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    print!("{line}");
    Ok(())
}

// struct msghdr and cmsghdr of Linux on 64-bit targets.
#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}
#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: i32,
}
extern "C" {
    fn recvmsg(fd: i32, msg: *mut MsgHdr, flags: i32) -> isize;
}
const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;

fn console(sock: &str, out: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(sock);
    let l = std::os::unix::net::UnixListener::bind(sock)?;
    let (c, _) = l.accept()?;
    let mut name = [0u8; 256];
    let mut iov = IoVec {
        base: name.as_mut_ptr(),
        len: name.len(),
    };
    // cmsghdr (len: usize, level: i32, type: i32) then one fd, 8-aligned.
    let mut control = [0u64; 4];
    let mut m = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &mut iov,
        iovlen: 1,
        control: control.as_mut_ptr().cast(),
        controllen: std::mem::size_of_val(&control),
        flags: 0,
    };
    // SAFETY: m points at live buffers of the lengths it gives.
    if unsafe { recvmsg(c.as_raw_fd(), &mut m, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let level = control[1] as u32 as i32;
    let kind = (control[1] >> 32) as i32;
    if m.controllen < 20 || level != SOL_SOCKET || kind != SCM_RIGHTS {
        return Err(std::io::Error::other("no fd in the message"));
    }
    let fd = control[2] as u32 as i32;
    // SAFETY: SCM_RIGHTS just installed fd in our table; it is ours.
    let mut master = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut o = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)?;
    let mut buf = [0u8; 4096];
    // EIO once the last slave fd closes: the end.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        o.write_all(&buf[..n])?;
    }
    Ok(())
}
