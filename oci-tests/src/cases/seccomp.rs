//! config-linux.md `linux.seccomp`: the errno a denied syscall returns, native and 32-bit,
//! argument comparisons, actions, flags and the notify listener.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, status_field, Case, Ctx, Res};
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        name: "seccomp_errno",
        covers: &[
            "linux.seccomp.syscalls[].names, action",
            "linux.seccomp.syscalls[].errnoRet",
            "linux.seccomp.defaultAction",
        ],
        run: errno,
    },
    Case {
        name: "seccomp_mode_filter",
        covers: &["linux.seccomp.defaultAction"],
        run: mode,
    },
    Case {
        name: "seccomp_32bit_denied",
        covers: &["linux.seccomp.architectures"],
        run: compat,
    },
    Case {
        name: "seccomp_native_arch_implied",
        covers: &["linux.seccomp.architectures"],
        run: native_implied,
    },
    Case {
        name: "seccomp_docker_default_profile",
        covers: &[
            "linux.seccomp.defaultAction",
            "linux.seccomp.architectures",
            "linux.seccomp.syscalls[].names, action",
        ],
        run: docker,
    },
    Case {
        name: "seccomp_default_errno_ret",
        covers: &["linux.seccomp.defaultErrnoRet"],
        run: default_errno_ret,
    },
    Case {
        name: "seccomp_args_eq",
        covers: &["linux.seccomp.syscalls[].args"],
        run: args_eq,
    },
    Case {
        name: "seccomp_args_same_index_ored",
        covers: &["linux.seccomp.syscalls[].args"],
        run: args_same_index,
    },
    Case {
        name: "seccomp_args_64bit",
        covers: &["linux.seccomp.syscalls[].args"],
        run: args_64,
    },
    Case {
        name: "seccomp_args_masked_eq",
        covers: &["linux.seccomp.syscalls[].args"],
        run: args_masked,
    },
    Case {
        name: "seccomp_action_kill_process",
        covers: &["linux.seccomp.syscalls[].names, action"],
        run: |c| killed(c, "SCMP_ACT_KILL_PROCESS"),
    },
    Case {
        name: "seccomp_action_trap",
        covers: &["linux.seccomp.syscalls[].names, action"],
        run: |c| killed(c, "SCMP_ACT_TRAP"),
    },
    Case {
        name: "seccomp_action_log",
        covers: &["linux.seccomp.syscalls[].names, action"],
        run: log,
    },
    Case {
        name: "seccomp_flags",
        covers: &["linux.seccomp.flags"],
        run: flags,
    },
    Case {
        name: "seccomp_without_no_new_privs",
        covers: &["linux.seccomp.defaultAction", "process.noNewPrivileges"],
        run: without_nnp,
    },
    Case {
        name: "seccomp_unknown_syscall_skipped",
        covers: &["linux.seccomp.syscalls[].names, action"],
        run: unknown_name,
    },
    Case {
        name: "seccomp_notify_listener",
        covers: &[
            "linux.seccomp.listenerPath",
            "linux.seccomp.listenerMetadata",
        ],
        run: notify,
    },
    Case {
        name: "seccomp_notify_fd_during_create",
        covers: &["linux.seccomp.listenerPath", "process.noNewPrivileges"],
        run: notify_during_create,
    },
];

const GETPRIORITY: &str = "getpriority=140";
const GETPRIORITY_WHICH_1: &str = "getpriority=140:1";

fn rule(action: &str) -> Value {
    json!({"names": ["getpriority"], "action": action, "errnoRet": 42})
}

fn allow_with(b: &mut Bundle, rules: Value) {
    b.set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}));
}

fn errno_of(r: &Value, name: &str) -> i64 {
    i(r, &format!("/syscalls/{name}/errno"))
}

fn errno(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    let r = b.check(&["--syscall", GETPRIORITY, "--syscall", "getpid=39"])?;
    eq("getpriority errno", errno_of(&r, "getpriority"), 42)?;
    eq("getpid errno (allowed)", errno_of(&r, "getpid"), 0)
}

fn mode(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    let r = b.check(&[])?;
    eq(
        "Seccomp (2 = filter)",
        status_field(&r, "Seccomp"),
        "2".into(),
    )
}

fn compat(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    let r = b.check(&[
        "--syscall32",
        "getpriority32=96",
        "--syscall32",
        "getpid32=20",
    ])?;
    eq(
        "32-bit getpriority errno",
        errno_of(&r, "getpriority32"),
        42,
    )?;
    eq("32-bit getpid errno (allowed)", errno_of(&r, "getpid32"), 0)
}

/// `architectures` without the native arch: libseccomp always includes it (the list adds
/// arches), so the container starts and the rules apply to native and listed 32-bit calls.
fn native_implied(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    b.set(
        "/linux/seccomp/architectures",
        json!(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    );
    let r = b.check(&[
        "--syscall",
        GETPRIORITY,
        "--syscall",
        "getpid=39",
        "--syscall32",
        "getpriority32=96",
    ])?;
    eq("getpriority errno", errno_of(&r, "getpriority"), 42)?;
    eq("getpid errno (allowed)", errno_of(&r, "getpid"), 0)?;
    eq(
        "32-bit getpriority errno",
        errno_of(&r, "getpriority32"),
        42,
    )
}

fn docker_profile() -> Value {
    serde_json::from_str(include_str!("../../data/docker-20.10-default-seccomp.json")).unwrap()
}

/// Docker's default profile: `acct` is not in it (EPERM), getpid is; native and 32-bit.
fn docker(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/linux/seccomp", docker_profile());
    let r = b.check(&[
        "--syscall",
        "acct=163",
        "--syscall",
        "getpid=39",
        "--syscall32",
        "acct32=51",
        "--syscall32",
        "getpid32=20",
    ])?;
    eq("acct errno (EPERM)", errno_of(&r, "acct"), 1)?;
    eq("getpid errno", errno_of(&r, "getpid"), 0)?;
    eq("32-bit acct errno (EPERM)", errno_of(&r, "acct32"), 1)?;
    eq("32-bit getpid errno", errno_of(&r, "getpid32"), 0)
}

fn default_errno_ret(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let mut p = docker_profile();
    p["defaultErrnoRet"] = json!(77);
    b.set("/linux/seccomp", p);
    let r = b.check(&["--syscall", "acct=163"])?;
    eq("acct errno (defaultErrnoRet)", errno_of(&r, "acct"), 77)
}

fn with_args(ctx: &Ctx, args: Value, denied: &str, allowed: &str) -> Res {
    let mut b = Bundle::new(ctx);
    let mut r = rule("SCMP_ACT_ERRNO");
    r["args"] = args;
    allow_with(&mut b, json!([r]));
    let rep = b.check(&[
        "--syscall",
        &format!("denied={denied}"),
        "--syscall",
        &format!("allowed={allowed}"),
    ])?;
    eq(
        &format!("getpriority({denied}) errno"),
        errno_of(&rep, "denied"),
        42,
    )?;
    eq(
        &format!("getpriority({allowed}) errno"),
        errno_of(&rep, "allowed"),
        0,
    )
}

fn args_eq(ctx: &Ctx) -> Res {
    with_args(
        ctx,
        json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]),
        "140:1",
        "140:0",
    )
}

/// Two conditions on the same argument index are ORed (runc makes each its own rule):
/// getpriority(1) and getpriority(2) both get the errno, getpriority(0) does not.
fn args_same_index(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let mut r = rule("SCMP_ACT_ERRNO");
    r["args"] = json!([
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
        {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}
    ]);
    allow_with(&mut b, json!([r]));
    let rep = b.check(&[
        "--syscall",
        "one=140:1",
        "--syscall",
        "two=140:2",
        "--syscall",
        "zero=140:0",
    ])?;
    eq("getpriority(1) errno", errno_of(&rep, "one"), 42)?;
    eq("getpriority(2) errno", errno_of(&rep, "two"), 42)?;
    eq("getpriority(0) errno", errno_of(&rep, "zero"), 0)
}

/// 0x1_0000_0001 must not match an argument of 1: both halves are compared.
fn args_64(ctx: &Ctx) -> Res {
    with_args(
        ctx,
        json!([{"index": 0, "value": 4294967297u64, "op": "SCMP_CMP_EQ"}]),
        "140:0x100000001",
        "140:1",
    )
}

fn args_masked(ctx: &Ctx) -> Res {
    with_args(
        ctx,
        json!([{"index": 0, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]),
        "140:2",
        "140:1",
    )
}

fn killed(ctx: &Ctx, action: &str) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule(action)]));
    b.args(&["/checker", "--syscall", GETPRIORITY]);
    let out = b.run();
    eq("exit code (128 + SIGSYS)", out.code(), 159)
}

fn log(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_LOG")]));
    let r = b.check(&["--syscall", GETPRIORITY_WHICH_1])?;
    eq(
        "logged getpriority errno (allowed)",
        errno_of(&r, "getpriority"),
        0,
    )
}

fn flags(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    b.set(
        "/linux/seccomp/flags",
        json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
    );
    let r = b.check(&["--syscall", GETPRIORITY])?;
    eq("getpriority errno", errno_of(&r, "getpriority"), 42)?;
    let ssb = status_field(&r, "Speculation_Store_Bypass");
    ensure(!ssb.contains("thread force mitigated"), || {
        format!("SPEC_ALLOW ignored: Speculation_Store_Bypass {ssb}")
    })
}

fn without_nnp(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/process/noNewPrivileges", json!(false));
    allow_with(&mut b, json!([rule("SCMP_ACT_ERRNO")]));
    let r = b.check(&["--syscall", GETPRIORITY])?;
    eq("NoNewPrivs", status_field(&r, "NoNewPrivs"), "0".into())?;
    eq("getpriority errno", errno_of(&r, "getpriority"), 42)
}

fn unknown_name(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    allow_with(
        &mut b,
        json!([{"names": ["oci_no_such_syscall", "getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]),
    );
    let r = b.check(&["--syscall", GETPRIORITY])?;
    eq("getpriority errno", errno_of(&r, "getpriority"), 42)
}

/// The listener fd and the container's state reach listenerPath; once the listener is
/// closed, the notified syscall fails with ENOSYS.
fn notify(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let sock = b.dir.join("seccomp.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    allow_with(
        &mut b,
        json!([{"names": ["getpriority"], "action": "SCMP_ACT_NOTIFY"}]),
    );
    b.set("/linux/seccomp/listenerPath", json!(sock));
    b.set(
        "/linux/seccomp/listenerMetadata",
        json!("oci-test-metadata"),
    );
    b.args(&["/checker", "--syscall", GETPRIORITY]);
    b.write();
    let id = b.new_id();
    let dir = b.dir.to_str().unwrap().to_string();
    let (got, out) = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            crate::unix::recv_with_fds(&l, std::time::Duration::from_secs(20))
                .map(|(d, fds)| (d, fds.len()))
        });
        let out = b.rt(&["run", "--bundle", &dir, &id]);
        (h.join().unwrap(), out)
    });
    let (data, nfds) = got.or_else(|e| {
        fail(format!(
            "listener socket: {e} (runtime: {})",
            out.stderr.trim()
        ))
    })?;
    let out = out.check("run")?;
    eq("fds sent", nfds, 1)?;
    let st: Value = serde_json::from_slice(&data)
        .or_else(|e| fail(format!("listener message is not JSON: {e}")))?;
    eq("metadata", s(&st, "/metadata"), "oci-test-metadata")?;
    eq("state.id", s(&st, "/state/id"), id.as_str())?;
    let r = crate::bundle::parse_report(&out.stdout)?;
    eq(
        "notified getpriority errno (ENOSYS, listener closed)",
        errno_of(&r, "getpriority"),
        38,
    )
}

/// With noNewPrivileges the listener fd is already on listenerPath when `create` returns
/// (runc sends it before its final sync), not only after `start`.
fn notify_during_create(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let sock = b.dir.join("seccomp.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    allow_with(
        &mut b,
        json!([{"names": ["getpriority"], "action": "SCMP_ACT_NOTIFY"}]),
    );
    b.set("/linux/seccomp/listenerPath", json!(sock));
    b.set("/process/noNewPrivileges", json!(true));
    b.args(&["/checker", "--syscall", GETPRIORITY]);
    let (id, out) = b.create();
    out.check("create")?;
    // Create has returned: the message is queued already, or it was not sent during create.
    let (data, fds) = crate::unix::recv_with_fds(&l, std::time::Duration::from_millis(1))
        .or_else(|e| fail(format!("no listener fd when create returned: {e}")))?;
    eq("fds sent during create", fds.len(), 1)?;
    let st: Value = serde_json::from_slice(&data)
        .or_else(|e| fail(format!("listener message is not JSON: {e}")))?;
    eq("state.id", s(&st, "/state/id"), id.as_str())?;
    drop(fds);
    b.rt(&["start", &id]).check("start")?;
    b.wait_status(&id, "stopped")
}
