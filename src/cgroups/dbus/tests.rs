//! The expected bytes below are derived by hand from the dbus-specification ("Marshaling
//! (Wire Format)", "Message Format"): each value aligned to its size from the message start,
//! strings as u32 length + bytes + NUL, signatures as byte length + bytes + NUL, an array's
//! length excluding the padding before its first element (present even when it is empty),
//! structs 8-aligned, header fields `a(yv)` then padding to 8 before the body.

use super::*;

fn s(len: u32, text: &str) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.extend_from_slice(text.as_bytes());
    v.push(0);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn start_transient_unit_body() {
    let body = vec![
        Value::str("a.scope"),
        Value::str("replace"),
        Value::Array(
            "(sv)".into(),
            vec![
                prop("Delegate", Value::Bool(true)),
                prop("MemoryMax", Value::U64(0x0102_0304_0506_0708)),
            ],
        ),
        Value::Array("(sa(sv))".into(), vec![]),
    ];
    let sig: String = body.iter().map(|v| v.signature()).collect();
    assert_eq!(sig, "ssa(sv)a(sa(sv))");
    let mut w = Writer::default();
    for v in &body {
        w.value(v);
    }
    let want = cat(&[
        &s(7, "a.scope"), // 0..12
        &s(7, "replace"), // 12..24
        // a(sv): length 56 (32..88) at 24, then padding to 8 (not counted)
        &[56, 0, 0, 0, 0, 0, 0, 0],
        // struct at 32: "Delegate" (32..45), variant signature "b" (45..48), bool at 48
        &s(8, "Delegate"),
        &[1, b'b', 0],
        &[1, 0, 0, 0],
        // struct at 56: "MemoryMax" (56..70), signature "t" (70..73), pad to 80, u64
        &[0, 0, 0, 0],
        &s(9, "MemoryMax"),
        &[1, b't', 0],
        &[0; 7],
        &[8, 7, 6, 5, 4, 3, 2, 1],
        // a(sa(sv)) at 88: length 0, padding to 96 for the (empty) struct elements
        &[0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    assert_eq!(w.buf, want);
    // And back.
    let mut r = Reader::new(&w.buf, 0);
    assert_eq!(r.values(&sig).unwrap(), body);
}

#[test]
fn hello_message() {
    let mut m = Message::call(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "Hello",
    );
    m.serial = 1;
    let want = cat(&[
        // little-endian, method call, no flags, version 1; body length 0; serial 1
        &[b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0],
        // header fields array length: 16..125
        &[109, 0, 0, 0],
        // (1, o "/org/freedesktop/DBus") at 16
        &[1, 1, b'o', 0],
        &s(21, "/org/freedesktop/DBus"),
        &[0, 0],
        // (2, s interface) at 48
        &[2, 1, b's', 0],
        &s(20, "org.freedesktop.DBus"),
        &[0, 0, 0],
        // (3, s "Hello") at 80
        &[3, 1, b's', 0],
        &s(5, "Hello"),
        &[0, 0],
        // (6, s destination) at 96, ends at 125; padding to 128
        &[6, 1, b's', 0],
        &s(20, "org.freedesktop.DBus"),
        &[0, 0, 0],
    ]);
    assert_eq!(m.encode(), want);
    let head: [u8; 16] = want[..16].try_into().unwrap();
    assert_eq!(Message::total_len(&head).unwrap(), 128);
    let back = Message::decode(&want).unwrap();
    assert_eq!(back.member.as_deref(), Some("Hello"));
    assert_eq!(back.path.as_deref(), Some("/org/freedesktop/DBus"));
    assert_eq!(back.destination.as_deref(), Some("org.freedesktop.DBus"));
}

#[test]
fn job_removed_signal_decodes() {
    // JobRemoved(u id, o job, s unit, s result), as systemd sends it.
    let mut m = Message {
        typ: SIGNAL,
        serial: 9,
        path: Some("/org/freedesktop/systemd1".into()),
        interface: Some("org.freedesktop.systemd1.Manager".into()),
        member: Some("JobRemoved".into()),
        body: vec![
            Value::U32(42),
            Value::Path("/org/freedesktop/systemd1/job/42".into()),
            Value::str("carrack-x.scope"),
            Value::str("done"),
        ],
        ..Default::default()
    };
    m.sender = None;
    let back = Message::decode(&m.encode()).unwrap();
    assert_eq!(back.typ, SIGNAL);
    assert_eq!(back.body, m.body);
}

#[test]
fn nested_and_truncated() {
    let v = Value::Array(
        "(sa(sv))".into(),
        vec![Value::Struct(vec![
            Value::str("x"),
            Value::Array(
                "(sv)".into(),
                vec![prop("A", Value::Array("y".into(), vec![Value::Byte(3)]))],
            ),
        ])],
    );
    let mut w = Writer::default();
    w.value(&Value::Byte(1));
    w.value(&v);
    let mut r = Reader::new(&w.buf, 0);
    assert_eq!(r.values("ya(sa(sv))").unwrap(), vec![Value::Byte(1), v]);
    let mut short = Reader::new(&w.buf[..w.buf.len() - 1], 0);
    assert!(short.values("ya(sa(sv))").is_err());
    assert!(split_type("a(s").is_err() && split_type("a").is_err());
}

/// A real bus: a private dbus-daemon, reached by AUTH EXTERNAL, Hello, a call, an error
/// reply, AddMatch and a signal caused by a second client.
#[test]
fn private_dbus_daemon() {
    let Ok(daemon) = which("dbus-daemon") else {
        println!("skip: [no-dbus-daemon] dbus-daemon is not installed");
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("carrack-test-dbus")
        .tempdir()
        .unwrap();
    let sock = dir.path().join("bus");
    let mut child = std::process::Command::new(daemon)
        .args(["--session", "--nofork", "--nopidfile"])
        .arg(format!("--address=unix:path={}", sock.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut c = Conn::open(UnixStream::connect(&sock).unwrap(), "test", false).unwrap();
        let names = c
            .call(Message::call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "ListNames",
            ))
            .unwrap();
        let Some(Value::Array(_, names)) = names.first() else {
            panic!("{names:?}")
        };
        assert!(
            names.contains(&Value::str("org.freedesktop.DBus")),
            "{names:?}"
        );
        let e = c
            .call(Message::call(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NoSuchMethod",
            ))
            .unwrap_err();
        assert!(e.to_string().contains("UnknownMethod"), "{e}");
        c.add_match("type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged'")
            .unwrap();
        let _other = Conn::open(UnixStream::connect(&sock).unwrap(), "other", false).unwrap();
        let sig = c
            .wait_signal(Duration::from_secs(10), |m| {
                m.member.as_deref() == Some("NameOwnerChanged")
            })
            .unwrap();
        let name = sig.body.first().and_then(|v| v.as_str()).unwrap();
        assert!(name.starts_with(":1."), "{sig:?}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn which(cmd: &str) -> std::result::Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(cmd))
                .find(|p| p.is_file())
        })
        .ok_or(())
}

#[test]
fn external_auth_names_the_uid_outside_our_user_namespace() {
    // Rootless podman's namespace: root is the user 1000 outside, 1.. its subordinate ids.
    let map = "         0       1000          1\n         1     200000      65536\n";
    assert_eq!(outside_uid(map, 0), Some(1000));
    assert_eq!(outside_uid(map, 5), Some(200004));
    assert_eq!(outside_uid(map, 65537), None);
    assert_eq!(outside_uid("0 0 4294967295\n", 1000), Some(1000));
}
