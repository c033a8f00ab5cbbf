//! config.md `process`: what the container's process really got.

use super::{cap_mask, host_caps};
use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, skip, status_field, Case, Ctx, Res};
use serde_json::json;

pub const CASES: &[Case] = &[
    Case {
        name: "process_args",
        covers: &["process.args"],
        run: args,
    },
    Case {
        name: "process_env",
        covers: &["process.env"],
        run: env,
    },
    Case {
        name: "process_cwd",
        covers: &["process.cwd"],
        run: cwd,
    },
    Case {
        name: "process_cwd_only_root_can_enter",
        covers: &["process.cwd", "process.user.uid"],
        run: cwd_root_only,
    },
    Case {
        name: "process_user",
        covers: &[
            "process.user.uid",
            "process.user.gid",
            "process.user.additionalGids",
        ],
        run: user,
    },
    Case {
        name: "process_user_umask",
        covers: &["process.user.umask"],
        run: umask,
    },
    Case {
        name: "process_rlimits",
        covers: &["process.rlimits"],
        run: rlimits,
    },
    Case {
        name: "process_capabilities",
        covers: &[
            "process.capabilities.bounding",
            "process.capabilities.effective",
            "process.capabilities.inheritable",
            "process.capabilities.permitted",
            "process.capabilities.ambient",
        ],
        run: capabilities,
    },
    Case {
        name: "process_capabilities_all",
        covers: &[
            "process.capabilities.bounding",
            "process.capabilities.effective",
        ],
        run: capabilities_all,
    },
    Case {
        name: "process_capabilities_unknown_name_skipped",
        covers: &["process.capabilities.bounding"],
        run: capabilities_unknown,
    },
    Case {
        name: "process_capabilities_nonroot_ambient",
        covers: &["process.capabilities.ambient", "process.user.uid"],
        run: capabilities_nonroot,
    },
    Case {
        name: "process_no_new_privileges",
        covers: &["process.noNewPrivileges"],
        run: nnp_true,
    },
    Case {
        name: "process_no_new_privileges_false",
        covers: &["process.noNewPrivileges"],
        run: nnp_false,
    },
    Case {
        name: "process_oom_score_adj",
        covers: &["process.oomScoreAdj"],
        run: oom,
    },
    Case {
        name: "process_scheduler",
        covers: &["process.scheduler"],
        run: scheduler,
    },
    Case {
        name: "process_io_priority",
        covers: &["process.ioPriority"],
        run: io_priority,
    },
    Case {
        name: "process_exec_cpu_affinity",
        covers: &["process.execCPUAffinity"],
        run: affinity,
    },
    Case {
        name: "process_apparmor_profile",
        covers: &["process.apparmorProfile"],
        run: apparmor,
    },
    Case {
        name: "process_selinux_label",
        covers: &["process.selinuxLabel"],
        run: selinux,
    },
    Case {
        name: "process_terminal",
        covers: &["process.terminal", "process.consoleSize", "console socket"],
        run: terminal,
    },
    Case {
        name: "process_no_terminal",
        covers: &["process.terminal"],
        run: no_terminal,
    },
    Case {
        name: "process_args_not_found",
        covers: &["process.args", "errors leave nothing"],
        run: args_not_found,
    },
    Case {
        name: "process_fds_closed",
        covers: &["process.args"],
        run: fds_closed,
    },
];

fn args(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/echo", "hello", "two words"]);
    let out = b.run().check("run")?;
    eq("stdout", out.stdout.as_str(), "hello two words\n")
}

fn env(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/process/env",
        json!(["PATH=/bin", "OCI_A=1", "OCI_B=with space=and equals"]),
    );
    let r = b.check(&[])?;
    let env: Vec<&str> = r["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for want in ["PATH=/bin", "OCI_A=1", "OCI_B=with space=and equals"] {
        ensure(env.contains(&want), || {
            format!("env: {want} missing in {env:?}")
        })?;
    }
    Ok(())
}

fn cwd(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    std::fs::create_dir_all(b.rootfs().join("work/dir")).unwrap();
    b.set("/process/cwd", json!("/work/dir"));
    let r = b.check(&[])?;
    eq("cwd", s(&r, "/cwd"), "/work/dir")
}

/// A cwd that root can enter but process.user cannot (0700, root's): runc enters it before
/// dropping to the user, so the process starts there.
fn cwd_root_only(ctx: &Ctx) -> Res {
    use std::os::unix::fs::PermissionsExt;
    let mut b = Bundle::new(ctx);
    let dir = b.rootfs().join("private");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    b.set("/process/cwd", json!("/private"));
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let r = b.check(&[])?;
    eq("uid", i(&r, "/uid"), 1000)?;
    eq("cwd", s(&r, "/cwd"), "/private")
}

fn user(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6]}),
    );
    let r = b.check(&[])?;
    eq("uid", i(&r, "/uid"), 1000)?;
    eq("euid", i(&r, "/euid"), 1000)?;
    eq("gid", i(&r, "/gid"), 1001)?;
    let mut groups: Vec<i64> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g.as_i64())
        .collect();
    groups.sort();
    groups.retain(|g| *g != 1001);
    eq("additional groups", groups, vec![5, 6])
}

fn umask(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/process/user/umask", json!(0o027));
    let r = b.check(&[])?;
    eq("umask", i(&r, "/umask"), 0o027)
}

fn rlimits(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 8192}
        ]),
    );
    let r = b.check(&[])?;
    for (name, soft, hard) in [
        ("RLIMIT_NOFILE", 512, 1024),
        ("RLIMIT_CORE", 0, 4096),
        ("RLIMIT_NPROC", 300, 400),
        ("RLIMIT_MSGQUEUE", 8192, 8192),
    ] {
        eq(
            name,
            (
                i(&r, &format!("/rlimits/{name}/soft")),
                i(&r, &format!("/rlimits/{name}/hard")),
            ),
            (soft, hard),
        )?;
    }
    Ok(())
}

fn set_caps(b: &mut Bundle, bnd: &[&str], eff: &[&str], inh: &[&str], prm: &[&str], amb: &[&str]) {
    b.set(
        "/process/capabilities",
        json!({"bounding": bnd, "effective": eff, "inheritable": inh, "permitted": prm, "ambient": amb}),
    );
}

fn compare_caps(r: &serde_json::Value, want: [(&str, &[&str]); 5]) -> Res {
    for (key, names) in want {
        eq(key, status_field(r, key), cap_mask(names))?;
    }
    Ok(())
}

fn capabilities(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let bnd = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_CHROOT"];
    let eff = ["CAP_CHOWN", "CAP_KILL"];
    let inh = ["CAP_KILL"];
    let prm = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"];
    let amb = ["CAP_KILL"];
    set_caps(&mut b, &bnd, &eff, &inh, &prm, &amb);
    let r = b.check(&[])?;
    // For uid 0 without file capabilities, execve makes the effective set the permitted one
    // (capabilities(7)); the exact effective set is checked for a non-root user below.
    compare_caps(
        &r,
        [
            ("CapBnd", &bnd),
            ("CapEff", &prm),
            ("CapInh", &inh),
            ("CapPrm", &prm),
            ("CapAmb", &amb),
        ],
    )
}

fn capabilities_all(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let all = host_caps();
    set_caps(&mut b, &all, &all, &[], &all, &[]);
    let r = b.check(&[])?;
    compare_caps(
        &r,
        [
            ("CapBnd", &all),
            ("CapEff", &all),
            ("CapInh", &[]),
            ("CapPrm", &all),
            ("CapAmb", &[]),
        ],
    )
}

/// A name this kernel does not know (from a newer kernel) is skipped, as runc >= 1.2 does.
fn capabilities_unknown(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let known = ["CAP_CHOWN", "CAP_KILL"];
    let with_new = ["CAP_CHOWN", "CAP_KILL", "CAP_FROM_THE_FUTURE"];
    set_caps(&mut b, &with_new, &with_new, &[], &with_new, &[]);
    let r = b.check(&[])?;
    compare_caps(
        &r,
        [
            ("CapBnd", &known),
            ("CapEff", &known),
            ("CapInh", &[]),
            ("CapPrm", &known),
            ("CapAmb", &[]),
        ],
    )
}

/// A non-root user keeps exactly the configured effective and ambient sets.
fn capabilities_nonroot(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    set_caps(&mut b, &caps, &caps, &caps, &caps, &caps);
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    let r = b.check(&[])?;
    compare_caps(
        &r,
        [
            ("CapBnd", &caps),
            ("CapEff", &caps),
            ("CapInh", &caps),
            ("CapPrm", &caps),
            ("CapAmb", &caps),
        ],
    )
}

fn nnp_true(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/process/noNewPrivileges", json!(true));
    let r = b.check(&[])?;
    eq("NoNewPrivs", status_field(&r, "NoNewPrivs"), "1".into())
}

fn nnp_false(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/process/noNewPrivileges", json!(false));
    let r = b.check(&[])?;
    eq("NoNewPrivs", status_field(&r, "NoNewPrivs"), "0".into())
}

fn oom(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/process/oomScoreAdj", json!(423));
    let r = b.check(&[])?;
    eq("oom_score_adj", s(&r, "/oom_score_adj").trim(), "423")
}

fn scheduler(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    // The flag as runtime-spec spells it.
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}),
    );
    let r = b.check(&[])?;
    eq("sched policy (SCHED_BATCH = 3)", i(&r, "/sched/policy"), 3)?;
    eq("nice", i(&r, "/sched/nice"), 7)?;
    eq(
        "SCHED_FLAG_RESET_ON_FORK (0x1) in sched_flags",
        i(&r, "/sched/flags") & 1,
        1,
    )
}

fn io_priority(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    );
    let r = b.check(&[])?;
    eq(
        "ioprio (class BE = 2, priority)",
        (i(&r, "/ioprio/class"), i(&r, "/ioprio/priority")),
        (2, 6),
    )
}

/// execCPUAffinity is for exec'd processes (the spec excludes the container's init): an
/// exec with `final` runs on those CPUs; the init keeps the runtime's affinity.
fn affinity(ctx: &Ctx) -> Res {
    if ctx.host.cpus < 2 {
        return skip("one-cpu", "needs 2 CPUs to see an affinity change");
    }
    let mut b = Bundle::new(ctx);
    b.set("/process/execCPUAffinity", json!({"final": "1"}));
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    let pid = i(&b.state(&id)?, "/pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let init_cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("")
        .trim()
        .to_string();
    ensure(init_cpus != "1", || {
        "execCPUAffinity was applied to the container's init".into()
    })?;
    let p = b.dir.join("process.json");
    let process = json!({"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/checker"], "cwd": "/",
                         "env": ["PATH=/bin"], "execCPUAffinity": {"initial": "0", "final": "1"}});
    std::fs::write(&p, process.to_string()).unwrap();
    let out = b
        .rt(&["exec", "--process", p.to_str().unwrap(), &id])
        .check("exec")?;
    let r = crate::bundle::parse_report(&out.stdout)?;
    eq("exec'd process affinity", r["affinity"].clone(), json!([1]))
}

/// Without the LSM, a runtime cannot give the label: runtime.md says it MUST error.
fn refused_without_lsm(ctx: &Ctx, field: &str, value: &str) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(&format!("/process/{field}"), json!(value));
    let (id, out) = b.create();
    ensure(!out.ok(), || {
        format!("process.{field} was accepted on a host without the LSM")
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}

fn apparmor(ctx: &Ctx) -> Res {
    if !ctx.host.apparmor {
        return refused_without_lsm(ctx, "apparmorProfile", "oci-test-profile");
    }
    let mut b = Bundle::new(ctx);
    b.set("/process/apparmorProfile", json!("unconfined"));
    let r = b.check(&["--read", "/proc/self/attr/current"])?;
    eq(
        "label",
        s(&r, "/files/~1proc~1self~1attr~1current").trim(),
        "unconfined",
    )
}

fn selinux(ctx: &Ctx) -> Res {
    if !ctx.host.selinux {
        return refused_without_lsm(ctx, "selinuxLabel", "system_u:system_r:container_t:s0");
    }
    fail("SELinux host: this case is not written yet")
}

fn terminal(ctx: &Ctx) -> Res {
    use std::io::Read;
    let mut b = Bundle::new(ctx);
    b.set("/process/terminal", json!(true));
    b.set("/process/consoleSize", json!({"height": 33, "width": 101}));
    b.args(&["/checker", "--stat", "/dev/console"]);
    let sock = b.dir.join("console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // After the bind: with --rootless, write() gives the socket to the user too.
    b.write();
    let id = b.new_id();
    let dir = b.dir.to_str().unwrap().to_string();
    let sock_s = sock.to_str().unwrap().to_string();
    let (got, out) = std::thread::scope(|sc| {
        let h = sc.spawn(|| crate::unix::recv_with_fds(&l, std::time::Duration::from_secs(20)));
        let out = b.rt(&["create", "--bundle", &dir, "--console-socket", &sock_s, &id]);
        (h.join().unwrap(), out)
    });
    out.check("create --console-socket")?;
    let (_, mut fds) = got.or_else(|e| fail(format!("console socket: {e}")))?;
    ensure(fds.len() == 1, || {
        format!("console socket: expected 1 fd, got {}", fds.len())
    })?;
    let mut master = std::fs::File::from(fds.remove(0));
    b.rt(&["start", &id]).check("start")?;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    // The master reads EIO once the container's last slave fd is closed.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let r = crate::bundle::parse_report(&String::from_utf8_lossy(&text))?;
    ensure(s(&r, "/tty/0").starts_with("/dev/pts/"), || {
        format!("stdin is not a pty: {}", r["tty"])
    })?;
    ensure(
        r["tty"]["1"] == r["tty"]["0"] && r["tty"]["2"] == r["tty"]["0"],
        || format!("stdout/stderr: {}", r["tty"]),
    )?;
    eq(
        "consoleSize (rows, cols)",
        (i(&r, "/tty/rows"), i(&r, "/tty/cols")),
        (33, 101),
    )?;
    eq(
        "/dev/console type",
        s(&r, "/stats/~1dev~1console/type"),
        "c",
    )?;
    eq(
        "/dev/console major (a pty slave)",
        i(&r, "/stats/~1dev~1console/major"),
        136,
    )
}

fn no_terminal(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let r = b.check(&[])?;
    eq("stdin tty", r["tty"]["0"].clone(), serde_json::Value::Null)
}

fn args_not_found(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/no/such/binary"]);
    let out = b.run();
    ensure(!out.ok(), || "running a missing binary succeeded".into())?;
    ensure(out.stderr.contains("/no/such/binary"), || {
        format!("error does not name the binary: {}", out.stderr.trim())
    })?;
    let list = b.rt(&["list", "-q"]);
    eq("containers left", list.stdout.trim(), "")
}

/// Only fds 0-2 reach the process (no runtime fd leaks in).
fn fds_closed(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let r = b.check(&[])?;
    let mut fds: Vec<&String> = r["fds"].as_object().unwrap().keys().collect();
    fds.sort();
    eq(
        "open fds",
        fds,
        vec![&"0".to_string(), &"1".to_string(), &"2".to_string()],
    )
}
