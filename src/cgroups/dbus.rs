//! A minimal D-Bus client: just what the systemd cgroup driver needs (EXTERNAL auth over a
//! unix socket, Hello, method calls, AddMatch and waiting for a signal), little-endian
//! marshalling of the few types systemd's Manager methods use.
//!
//! Why our own and not zbus: zbus (even its blocking API) brings an async executor, serde
//! based marshalling and ~60 crates; its release build adds ~1 MB to a binary whose budget is
//! 2 MB static, and a connection costs thread spawns at start-up. The driver makes at most four
//! calls per command: this module is a few hundred lines, no threads, no dependency (youki
//! made the same choice).
//!
//! Wire format (dbus-specification, "Message Protocol"): a 12-byte fixed header (endianness,
//! type, flags, version, body length, serial), the header fields `a(yv)`, padding to 8, then
//! the body; every value is aligned to its type's alignment from the message start.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A marshallable value. Arrays carry their element signature so an empty one is typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    Path(String),
    Sig(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(v) => {
                format!("({})", v.iter().map(|x| x.signature()).collect::<String>())
            }
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// A systemd property: `(sv)`.
pub fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::Variant(Box::new(v))])
}

fn align_of(sig: u8) -> usize {
    match sig {
        b'y' | b'g' | b'v' => 1,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 4,
    }
}

/// Marshaller: appends to `buf`, whose offset 0 is the message start (alignment is relative
/// to it).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, a: usize) {
        while !self.buf.len().is_multiple_of(a) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn sig(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(*b as u32),
            Value::I32(i) => self.u32(*i as u32),
            Value::U32(u) => self.u32(*u),
            Value::I64(i) => self.u64(*i as u64),
            Value::U64(u) => self.u64(*u),
            Value::Double(d) => self.u64(d.to_bits()),
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => self.sig(s),
            Value::Array(elem, items) => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                // The length counts the elements, not the padding before the first one.
                self.pad(align_of(elem.as_bytes()[0]));
                let start = self.buf.len();
                for i in items {
                    self.value(i);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Variant(inner) => {
                self.sig(&inner.signature());
                self.value(inner);
            }
        }
    }

    fn u64(&mut self, v: u64) {
        self.pad(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Unmarshaller over a whole message (offsets relative to its start), little-endian only.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { buf, pos }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            bail!("D-Bus message truncated");
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn align(&mut self, a: usize) -> Result<()> {
        let pad = (a - self.pos % a) % a;
        self.take(pad).map(|_| ())
    }

    fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }

    fn u64(&mut self) -> Result<u64> {
        self.align(8)?;
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let s = self.take(len + 1)?;
        String::from_utf8(s[..len].to_vec()).context("D-Bus string is not UTF-8")
    }

    /// Read the values of a whole signature.
    pub fn values(&mut self, sig: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut rest = sig;
        while !rest.is_empty() {
            let (one, tail) = split_type(rest)?;
            out.push(self.value(one)?);
            rest = tail;
        }
        Ok(out)
    }

    /// Read one value of the single complete type `sig`.
    pub fn value(&mut self, sig: &str) -> Result<Value> {
        Ok(match sig.as_bytes()[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'i' => Value::I32(self.u32()? as i32),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(self.u64()? as i64),
            b't' => Value::U64(self.u64()?),
            b'd' => Value::Double(f64::from_bits(self.u64()?)),
            b's' => {
                let n = self.u32()? as usize;
                Value::Str(self.text(n)?)
            }
            b'o' => {
                let n = self.u32()? as usize;
                Value::Path(self.text(n)?)
            }
            b'g' => {
                let n = self.take(1)?[0] as usize;
                Value::Sig(self.text(n)?)
            }
            b'v' => {
                let n = self.take(1)?[0] as usize;
                let inner = self.text(n)?;
                let (one, tail) = split_type(&inner)?;
                if !tail.is_empty() {
                    bail!("D-Bus variant signature {inner:?} is not one type");
                }
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let elem = &sig[1..];
                self.align(align_of(elem.as_bytes()[0]))?;
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' | b'{' => {
                self.align(8)?;
                Value::Struct(self.values(&sig[1..sig.len() - 1])?)
            }
            c => bail!("D-Bus type {:?} is not supported", c as char),
        })
    }
}

/// The first complete type of `sig` and the rest.
fn split_type(sig: &str) -> Result<(&str, &str)> {
    let b = sig.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] == b'a' {
        i += 1;
    }
    if i == b.len() {
        bail!("D-Bus signature {sig:?} is incomplete");
    }
    let end = match b[i] {
        open @ (b'(' | b'{') => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut depth = 0;
            let mut j = i;
            loop {
                if j == b.len() {
                    bail!("D-Bus signature {sig:?} is unbalanced");
                }
                if b[j] == open {
                    depth += 1;
                } else if b[j] == close {
                    depth -= 1;
                    if depth == 0 {
                        break j + 1;
                    }
                }
                j += 1;
            }
        }
        _ => i + 1,
    };
    Ok(sig.split_at(end))
}

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// A message as sent or received.
#[derive(Debug, Default, Clone)]
pub struct Message {
    pub typ: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    pub fn call(dest: Option<&str>, path: &str, iface: &str, member: &str) -> Message {
        Message {
            typ: METHOD_CALL,
            path: Some(path.into()),
            interface: Some(iface.into()),
            member: Some(member.into()),
            destination: dest.map(Into::into),
            ..Default::default()
        }
    }

    pub fn with_body(mut self, body: Vec<Value>) -> Message {
        self.body = body;
        self
    }

    /// The wire bytes (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Writer::default();
        for v in &self.body {
            body.value(v);
        }
        let sig: String = self.body.iter().map(|v| v.signature()).collect();
        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![
                Value::Byte(code),
                Value::Variant(Box::new(v)),
            ]))
        };
        let s = |x: &Option<String>| x.clone();
        if let Some(p) = s(&self.path) {
            field(1, Value::Path(p));
        }
        if let Some(i) = s(&self.interface) {
            field(2, Value::Str(i));
        }
        if let Some(m) = s(&self.member) {
            field(3, Value::Str(m));
        }
        if let Some(e) = s(&self.error_name) {
            field(4, Value::Str(e));
        }
        if let Some(r) = self.reply_serial {
            field(5, Value::U32(r));
        }
        if let Some(d) = s(&self.destination) {
            field(6, Value::Str(d));
        }
        if !sig.is_empty() {
            field(8, Value::Sig(sig));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', self.typ, 0, 1]);
        w.u32(body.buf.len() as u32);
        w.u32(self.serial);
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// Total length of the message whose first 16 bytes are `head`.
    pub fn total_len(head: &[u8; 16]) -> Result<usize> {
        if head[0] != b'l' {
            bail!("D-Bus: only little-endian messages are supported");
        }
        let body = u32::from_le_bytes(head[4..8].try_into()?) as usize;
        let fields = u32::from_le_bytes(head[12..16].try_into()?) as usize;
        let header = (16 + fields).div_ceil(8) * 8;
        Ok(header + body)
    }

    pub fn decode(buf: &[u8]) -> Result<Message> {
        let mut r = Reader::new(buf, 0);
        let fixed = r.take(4)?;
        if fixed[0] != b'l' {
            bail!("D-Bus: only little-endian messages are supported");
        }
        let mut m = Message {
            typ: fixed[1],
            ..Default::default()
        };
        let _body_len = r.u32()?;
        m.serial = r.u32()?;
        let mut sig = String::new();
        if let Value::Array(_, fields) = r.value("a(yv)")? {
            for f in fields {
                let Value::Struct(kv) = f else { continue };
                let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (kv.first(), kv.get(1))
                else {
                    continue;
                };
                let text = v.as_str().map(str::to_string);
                match code {
                    1 => m.path = text,
                    2 => m.interface = text,
                    3 => m.member = text,
                    4 => m.error_name = text,
                    5 => {
                        if let Value::U32(s) = **v {
                            m.reply_serial = Some(s)
                        }
                    }
                    6 => m.destination = text,
                    7 => m.sender = text,
                    8 => sig = text.unwrap_or_default(),
                    _ => {}
                }
            }
        }
        r.align(8)?;
        m.body = r.values(&sig)?;
        Ok(m)
    }
}

/// `uid` of our user namespace as the namespace outside it sees it (`uid_map`): the bus
/// checks the peer's uid there (SO_PEERCRED), so a runtime that rootless podman runs as root
/// of its user namespace is the user outside (runc asks busctl for that uid).
fn outside_uid(uid_map: &str, uid: u32) -> Option<u32> {
    uid_map.lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [inside, outside, count] = f[..] else {
            return None;
        };
        let off = (uid as u64).checked_sub(inside).filter(|o| *o < count)?;
        u32::try_from(outside + off).ok()
    })
}

/// A connection to the system bus (or systemd's private socket).
pub struct Conn {
    sock: UnixStream,
    serial: u32,
    /// The private socket talks to systemd directly: no bus driver, no destinations.
    direct: bool,
    /// Signals that arrived while waiting for a reply.
    pending: Vec<Message>,
    /// For errors: which bus this is.
    pub name: String,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the system bus is: `DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket; systemd's private socket when there is no dbus-daemon.
fn candidates() -> Vec<(String, bool)> {
    let mut out = addresses("DBUS_SYSTEM_BUS_ADDRESS")
        .unwrap_or_else(|| vec![("/run/dbus/system_bus_socket".into(), false)]);
    out.push(("/run/systemd/private".into(), true));
    out
}

/// The session bus of a user (runc's rootless systemd driver talks to the user's own systemd
/// there): `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`; then the user manager's
/// private socket `$XDG_RUNTIME_DIR/systemd/private`.
fn session_candidates() -> Vec<(String, bool)> {
    let runtime_dir = std::env::var("XDG_RUNTIME_DIR")
        .ok()
        .filter(|d| !d.is_empty());
    let mut out = addresses("DBUS_SESSION_BUS_ADDRESS").unwrap_or_default();
    if let Some(d) = &runtime_dir {
        if out.is_empty() {
            out.push((format!("{d}/bus"), false));
        }
        out.push((format!("{d}/systemd/private"), true));
    }
    out
}

/// The unix socket paths of a D-Bus address in env var `var` ("unix:path=…", alternatives
/// separated by ';'), or None when it is unset.
fn addresses(var: &str) -> Option<Vec<(String, bool)>> {
    let addr = std::env::var(var).ok()?;
    let mut out = Vec::new();
    for a in addr.split(';') {
        let Some(params) = a.strip_prefix("unix:") else {
            continue;
        };
        for kv in params.split(',') {
            if let Some(p) = kv.strip_prefix("path=") {
                out.push((p.to_string(), false));
            } else if let Some(p) = kv.strip_prefix("abstract=") {
                out.push((format!("@{p}"), false));
            }
        }
    }
    Some(out)
}

fn connect_addr(path: &str) -> std::io::Result<UnixStream> {
    if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        return UnixStream::connect_addr(&addr);
    }
    UnixStream::connect(path)
}

impl Conn {
    /// Connect to the system bus, authenticate and say Hello.
    pub fn system() -> Result<Conn> {
        let mut errors = Vec::new();
        for (path, direct) in candidates() {
            match connect_addr(&path) {
                Ok(sock) => return Conn::open(sock, &path, direct),
                Err(e) => errors.push(format!("{path}: {e}")),
            }
        }
        bail!("D-Bus system bus unreachable ({})", errors.join("; "))
    }

    /// Connect to the caller's session bus (its systemd user instance).
    pub fn session() -> Result<Conn> {
        let mut errors = Vec::new();
        for (path, direct) in session_candidates() {
            match connect_addr(&path) {
                Ok(sock) => return Conn::open(sock, &path, direct),
                Err(e) => errors.push(format!("{path}: {e}")),
            }
        }
        if errors.is_empty() {
            errors.push("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set".into());
        }
        bail!(
            "D-Bus session bus unreachable ({}): a rootless user needs a systemd user session (loginctl enable-linger)",
            errors.join("; ")
        )
    }

    /// Use `sock` (already connected to `name`): authenticate, and Hello unless `direct`.
    pub fn open(sock: UnixStream, name: &str, direct: bool) -> Result<Conn> {
        sock.set_read_timeout(Some(CALL_TIMEOUT))?;
        let mut c = Conn {
            sock,
            serial: 0,
            direct,
            pending: Vec::new(),
            name: format!("D-Bus {name}"),
        };
        c.auth()
            .with_context(|| format!("{}: authentication", c.name))?;
        if !direct {
            c.call(Message::call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "Hello",
            ))?;
        }
        Ok(c)
    }

    /// SASL EXTERNAL with our uid, hex-encoded ASCII (the server checks SO_PEERCRED).
    fn auth(&mut self) -> Result<()> {
        let euid = nix::unistd::geteuid().as_raw();
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
        let uid = outside_uid(&map, euid).unwrap_or(euid).to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        self.sock
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let line = self.read_line()?;
        if !line.starts_with("OK ") {
            bail!("server answered {line:?}");
        }
        self.sock.write_all(b"BEGIN\r\n")?;
        Ok(())
    }

    /// One "\r\n"-terminated line, read byte by byte so nothing after it is consumed.
    fn read_line(&mut self) -> Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8];
        while !line.ends_with(b"\r\n") {
            if self.sock.read(&mut b)? == 0 {
                bail!("connection closed");
            }
            line.push(b[0]);
            if line.len() > 4096 {
                bail!("line too long");
            }
        }
        line.truncate(line.len() - 2);
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn send(&mut self, mut m: Message) -> Result<u32> {
        self.serial += 1;
        m.serial = self.serial;
        if self.direct {
            m.destination = None;
        }
        self.sock
            .write_all(&m.encode())
            .with_context(|| format!("{}: send", self.name))?;
        Ok(m.serial)
    }

    fn recv(&mut self) -> Result<Message> {
        let mut head = [0u8; 16];
        self.sock
            .read_exact(&mut head)
            .with_context(|| format!("{}: receive", self.name))?;
        let total = Message::total_len(&head)?;
        if total > 128 << 20 {
            bail!("{}: message of {total} bytes", self.name);
        }
        let mut buf = head.to_vec();
        buf.resize(total, 0);
        self.sock
            .read_exact(&mut buf[16..])
            .with_context(|| format!("{}: receive", self.name))?;
        Message::decode(&buf).with_context(|| format!("{}: decode", self.name))
    }

    /// Call and wait for the reply; an error reply becomes "Name: text". Signals received
    /// meanwhile are kept for `wait_signal`.
    pub fn call(&mut self, m: Message) -> Result<Vec<Value>> {
        let what = m.member.clone().unwrap_or_default();
        let serial = self.send(m)?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                bail!("{}: {what}: no reply", self.name);
            }
            let r = self.recv()?;
            match r.typ {
                METHOD_RETURN if r.reply_serial == Some(serial) => return Ok(r.body),
                ERROR if r.reply_serial == Some(serial) => {
                    let text = r.body.first().and_then(|v| v.as_str()).unwrap_or("");
                    bail!("{}: {text}", r.error_name.unwrap_or_default());
                }
                SIGNAL => self.pending.push(r),
                _ => {}
            }
        }
    }

    /// Ask the bus driver to route signals matching `rule` to us (nothing to do on the
    /// private socket, where systemd sends its signals to every client).
    pub fn add_match(&mut self, rule: &str) -> Result<()> {
        if self.direct {
            return Ok(());
        }
        self.call(
            Message::call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
            )
            .with_body(vec![Value::str(rule)]),
        )?;
        Ok(())
    }

    /// The first signal (kept or new) for which `want` holds, within `timeout`.
    pub fn wait_signal(
        &mut self,
        timeout: Duration,
        mut want: impl FnMut(&Message) -> bool,
    ) -> Result<Message> {
        if let Some(i) = self.pending.iter().position(&mut want) {
            return Ok(self.pending.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{}: timed out waiting for a signal", self.name);
            }
            self.sock.set_read_timeout(Some(left))?;
            let m = self.recv();
            self.sock.set_read_timeout(Some(CALL_TIMEOUT))?;
            let m = m?;
            if m.typ == SIGNAL && want(&m) {
                return Ok(m);
            }
        }
    }
}

#[cfg(test)]
mod tests;
