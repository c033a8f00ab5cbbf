//! THE parent <-> init protocol. Everything the two sides say to each other is here.
//!
//! Channel: one `SOCK_SEQPACKET` socketpair, close-on-exec, made by the parent before clone3.
//! The parent keeps `parent` and closes `child` after clone; init keeps `child` and closes
//! `parent`, so EOF on either side means the peer died. A message is a tag byte and an optional
//! UTF-8 payload, sent as packets of at most 32 KiB: each packet repeats the tag, with bit 0x80
//! set while more packets of the same message follow (a state JSON with large annotations
//! does not fit one packet). A message may carry fds (SCM_RIGHTS, on its first packet, at
//! most `MAX_FDS`); only `Sources` and `CgroupsMade` do.
//!
//! Order (create):
//! ```text
//!   parent                                   init (cloned with the new namespaces)
//!   cgroupfs driver: mkdir the v2 cgroup
//!   clone3 (into the v2 cgroup) ──────────▶  PDEATHSIG=SIGKILL; wait for Go
//!   --systemd-cgroup: record pid + start
//!   time in state.json, StartTransientUnit with
//!   init's pid (systemd moves init into the
//!   scope; clone3 put it in our own cgroup),
//!   wait for JobRemoved, write the cgroup files
//!   write uid_map/gid_map (new userns)
//!   Sources(names) + fds ─────────────────▶  kept for the mounts (only with a new user and
//!     (new user + mount namespace only;      mount namespace: see below)
//!      repeated per MAX_FDS fds)
//!   move devices (linux.netDevices)
//!   Go(state JSON for hooks) ─────────────▶  join namespaces, rootfs, mounts, devices
//!   cgroupfs driver: mkdir the v1 cgroups,     (with a new cgroup namespace: first wait
//!   open their `tasks` files                   for CgroupsMade and CgroupsReady and join,
//!   CgroupsMade(paths) + tasks fds ───────▶    as below: the namespace's root is the
//!                                              cgroup init is in; a `cgroup` mount, which
//!                                              binds the v1 dirs, first waits for
//!                                              CgroupsMade)
//!   record pid + start time in state.json
//!   cgroupfs driver: copy v1 cpuset from the
//!   parent, write linux.resources (while
//!   init mounts, on the other core)
//!   CgroupsReady ─────────────────────────▶  write "0" to each v1 `tasks` fd (joins the
//!                                            cgroups: cgroups::Cgroup::entry; an empty
//!                                            v1 cpuset refuses tasks until then)
//!            ◀────────────────────────────── RunHooks     (only if prestart/createRuntime exist)
//!   run prestart, createRuntime hooks
//!   HooksDone ────────────────────────────▶  createContainer hooks, pivot_root, hostname,
//!                                            sysctl, rlimits, user, env, cwd, resolve args[0]
//!            ◀────────────────────────────── Error(text)  (then exit 1), or
//!            ◀────────────────────────────── Ready        (PDEATHSIG cleared just before)
//!   state phase := created; create returns   open exec.fifo for writing: blocks until `start`
//!                                            opens it for reading; startContainer hooks;
//!                                            write "0" and execve, or "1<error>" and exit 1
//! ```
//!
//! Cgroups: the cgroupfs driver makes the v2 directory before clone3 (init is born in it) and
//! the v1 ones after Go, with their files, while init sets up the rootfs: mkdir on ten v1
//! hierarchies is ~0.2 ms, and copying the parent's cpuset alone ~0.5 ms (the kernel rebuilds
//! its scheduling domains). A rootless create makes them all before clone3 (it settles there
//! which hierarchies it can have) and init inherits the v1 `tasks` fds; CgroupsMade is then
//! not sent. Init joins the v1 cgroups only after CgroupsReady, so no process of
//! the container runs user code, and no hook sees it, outside its configured cgroups. Init's
//! own mounts before that are charged to the caller's v1 cgroups. The parent always sends
//! CgroupsReady once (at once when there is nothing left to write: `--systemd-cgroup`, a
//! rootless create whose cgroups were settled before clone).
//!
//! With SCMP_ACT_NOTIFY the parent connects to `linux.seccomp.listenerPath` before clone3; init
//! inherits that socket and, right after loading the filter, sends the listener fd on it
//! (SCM_RIGHTS) with runc's ContainerProcessState JSON, built from Go's state (create) or
//! carried whole by Go (exec, where Go is otherwise empty). For create that is always before
//! Ready, as runc: a filter with no_new_privs is otherwise loaded after exec.fifo opens, but
//! one with a listener just before Ready.
//!
//! Mount sources (linux/mount_sources.rs): init's mapped root may be unable to traverse the
//! host directories holding root.path or a bind source (a 0700 dir of the host's root), so
//! with a new user namespace the parent, still the host's root, opens them as O_PATH fds
//! under /proc/<init>/root (RESOLVE_IN_ROOT): they name mounts of init's own mount namespace,
//! as bind and move_mount require, locked copies of the host's. Init receives every Sources
//! message until Go, binds each source from its fd, clones root.path with open_tree and
//! attaches it on itself (the rootfs bind), and pivots into that fd. Idmapped sources are
//! not among them: the parent made those trees before clone3 (linux/idmap.rs). Without a
//! new user namespace no Sources is sent and init mounts by path.
//!
//! Order (exec): the same clone3 and Go (no CgroupsReady: the cgroups exist and are set up, the child joins the v1 ones first); init joins the container's
//! namespaces and sets up the process, then execve. Success is EOF on the channel (it is
//! close-on-exec); failure is Error(text). Exec needs no Sources: it joins the namespaces by
//! pidfd and resolves its cwd inside the container.
//! Other fds travel by inheritance (clone3 copies the fd table): the exec.fifo O_PATH fd, the
//! v1 cgroup `tasks` files opened for writing (exec, rootless create), the namespace fds opened by the parent, the
//! detached idmapped mount trees (linux/idmap.rs), and the console socket (connected by the parent to
//! `--console-socket` while the host path is reachable, or one end of a socketpair when run/exec
//! relay the pty themselves); init sends the pty master on it with SCM_RIGHTS. None of them survives execve (all are O_CLOEXEC, and init
//! marks every fd above the preserved ones close-on-exec).

use anyhow::{bail, Context, Result};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent → init, before Go and only with a new user and mount namespace: O_PATH fds
    /// (SCM_RIGHTS) of what init's mapped root may be unable to reach, opened by the parent
    /// inside init's mount namespace. The payload names each fd in order, space-separated:
    /// `root` (root.path), `rootmnt` (the root of the mount holding it) or a `mounts` index.
    Sources(Vec<String>),
    /// parent → init: ids mapped, devices moved; set up the container. Carries the state
    /// JSON that init's own hooks read on stdin.
    Go(String),
    /// parent → init (create, cgroupfs driver): the v1 cgroup dirs exist. Carries each v1
    /// hierarchy's `tasks` file opened for writing (SCM_RIGHTS); the payload names them in
    /// order, NUL-separated, for errors.
    CgroupsMade(Vec<String>),
    /// parent → init (create): the cgroups init was cloned into or will join are set up
    /// (v1 cpuset copied from the parent, linux.resources written); init may join them.
    CgroupsReady,
    /// init → parent: mounts are done, run the prestart and createRuntime hooks now.
    RunHooks,
    /// parent → init: those hooks succeeded.
    HooksDone,
    /// init → parent: set up, now waiting on exec.fifo.
    Ready,
    /// init → parent: setup failed; the text is the error chain (error::to_wire).
    Error(String),
}

const GO: u8 = 1;
const READY: u8 = 2;
const ERROR: u8 = 3;
const RUN_HOOKS: u8 = 4;
const HOOKS_DONE: u8 = 5;
const SOURCES: u8 = 6;
const CGROUPS_READY: u8 = 7;
const CGROUPS_MADE: u8 = 8;
/// At most this many fds travel with one message (the kernel's SCM_MAX_FD is 253).
pub const MAX_FDS: usize = 250;
/// Set on every packet of a message but the last.
const MORE: u8 = 0x80;
const CHUNK: usize = 32 * 1024;

pub struct Channel {
    fd: OwnedFd,
}

/// Make the pair: (parent end, init end).
pub fn pair() -> Result<(Channel, Channel)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the init channel")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        self.send_fds(msg, &[])
    }

    /// Send `msg` with `fds` attached (SCM_RIGHTS) to its first packet.
    pub fn send_fds(&self, msg: &Msg, fds: &[RawFd]) -> Result<()> {
        if fds.len() > MAX_FDS {
            bail!("init channel: more than {MAX_FDS} fds in one message");
        }
        let mut buf = Vec::with_capacity(64);
        match msg {
            Msg::Sources(names) => {
                buf.push(SOURCES);
                buf.extend_from_slice(names.join(" ").as_bytes());
            }
            Msg::Go(state) => {
                buf.push(GO);
                buf.extend_from_slice(state.as_bytes());
            }
            Msg::Ready => buf.push(READY),
            Msg::RunHooks => buf.push(RUN_HOOKS),
            Msg::HooksDone => buf.push(HOOKS_DONE),
            Msg::CgroupsReady => buf.push(CGROUPS_READY),
            Msg::CgroupsMade(tasks) => {
                buf.push(CGROUPS_MADE);
                buf.extend_from_slice(tasks.join("\0").as_bytes());
            }
            Msg::Error(text) => {
                buf.push(ERROR);
                buf.extend_from_slice(text.as_bytes());
            }
        }
        let tag = buf[0];
        let mut chunks = buf[1..].chunks(CHUNK).peekable();
        let mut packet = Vec::with_capacity(buf.len().min(CHUNK) + 1);
        let mut fds = fds;
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            packet.clear();
            packet.push(if chunks.peek().is_some() {
                tag | MORE
            } else {
                tag
            });
            packet.extend_from_slice(chunk);
            let iov = [std::io::IoSlice::new(&packet)];
            let rights = [ControlMessage::ScmRights(fds)];
            let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
            sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .context("init channel: send")?;
            fds = &[];
            if chunks.peek().is_none() {
                return Ok(());
            }
        }
    }

    /// The next message, or None on EOF (the peer is gone). Fds sent with it are closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_fds()?.map(|(m, _)| m))
    }

    /// The next message and the fds that came with it (close-on-exec), or None on EOF.
    pub fn recv_fds(&self) -> Result<Option<(Msg, Vec<OwnedFd>)>> {
        let mut packet = vec![0u8; CHUNK + 1];
        let mut payload = Vec::new();
        let mut fds = Vec::new();
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut reset_seen = false;
        let tag = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut packet)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                // The peer closed with a message of ours unread. A seqpacket socket reports
                // that (once: reading clears it) before the packets still queued for us,
                // such as init's Error; those, then EOF, come next.
                Err(nix::errno::Errno::ECONNRESET) if !reset_seen => {
                    reset_seen = true;
                    continue;
                }
                r => r.context("init channel: recv")?,
            };
            for c in msg.cmsgs().context("init channel: recv")? {
                if let ControlMessageOwned::ScmRights(got) = c {
                    // SAFETY: the kernel just installed these fds for us; nothing else owns them.
                    fds.extend(
                        got.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
                bail!("init channel: fds were cut off (more than {MAX_FDS})");
            }
            let n = msg.bytes;
            if n == 0 {
                if payload.is_empty() {
                    return Ok(None);
                }
                bail!("init channel: the peer died in the middle of a message");
            }
            payload.extend_from_slice(&packet[1..n]);
            if packet[0] & MORE == 0 {
                break packet[0];
            }
        };
        let text = || String::from_utf8_lossy(&payload).into_owned();
        let msg = match tag {
            SOURCES => Msg::Sources(text().split_whitespace().map(String::from).collect()),
            GO => Msg::Go(text()),
            READY => Msg::Ready,
            RUN_HOOKS => Msg::RunHooks,
            HOOKS_DONE => Msg::HooksDone,
            CGROUPS_READY => Msg::CgroupsReady,
            CGROUPS_MADE => Msg::CgroupsMade(match payload.is_empty() {
                true => Vec::new(),
                false => text().split('\0').map(String::from).collect(),
            }),
            ERROR => Msg::Error(text()),
            t => bail!("init channel: unknown message tag {t}"),
        };
        Ok(Some((msg, fds)))
    }

    /// Receive and insist on one message kind; Error and EOF become errors.
    pub fn expect(&self, want: Msg) -> Result<Msg> {
        Ok(self.expect_fds(want)?.0)
    }

    /// `expect`, with the fds that came with the message.
    pub fn expect_fds(&self, want: Msg) -> Result<(Msg, Vec<OwnedFd>)> {
        match self.recv_fds()? {
            Some((m, fds)) if std::mem::discriminant(&m) == std::mem::discriminant(&want) => {
                Ok((m, fds))
            }
            Some((Msg::Error(text), _)) => Err(crate::error::from_wire(&text)),
            Some((m, _)) => bail!("init channel: expected {want:?}, got {m:?}"),
            None => bail!("init channel: peer exited before {want:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_larger_than_a_packet_arrives_whole() {
        let (p, c) = pair().unwrap();
        let big: String = (0..300_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let sent = big.clone();
        let t = std::thread::spawn(move || p.send(&Msg::Go(sent)).unwrap());
        assert_eq!(c.recv().unwrap(), Some(Msg::Go(big)));
        t.join().unwrap();
    }

    #[test]
    fn fds_travel_with_their_names() {
        let (p, c) = pair().unwrap();
        let f = std::fs::File::open("/proc/self/status").unwrap();
        let names = vec!["root".to_string(), "7".to_string()];
        let fds = [f.as_raw_fd(), f.as_raw_fd()];
        p.send_fds(&Msg::Sources(names.clone()), &fds).unwrap();
        let (m, got) = c.recv_fds().unwrap().unwrap();
        assert_eq!(m, Msg::Sources(names));
        assert_eq!(got.len(), 2);
        let ino = |fd: std::os::fd::BorrowedFd| nix::sys::stat::fstat(fd).unwrap().st_ino;
        use std::os::fd::AsFd;
        assert_eq!(ino(got[1].as_fd()), ino(f.as_fd()));
        let flags = nix::fcntl::fcntl(&got[0], nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }

    #[test]
    fn messages_round_trip_and_eof_is_none() {
        let (p, c) = pair().unwrap();
        p.send(&Msg::Go("{}".into())).unwrap();
        assert_eq!(c.recv().unwrap(), Some(Msg::Go("{}".into())));
        c.send(&Msg::Error("exec \"/bin/nope\": No such file".into()))
            .unwrap();
        let err = p.expect(Msg::Ready).unwrap_err();
        assert!(err.to_string().contains("/bin/nope"));
        drop(c);
        assert_eq!(p.recv().unwrap(), None);
    }

    /// Init fails (a mount) and exits while a message of ours is still unread in its queue:
    /// the kernel then reports ECONNRESET to us once, ahead of init's Error still queued here.
    #[test]
    fn the_error_of_a_peer_that_left_our_message_unread_is_received() {
        let (p, c) = pair().unwrap();
        p.send(&Msg::CgroupsReady).unwrap();
        c.send(&Msg::Error("mounts[7]: unknown filesystem type".into()))
            .unwrap();
        drop(c);
        let err = p.expect(Msg::Ready).unwrap_err();
        assert!(err.to_string().contains("mounts[7]"), "{err:#}");
        assert_eq!(p.recv().unwrap(), None);
    }
}
