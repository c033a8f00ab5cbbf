//! CRIU's RPC, as runc drives it: `criu swrk <fd>` on one end of a SOCK_SEQPACKET socketpair,
//! one protobuf `criu_req` per datagram, `criu_resp` back (NOTIFY ones in between, each
//! acknowledged).
//!
//! The protobuf is encoded here, for the few fields carrack sends and reads, with the field
//! numbers of the rpc.proto that CRIU installs (Debian: /usr/include/criu/rpc.proto). Why not
//! the `rust-criu` crate: it has no PRE_DUMP, drops the restored pid and takes a notify
//! callback that cannot hold state, so only its message types would be usable; they come with
//! the `protobuf` 3.7 runtime (+45 KiB on a minimal release build, measured) and, through its
//! build dependency protobuf-codegen, ~30 more crates to build (a second syn and thiserror,
//! and the full `regex` that our [patch] replaces with a shim). Generated code would need
//! protoc or a proto parser at build time, for ~35 fields.
//! proto2 wire format is stable; unknown response fields are skipped.

use anyhow::{bail, Context, Result};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

// criu_req_type
pub const DUMP: u64 = 1;
pub const RESTORE: u64 = 2;
pub const PRE_DUMP: u64 = 4;
pub const NOTIFY: u64 = 6;
pub const FEATURE_CHECK: u64 = 9;
pub const VERSION: u64 = 10;

/// The oldest CRIU carrack accepts: 3.0, as runc (ext_mnt, rst_sibling, inherit_fd, cg_root,
/// empty_ns, orphan_pts_master are all older).
pub const MIN_VERSION: u32 = 30000;

/// A protobuf message being written: fields appended in any order (proto2 allows it).
#[derive(Default, Clone)]
pub struct Msg(Vec<u8>);

impl Msg {
    fn key(&mut self, field: u32, wire: u8) {
        varint(&mut self.0, (u64::from(field) << 3) | u64::from(wire));
    }
    pub fn uint(&mut self, field: u32, v: u64) -> &mut Self {
        self.key(field, 0);
        varint(&mut self.0, v);
        self
    }
    /// int32: negative values are sign-extended to 64 bits (10 bytes), as protobuf does.
    pub fn int(&mut self, field: u32, v: i32) -> &mut Self {
        self.uint(field, i64::from(v) as u64)
    }
    pub fn flag(&mut self, field: u32, v: bool) -> &mut Self {
        if v {
            self.uint(field, 1);
        }
        self
    }
    pub fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, 2);
        varint(&mut self.0, v.len() as u64);
        self.0.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }
    pub fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
    pub fn encoded(&self) -> &[u8] {
        &self.0
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// criu_opts field numbers.
pub mod opt {
    pub const IMAGES_DIR_FD: u32 = 1;
    pub const PID: u32 = 2;
    pub const LEAVE_RUNNING: u32 = 3;
    pub const EXT_UNIX_SK: u32 = 4;
    pub const TCP_ESTABLISHED: u32 = 5;
    pub const EVASIVE_DEVICES: u32 = 6;
    pub const SHELL_JOB: u32 = 7;
    pub const FILE_LOCKS: u32 = 8;
    pub const LOG_LEVEL: u32 = 9;
    pub const LOG_FILE: u32 = 10;
    pub const PS: u32 = 11;
    pub const NOTIFY_SCRIPTS: u32 = 12;
    pub const ROOT: u32 = 13;
    pub const PARENT_IMG: u32 = 14;
    pub const TRACK_MEM: u32 = 15;
    pub const AUTO_DEDUP: u32 = 16;
    pub const WORK_DIR_FD: u32 = 17;
    pub const EXT_MNT: u32 = 23;
    pub const MANAGE_CGROUPS: u32 = 24;
    pub const CG_ROOT: u32 = 25;
    pub const RST_SIBLING: u32 = 26;
    pub const INHERIT_FD: u32 = 27;
    pub const MANAGE_CGROUPS_MODE: u32 = 34;
    pub const EXTERNAL: u32 = 37;
    pub const EMPTY_NS: u32 = 38;
    pub const FREEZE_CGROUP: u32 = 44;
    pub const LAZY_PAGES: u32 = 48;
    pub const STATUS_FD: u32 = 49;
    pub const ORPHAN_PTS_MASTER: u32 = 50;
    pub const LSM_PROFILE: u32 = 53;
}

/// ext_mount_map / inherit_fd / cgroup_root / page server entries of criu_opts.
pub fn ext_mnt(key: &str, val: &str) -> Msg {
    let mut m = Msg::default();
    m.str(1, key).str(2, val);
    m
}
pub fn inherit_fd(key: &str, fd: RawFd) -> Msg {
    let mut m = Msg::default();
    m.str(1, key).int(2, fd);
    m
}
pub fn cgroup_root(ctrl: Option<&str>, path: &str) -> Msg {
    let mut m = Msg::default();
    if let Some(c) = ctrl {
        m.str(1, c);
    }
    m.str(2, path);
    m
}
pub fn page_server(address: &str, port: i32) -> Msg {
    let mut m = Msg::default();
    m.str(1, address).int(2, port);
    m
}

/// A criu_req of `kind` with `opts`.
pub fn request(kind: u64, opts: Option<&Msg>) -> Msg {
    let mut r = Msg::default();
    r.uint(1, kind);
    if let Some(o) = opts {
        r.msg(2, o);
    }
    r
}

/// The criu_resp fields carrack reads.
#[derive(Debug, Default)]
pub struct Resp {
    pub kind: u64,
    pub success: bool,
    pub restored_pid: i32,
    pub notify_script: String,
    pub notify_pid: i32,
    pub cr_errno: i32,
    pub cr_errmsg: String,
    /// major, minor, sublevel; gitid set on a development build.
    pub version: Option<(u32, u32, u32, bool)>,
    pub mem_track: bool,
    pub lazy_pages: bool,
}

impl Resp {
    /// runc's number: major*10000 + minor*100 + sublevel, a git build counting as the next minor.
    pub fn version_number(&self) -> Option<u32> {
        let (ma, mi, sub, git) = self.version?;
        let v = ma * 10000 + mi * 100 + sub;
        Some(if git { v - v % 100 + 100 } else { v })
    }
}

/// One field of a protobuf message: (number, varint value or bytes).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn fields(mut b: &[u8]) -> Result<Vec<(u32, Field<'_>)>> {
    fn read_varint(b: &mut &[u8]) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().context("criu: truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("criu: varint too long")
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = read_varint(&mut b)?;
        let num = (key >> 3) as u32;
        let f = match key & 7 {
            0 => Field::Varint(read_varint(&mut b)?),
            2 => {
                let n = read_varint(&mut b)? as usize;
                if n > b.len() {
                    bail!("criu: truncated field {num}");
                }
                let (v, rest) = b.split_at(n);
                b = rest;
                Field::Bytes(v)
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                if n > b.len() {
                    bail!("criu: truncated field {num}");
                }
                b = &b[n..];
                continue;
            }
            w => bail!("criu: unsupported wire type {w} (field {num})"),
        };
        out.push((num, f));
    }
    Ok(out)
}

fn int_of(f: &Field) -> i32 {
    match f {
        Field::Varint(v) => *v as i32,
        Field::Bytes(_) => 0,
    }
}

fn str_of(f: &Field) -> String {
    match f {
        Field::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Field::Varint(_) => String::new(),
    }
}

fn sub<'a>(f: &Field<'a>) -> Result<Vec<(u32, Field<'a>)>> {
    match f {
        Field::Bytes(b) => fields(b),
        Field::Varint(_) => Ok(Vec::new()),
    }
}

pub fn parse_resp(b: &[u8]) -> Result<Resp> {
    let mut r = Resp::default();
    for (num, f) in fields(b)? {
        match num {
            1 => r.kind = int_of(&f) as u64,
            2 => r.success = int_of(&f) != 0,
            4 => {
                for (n, g) in sub(&f)? {
                    if n == 1 {
                        r.restored_pid = int_of(&g);
                    }
                }
            }
            5 => {
                for (n, g) in sub(&f)? {
                    match n {
                        1 => r.notify_script = str_of(&g),
                        2 => r.notify_pid = int_of(&g),
                        _ => {}
                    }
                }
            }
            7 => r.cr_errno = int_of(&f),
            8 => {
                for (n, g) in sub(&f)? {
                    match n {
                        1 => r.mem_track = int_of(&g) != 0,
                        2 => r.lazy_pages = int_of(&g) != 0,
                        _ => {}
                    }
                }
            }
            9 => r.cr_errmsg = str_of(&f),
            10 => {
                let mut v = (0, 0, 0, false);
                for (n, g) in sub(&f)? {
                    match n {
                        1 => v.0 = int_of(&g) as u32,
                        2 => v.1 = int_of(&g) as u32,
                        3 => v.3 = true,
                        4 => v.2 = int_of(&g) as u32,
                        _ => {}
                    }
                }
                r.version = Some(v);
            }
            _ => {}
        }
    }
    Ok(r)
}

/// A running `criu swrk`.
pub struct Swrk {
    sock: OwnedFd,
    child: std::process::Child,
}

/// What a NOTIFY handler gets: the script name, its pid field, an fd CRIU passed along
/// (orphan-pts-master).
pub type Notify<'a> = dyn FnMut(&str, i32, Option<OwnedFd>) -> Result<()> + 'a;

impl Swrk {
    /// Start `criu swrk`; `keep` are fds it must inherit (images and work dirs, inherit_fd
    /// ones), named by their numbers in the request. stdio is ours: runc's too, and the
    /// restored tasks' pipes are remapped onto it (inherit_fd).
    pub fn start(criu: &Path, keep: &[RawFd]) -> Result<Swrk> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        use std::os::unix::process::CommandExt;
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("criu: socketpair")?;
        let mut inherit: Vec<RawFd> = keep.to_vec();
        inherit.push(theirs.as_raw_fd());
        let mut cmd = std::process::Command::new(criu);
        cmd.arg("swrk").arg(theirs.as_raw_fd().to_string());
        // SAFETY: between fork and exec only fcntl, which is async-signal-safe; `inherit` is
        // moved in and read only.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &inherit {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "criu: {} not found: checkpoint and restore need CRIU (>= 3.0; Debian: apt-get install criu), or --criu PATH",
                    criu.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("criu: cannot run {}", criu.display()))
            }
        })?;
        drop(theirs);
        Ok(Swrk { sock: ours, child })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send `req` and answer NOTIFY messages with `notify` until the response to `req`;
    /// then wait for criu to exit. A failed request is an error naming CRIU's errno and
    /// message, and `log` (where CRIU wrote why) when given.
    pub fn call(mut self, req: &Msg, notify: &mut Notify, log: Option<&Path>) -> Result<Resp> {
        let r = self.exchange(req, notify);
        if r.is_err() {
            let _ = self.child.kill();
        }
        drop(self.sock);
        let _ = self.child.wait();
        let r = r?;
        if !r.success {
            let mut msg = "criu failed".to_string();
            if !r.cr_errmsg.is_empty() {
                msg += &format!(": {}", r.cr_errmsg);
            }
            if r.cr_errno != 0 {
                msg += &format!(": {}", std::io::Error::from_raw_os_error(r.cr_errno));
            }
            if let Some(l) = log {
                msg += &format!(" (log: {})", l.display());
                if let Some(tail) = log_tail(l) {
                    msg += &format!("; it ends: {tail}");
                }
            }
            bail!(msg);
        }
        Ok(r)
    }

    fn exchange(&mut self, req: &Msg, notify: &mut Notify) -> Result<Resp> {
        let kind = fields(req.encoded())?
            .first()
            .map_or(0, |(_, f)| int_of(f) as u64);
        self.send(req)?;
        loop {
            let (buf, fd) = self.recv()?;
            let r = parse_resp(&buf)?;
            if r.kind == NOTIFY && r.success {
                let ok = notify(&r.notify_script, r.notify_pid, fd);
                let mut ack = request(NOTIFY, None);
                ack.flag(3, ok.is_ok());
                self.send(&ack)?;
                ok.with_context(|| format!("criu notify {}", r.notify_script))?;
                continue;
            }
            if r.kind != kind && r.success {
                bail!(
                    "criu: a response of type {} to a request of type {kind}",
                    r.kind
                );
            }
            return Ok(r);
        }
    }

    fn send(&self, m: &Msg) -> Result<()> {
        let n = nix::unistd::write(&self.sock, m.encoded()).context("criu: send the request")?;
        if n != m.encoded().len() {
            bail!("criu: short write of the request");
        }
        Ok(())
    }

    fn recv(&self) -> Result<(Vec<u8>, Option<OwnedFd>)> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            self.sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .context("criu: receive the response")?;
        let mut fd = None;
        for c in msg.cmsgs().context("criu: control message")? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // SAFETY: SCM_RIGHTS just installed this fd in our table; we own it.
                    let owned = unsafe { OwnedFd::from_raw_fd(f) };
                    fd.get_or_insert(owned);
                }
            }
        }
        let n = msg.bytes;
        if n == 0 {
            bail!("criu exited without answering (see its log)");
        }
        buf.truncate(n);
        Ok((buf, fd))
    }
}

/// The last error-looking lines of a CRIU log, for the error message.
fn log_tail(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let errs: Vec<&str> = text.lines().filter(|l| l.contains("Error")).collect();
    let pick = if errs.is_empty() {
        text.lines().rev().take(2).collect::<Vec<_>>()
    } else {
        errs.into_iter().rev().take(3).collect()
    };
    let s = pick.into_iter().rev().collect::<Vec<_>>().join(" | ");
    (!s.is_empty()).then_some(s)
}

/// The CRIU version (runc's number), by a VERSION request; an error when there is no CRIU.
pub fn version(criu: &Path) -> Result<u32> {
    let r = Swrk::start(criu, &[])?.call(&request(VERSION, None), &mut |_, _, _| Ok(()), None)?;
    r.version_number()
        .context("criu: the VERSION response has no version")
}

/// `version`, and an error when it is older than MIN_VERSION.
pub fn check_version(criu: &Path) -> Result<u32> {
    let v = version(criu)?;
    if v < MIN_VERSION {
        bail!(
            "criu: {} is version {}.{}.{}; checkpoint and restore need CRIU 3.0 or newer",
            criu.display(),
            v / 10000,
            v / 100 % 100,
            v % 100
        );
    }
    Ok(v)
}

/// Whether CRIU can track memory changes (pre-dump, --parent-path), by a FEATURE_CHECK.
pub fn supports_mem_track(criu: &Path) -> Result<bool> {
    let mut features = Msg::default();
    features.flag(1, true);
    let mut req = request(FEATURE_CHECK, None);
    req.msg(5, &features);
    let r = Swrk::start(criu, &[])?.call(&req, &mut |_, _, _| Ok(()), None)?;
    Ok(r.mem_track)
}

/// Send `fd` over the unix socket `sock` (the --console-socket protocol: SCM_RIGHTS with
/// a name).
pub fn send_fd(sock: &OwnedFd, fd: &OwnedFd, name: &str) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("--console-socket: send the pty master")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_protobuf() {
        // criu_req{type: DUMP, opts{images_dir_fd: 3, pid: -1, root: "/r"}}, bytes worked out
        // by hand from the wire format.
        let mut o = Msg::default();
        o.int(opt::IMAGES_DIR_FD, 3)
            .int(opt::PID, -1)
            .str(opt::ROOT, "/r");
        let r = request(DUMP, Some(&o));
        let mut want = vec![0x08, 0x01, 0x12, 17, 0x08, 0x03, 0x10];
        want.extend([0xff; 9]);
        want.push(0x01);
        want.extend([0x6a, 0x02, b'/', b'r']);
        assert_eq!(r.encoded(), &want[..]);
    }

    #[test]
    fn parses_a_restore_response() {
        // criu_resp{type: RESTORE, success: true, restore{pid: 300}, cr_errmsg: "x"} plus an
        // unknown fixed32 field 15 that must be skipped.
        let mut restore = Msg::default();
        restore.int(1, 300);
        let mut m = request(RESTORE, None);
        m.flag(2, true).msg(4, &restore).str(9, "x");
        let mut b = m.encoded().to_vec();
        b.extend([(15 << 3) | 5, 1, 2, 3, 4]);
        let r = parse_resp(&b).unwrap();
        assert_eq!((r.kind, r.success, r.restored_pid), (RESTORE, true, 300));
        assert_eq!(r.cr_errmsg, "x");
    }

    #[test]
    fn version_number_as_runc() {
        let mut v = Msg::default();
        v.int(1, 3).int(2, 17).int(4, 1);
        let mut m = request(VERSION, None);
        m.flag(2, true).msg(10, &v);
        assert_eq!(
            parse_resp(m.encoded()).unwrap().version_number(),
            Some(31701)
        );
        let mut v = Msg::default();
        v.int(1, 3).int(2, 17).str(3, "abc");
        let mut m = request(VERSION, None);
        m.flag(2, true).msg(10, &v);
        assert_eq!(
            parse_resp(m.encoded()).unwrap().version_number(),
            Some(31800)
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(parse_resp(&[0x4a, 0x05, b'a']).is_err());
        assert!(parse_resp(&[0x08, 0x80]).is_err());
    }

    #[test]
    fn missing_criu_is_a_clear_error() {
        let e = Swrk::start(Path::new("/nonexistent/carrack-test-criu"), &[])
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("need CRIU"), "{e:#}");
    }
}
