//! `linux.netDevices`: move host interfaces into the container's network namespace, as
//! runc does, over rtnetlink. The parent does it after clone and before Go, so the container's
//! process never runs without its devices.
//!
//! Per device: look it up in the runtime's namespace, set it down, keep its permanent
//! global-scope addresses (config-linux.md: IFA_F_PERMANENT, RT_SCOPE_UNIVERSE), then one
//! RTM_NEWLINK moves it (IFLA_NET_NS_FD), renames it (IFLA_IFNAME, `%d` templates left to the
//! kernel) and sets it up; the addresses are added back inside the namespace. The kernel drops
//! them on the move. Nothing is moved back on failure or at delete: the spec leaves that to
//! namespace teardown.

use super::namespaces::Plan;
use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// (host name, name in the container) for every entry, sorted for a stable order.
pub fn devices(spec: &Spec) -> Vec<(String, String)> {
    let mut v: Vec<_> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .into_iter()
        .flatten()
        .map(|(host, d)| {
            (
                host.clone(),
                d.name().clone().unwrap_or_else(|| host.clone()),
            )
        })
        .collect();
    v.sort();
    v
}

/// An interface name the kernel accepts (dev_valid_name): 1 to 15 bytes, not "." or "..",
/// no '/', ':' or whitespace.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() >= libc::IFNAMSIZ
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    if bad {
        bail!("{field} {name:?}: not a valid interface name (1-15 bytes, no '/', ':' or spaces)");
    }
    Ok(())
}

/// Before anything is made: every host device exists in the runtime's network namespace.
pub fn check_present(spec: &Spec) -> Result<()> {
    let list = devices(spec);
    if list.is_empty() {
        return Ok(());
    }
    let mut nl = Netlink::open().context("linux.netDevices: netlink socket")?;
    for (host, _) in &list {
        if nl.link(host)?.is_none() {
            bail!(
                "linux.netDevices {host:?}: no such interface in the runtime's network namespace"
            );
        }
    }
    Ok(())
}

/// Move every device into the network namespace init (`pid`) has or is about to join.
pub fn move_all(spec: &Spec, ns: &Plan, pid: i32) -> Result<()> {
    let list = devices(spec);
    if list.is_empty() {
        return Ok(());
    }
    // A joined namespace: init enters it only after Go, so use the fd the parent opened.
    let own;
    let netns = match ns
        .join
        .iter()
        .find(|(_, f, _)| *f == CloneFlags::CLONE_NEWNET)
    {
        Some((fd, _, _)) => fd.as_fd(),
        None => {
            own = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                .context("linux.netDevices: open the container's network namespace")?;
            own.as_fd()
        }
    };
    let mut host = Netlink::open().context("linux.netDevices: netlink socket")?;
    let mut inside = Netlink::open_in(netns)
        .context("linux.netDevices: netlink socket in the container's network namespace")?;
    for (from, to) in &list {
        move_one(&mut host, &mut inside, netns, from, to)
            .with_context(|| format!("linux.netDevices {from:?} (as {to:?})"))?;
    }
    Ok(())
}

fn move_one(
    host: &mut Netlink,
    inside: &mut Netlink,
    netns: BorrowedFd,
    from: &str,
    to: &str,
) -> Result<()> {
    let Some(link) = host.link(from)? else {
        bail!("no such interface in the runtime's network namespace");
    };
    if !to.contains('%') && inside.link(to)?.is_some() {
        bail!("an interface named {to:?} already exists in the container's network namespace");
    }
    // Addresses first: setting a link down drops its IPv6 addresses (keep_addr_on_down=0).
    let addrs = host.addresses(link.index).context("list its addresses")?;
    host.set_up(link.index, false)
        .context("set the interface down")?;
    let mut req = ifinfo(link.index, libc::IFF_UP as u32, libc::IFF_UP as u32);
    attr(&mut req, libc::IFLA_IFNAME, &cstr(to));
    attr(
        &mut req,
        libc::IFLA_NET_NS_FD,
        &(netns.as_raw_fd() as u32).to_ne_bytes(),
    );
    if let Err(e) = host.call(libc::RTM_NEWLINK, 0, &req) {
        if link.up {
            let _ = host.set_up(link.index, true);
        }
        return Err(e).context("move it into the container's network namespace");
    }
    if addrs.is_empty() {
        return Ok(());
    }
    // The kernel keeps the ifindex unless it is taken in the new namespace; a name is the
    // sure way back to the device, except for a `%d` template, where the ifindex must do.
    let moved = if to.contains('%') {
        inside
            .link_by_index(link.index)?
            .filter(|l| matches_template(&l.name, to))
    } else {
        inside.link(to)?
    };
    let Some(moved) = moved else {
        bail!("moved, but not found in the container's network namespace to restore its addresses");
    };
    for a in &addrs {
        inside
            .add_address(moved.index, a)
            .with_context(|| format!("restore address {}/{}", a.display(), a.prefix))?;
    }
    Ok(())
}

fn matches_template(name: &str, template: &str) -> bool {
    let (pre, post) = template.split_once("%d").unwrap_or((template, ""));
    name.len() > pre.len() + post.len()
        && name.starts_with(pre)
        && name.ends_with(post)
        && name[pre.len()..name.len() - post.len()]
            .bytes()
            .all(|b| b.is_ascii_digit())
}

struct Link {
    index: i32,
    name: String,
    up: bool,
}

/// A permanent, global-scope address, kept as the attributes RTM_NEWADDR takes back.
struct Addr {
    family: u8,
    prefix: u8,
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Addr {
    fn display(&self) -> String {
        let Some((_, a)) = self
            .attrs
            .iter()
            .find(|(t, _)| *t == libc::IFA_LOCAL || *t == libc::IFA_ADDRESS)
        else {
            return "?".into();
        };
        match a.len() {
            4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&a[..]).unwrap()).to_string(),
            16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&a[..]).unwrap()).to_string(),
            _ => "?".into(),
        }
    }
}

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTA_HDRLEN: usize = 4;
const IFA_F_PERMANENT: u32 = 0x80;
const IFA_FLAGS: u16 = 8;

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn ifinfo(index: i32, flags: u32, change: u32) -> Vec<u8> {
    let mut m = vec![0u8; IFINFOMSG_LEN];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

fn attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    let len = RTA_HDRLEN + data.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align(buf.len()), 0);
}

/// (type, data) of each rtattr in `buf`.
fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= RTA_HDRLEN {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let ty = u16::from_ne_bytes([buf[2], buf[3]]);
        if len < RTA_HDRLEN || len > buf.len() {
            break;
        }
        out.push((ty & 0x3fff, &buf[RTA_HDRLEN..len]));
        buf = &buf[align(len).min(buf.len())..];
    }
    out
}

fn parse_link(msg: &[u8]) -> Option<Link> {
    if msg.len() < IFINFOMSG_LEN {
        return None;
    }
    let index = i32::from_ne_bytes(msg[4..8].try_into().ok()?);
    let flags = u32::from_ne_bytes(msg[8..12].try_into().ok()?);
    let name = attrs(&msg[IFINFOMSG_LEN..])
        .into_iter()
        .find(|(t, _)| *t == libc::IFLA_IFNAME)
        .map(|(_, d)| {
            String::from_utf8_lossy(d.split(|b| *b == 0).next().unwrap_or(d)).into_owned()
        })?;
    Some(Link {
        index,
        name,
        up: flags & libc::IFF_UP as u32 != 0,
    })
}

/// A NETLINK_ROUTE socket: one request at a time, answered by replies and an ack.
struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    fn open() -> Result<Self> {
        // SAFETY: socket takes integers only; the fd returned is checked and owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("socket(AF_NETLINK)");
        }
        Ok(Netlink {
            // SAFETY: fd is the new socket, checked >= 0 above; nothing else owns it.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: 0,
        })
    }

    /// A socket that lives in `netns`: a socket keeps the namespace it was made in, so this
    /// thread enters `netns` just for the socket() call.
    fn open_in(netns: BorrowedFd) -> Result<Self> {
        use nix::sched::setns;
        let own = std::fs::File::open("/proc/thread-self/ns/net")
            .context("open own network namespace")?;
        setns(netns, CloneFlags::CLONE_NEWNET)
            .context("setns into the container's network namespace")?;
        let sock = Netlink::open();
        if let Err(e) = setns(own.as_fd(), CloneFlags::CLONE_NEWNET) {
            // Going on in the container's namespace would do later work in the wrong place.
            eprintln!("carrack: cannot return to the runtime's network namespace: {e}");
            std::process::exit(1);
        }
        sock
    }

    /// Send one request and collect the payloads of the replies until the ack (or DONE).
    fn call(&mut self, ty: u16, flags: u16, body: &[u8]) -> io::Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let len = NLMSG_HDRLEN + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        let flags = flags | (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        // SAFETY: the pointer and length are those of `msg`, a live Vec; self.fd is an open
        // OwnedFd.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n =
                // SAFETY: the pointer and length are those of `buf`, a live Vec; self.fd is an open
                // OwnedFd.
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= NLMSG_HDRLEN {
                let mlen = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
                let mty = u16::from_ne_bytes([rest[4], rest[5]]);
                let mseq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
                if mlen < NLMSG_HDRLEN || mlen > rest.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "truncated netlink message",
                    ));
                }
                let payload = &rest[NLMSG_HDRLEN..mlen];
                rest = &rest[align(mlen).min(rest.len())..];
                if mseq != self.seq {
                    continue;
                }
                match mty as i32 {
                    libc::NLMSG_DONE => return Ok(out),
                    libc::NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(
                            payload
                                .get(0..4)
                                .and_then(|b| b.try_into().ok())
                                .unwrap_or([0; 4]),
                        );
                        return if code == 0 {
                            Ok(out)
                        } else {
                            Err(io::Error::from_raw_os_error(-code))
                        };
                    }
                    _ => out.push(payload.to_vec()),
                }
            }
        }
    }

    /// The interface called `name`, or None.
    fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut req = ifinfo(0, 0, 0);
        attr(&mut req, libc::IFLA_IFNAME, &cstr(name));
        self.get_link(&req)
            .with_context(|| format!("look up interface {name:?}"))
    }

    fn link_by_index(&mut self, index: i32) -> Result<Option<Link>> {
        self.get_link(&ifinfo(index, 0, 0))
            .with_context(|| format!("look up interface #{index}"))
    }

    fn get_link(&mut self, req: &[u8]) -> io::Result<Option<Link>> {
        match self.call(libc::RTM_GETLINK, 0, req) {
            Ok(replies) => Ok(replies.iter().find_map(|m| parse_link(m))),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_up(&mut self, index: i32, up: bool) -> io::Result<()> {
        let flags = if up { libc::IFF_UP as u32 } else { 0 };
        self.call(
            libc::RTM_NEWLINK,
            0,
            &ifinfo(index, flags, libc::IFF_UP as u32),
        )
        .map(drop)
    }

    /// The permanent, global-scope addresses of interface `index`, of every family.
    fn addresses(&mut self, index: i32) -> io::Result<Vec<Addr>> {
        let req = [0u8; IFADDRMSG_LEN];
        let replies = self.call(libc::RTM_GETADDR, libc::NLM_F_DUMP as u16, &req)?;
        let mut out = Vec::new();
        for m in &replies {
            if m.len() < IFADDRMSG_LEN
                || u32::from_ne_bytes(m[4..8].try_into().unwrap()) != index as u32
            {
                continue;
            }
            let (family, prefix, scope) = (m[0], m[1], m[3]);
            let a = attrs(&m[IFADDRMSG_LEN..]);
            let flags = a
                .iter()
                .find(|(t, _)| *t == IFA_FLAGS)
                .and_then(|(_, d)| (*d).try_into().ok().map(u32::from_ne_bytes))
                .unwrap_or(m[2] as u32);
            if flags & IFA_F_PERMANENT == 0 || scope != libc::RT_SCOPE_UNIVERSE {
                continue;
            }
            let keep = [libc::IFA_ADDRESS, libc::IFA_LOCAL, libc::IFA_BROADCAST];
            out.push(Addr {
                family,
                prefix,
                attrs: a
                    .into_iter()
                    .filter(|(t, _)| keep.contains(t))
                    .map(|(t, d)| (t, d.to_vec()))
                    .collect(),
            });
        }
        Ok(out)
    }

    fn add_address(&mut self, index: i32, a: &Addr) -> io::Result<()> {
        let mut req = vec![0u8; IFADDRMSG_LEN];
        req[0] = a.family;
        req[1] = a.prefix;
        req[3] = libc::RT_SCOPE_UNIVERSE;
        req[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        for (t, d) in &a.attrs {
            attr(&mut req, *t, d);
        }
        let flags = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        self.call(libc::RTM_NEWADDR, flags, &req).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        for ok in ["eth0", "a", "c0123456789abcd", "net%d"] {
            assert!(check_name("n", ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a b", "c0123456789abcde"] {
            assert!(check_name("n", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates() {
        assert!(matches_template("eth12", "eth%d"));
        assert!(matches_template("n3x", "n%dx"));
        assert!(!matches_template("eth", "eth%d"));
        assert!(!matches_template("ethx", "eth%d"));
        assert!(!matches_template("veth1", "eth%d"));
    }

    #[test]
    fn attributes_round_trip() {
        let mut b = Vec::new();
        attr(&mut b, 3, b"eth0\0");
        attr(&mut b, 28, &7u32.to_ne_bytes());
        let a = attrs(&b);
        assert_eq!(a, vec![(3, &b"eth0\0"[..]), (28, &7u32.to_ne_bytes()[..])]);
    }
}
