//! runc's command-line contract that engines (containerd's shim, podman, Docker) rely on.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, Case, Ctx, Res};
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        name: "cli_run_exit_code",
        covers: &["exit codes"],
        run: exit_code,
    },
    Case {
        name: "cli_run_exit_code_signal",
        covers: &["exit codes"],
        run: exit_signal,
    },
    Case {
        name: "cli_log_json_error",
        covers: &["--log JSON lines"],
        run: log_json,
    },
    Case {
        name: "cli_state_shape",
        covers: &["state JSON shape"],
        run: state_shape,
    },
    Case {
        name: "cli_list_json",
        covers: &["list --format json"],
        run: list_json,
    },
    Case {
        name: "cli_ps_json",
        covers: &["ps --format json"],
        run: ps_json,
    },
    Case {
        name: "cli_ps_stopped",
        covers: &["ps --format json"],
        run: ps_stopped,
    },
    Case {
        name: "cli_kill_signal_names",
        covers: &["kill signal names", "kill"],
        run: kill_names,
    },
    Case {
        name: "cli_kill_invalid_signal",
        covers: &["kill signal names"],
        run: kill_invalid,
    },
    Case {
        name: "cli_kill_signal_zero_and_numbers",
        covers: &["kill signal names", "kill"],
        run: kill_zero_and_numbers,
    },
    Case {
        name: "cli_delete_force_running",
        covers: &["delete --force"],
        run: delete_force,
    },
    Case {
        name: "cli_delete_force_twice",
        covers: &["delete --force"],
        run: delete_force_twice,
    },
    Case {
        name: "cli_exec",
        covers: &["exec"],
        run: exec,
    },
    Case {
        name: "cli_exec_user_env_cwd",
        covers: &["exec"],
        run: exec_flags,
    },
    Case {
        name: "cli_exec_process_json",
        covers: &["exec"],
        run: exec_process_json,
    },
    Case {
        name: "cli_exec_stopped_refused",
        covers: &["exec"],
        run: exec_stopped,
    },
    Case {
        name: "cli_exec_paused_refused",
        covers: &["exec", "pause, resume"],
        run: exec_paused,
    },
    Case {
        name: "cli_pause_resume",
        covers: &["pause, resume"],
        run: pause_resume,
    },
    Case {
        name: "cli_update_pids",
        covers: &["update"],
        run: update,
    },
    Case {
        name: "cli_events_stats",
        covers: &["events"],
        run: events,
    },
    Case {
        name: "cli_pid_file",
        covers: &["pid-file"],
        run: pid_file,
    },
    Case {
        name: "cli_features",
        covers: &["features"],
        run: features,
    },
    Case {
        name: "cli_spec",
        covers: &["spec"],
        run: spec,
    },
];

fn exit_code(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sh", "-c", "exit 3"]);
    eq("exit code", b.run().code(), 3)
}

/// `run` exits 128 + the signal that killed the container's process.
fn exit_signal(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    b.write();
    let id = b.new_id();
    let b = &b;
    let code = std::thread::scope(|sc| {
        let run = sc.spawn(|| b.rt_bundle("run", &id, &[]).code());
        let killed = b
            .wait_status(&id, "running")
            .and_then(|_| b.rt(&["kill", &id, "KILL"]).check("kill"));
        (run.join().unwrap(), killed)
    });
    code.1?;
    eq("exit code (128 + SIGKILL)", code.0, 137)
}

fn log_json(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/root/path", json!("no-such-rootfs"));
    b.write();
    let log = b.dir.join("runtime.log");
    let id = b.new_id();
    let dir = b.dir.to_str().unwrap();
    let out = b.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        dir,
        &id,
    ]);
    ensure(!out.ok(), || {
        "create with a missing rootfs succeeded".into()
    })?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let v: Value = serde_json::from_str(last)
        .or_else(|e| fail(format!("last --log line is not JSON ({e}): {last:?}")))?;
    eq("level", s(&v, "/level"), "error")?;
    ensure(!s(&v, "/msg").is_empty(), || "msg is empty".into())
}

fn sleeper(ctx: &Ctx) -> Res<(Bundle, String)> {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    Ok((b, id))
}

fn started(ctx: &Ctx) -> Res<(Bundle, String)> {
    let (b, id) = sleeper(ctx)?;
    b.rt(&["start", &id]).check("start")?;
    Ok((b, id))
}

/// runc's state JSON, which `state` prints and each `list --format json` entry repeats.
const STATE_KEYS: &[&str] = &[
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

fn has_keys(what: &str, v: &Value, keys: &[&str]) -> Res {
    for k in keys {
        ensure(v.get(k).is_some(), || format!("{what}: no {k:?} in {v}"))?;
    }
    Ok(())
}

fn state_shape(ctx: &Ctx) -> Res {
    let (b, id) = sleeper(ctx)?;
    let st = b.state(&id)?;
    has_keys("state", &st, STATE_KEYS)
}

fn list_json(ctx: &Ctx) -> Res {
    let (b, id) = sleeper(ctx)?;
    let out = b.rt(&["list", "--format", "json"]).check("list")?;
    let v: Value = serde_json::from_str(&out.stdout)
        .or_else(|e| fail(format!("list output is not JSON: {e}")))?;
    let arr = v.as_array().cloned().unwrap_or_default();
    eq("containers listed", arr.len(), 1)?;
    has_keys("list entry", &arr[0], STATE_KEYS)?;
    eq("id", s(&arr[0], "/id"), id.as_str())?;
    let q = b.rt(&["list", "-q"]).check("list -q")?;
    eq("list -q", q.stdout.trim(), id.as_str())
}

fn ps_json(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let pid = i(&b.state(&id)?, "/pid");
    let out = b.rt(&["ps", "--format", "json", &id]).check("ps")?;
    let v: Value = serde_json::from_str(&out.stdout)
        .or_else(|e| fail(format!("ps output is not JSON: {e}")))?;
    eq("ps pids", v, json!([pid]))
}

/// A stopped container has no processes, which is no error: runc prints `null` (Go's empty
/// list) and the table's header alone.
fn ps_stopped(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    b.rt(&["kill", &id, "KILL"]).check("kill")?;
    b.wait_status(&id, "stopped")?;
    let out = b
        .rt(&["ps", "--format", "json", &id])
        .check("ps --format json")?;
    let v: Value = serde_json::from_str(&out.stdout)
        .or_else(|e| fail(format!("ps output is not JSON: {e}")))?;
    ensure(v.is_null() || v == json!([]), || {
        format!("ps of a stopped container: {v}")
    })?;
    let table = b.rt(&["ps", &id]).check("ps")?;
    eq("ps table lines", table.stdout.lines().count(), 1)
}

fn kill_names(ctx: &Ctx) -> Res {
    for sig in ["KILL", "SIGKILL", "9"] {
        let (b, id) = started(ctx)?;
        b.rt(&["kill", &id, sig]).check(&format!("kill {sig}"))?;
        b.wait_status(&id, "stopped")?;
    }
    Ok(())
}

fn kill_invalid(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    ensure(!b.rt(&["kill", &id, "SIGNOPE"]).ok(), || {
        "kill accepted SIGNOPE".into()
    })?;
    eq("status", s(&b.state(&id)?, "/status"), "running")
}

/// Signal 0 probes that init exists (runc's kill takes any number the kernel does); a
/// real-time signal by number reaches init, which as pid 1 without a handler ignores it.
fn kill_zero_and_numbers(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    for sig in ["0", "37", "64"] {
        b.rt(&["kill", &id, sig]).check(&format!("kill {sig}"))?;
        eq("status", s(&b.state(&id)?, "/status"), "running")?;
    }
    b.rt(&["kill", &id, "9"]).check("kill 9")?;
    b.wait_status(&id, "stopped")?;
    ensure(!b.rt(&["kill", &id, "0"]).ok(), || {
        "kill 0 of a stopped container succeeded".into()
    })
}

fn delete_force(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let pid = i(&b.state(&id)?, "/pid");
    b.rt(&["delete", "--force", &id]).check("delete --force")?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "state answers after delete --force".into()
    })?;
    let gone = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|st| st.contains(") Z "))
    });
    ensure(gone, || format!("container process {pid} is still alive"))
}

fn delete_force_twice(ctx: &Ctx) -> Res {
    let (b, id) = sleeper(ctx)?;
    b.rt(&["delete", "--force", &id]).check("delete --force")?;
    let again = b.rt(&["delete", "--force", &id]);
    ensure(!again.stderr.contains("panic"), || {
        format!("second delete --force: {}", again.stderr)
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "state answers after delete --force".into()
    })
}

fn exec(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let out = b.rt(&["exec", &id, "/checker"]).check("exec")?;
    let r = crate::bundle::parse_report(&out.stdout)?;
    let init = i(&b.state(&id)?, "/pid");
    let init_net = std::fs::read_link(format!("/proc/{init}/ns/net"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    eq(
        "exec'd process's net namespace",
        s(&r, "/ns/net"),
        init_net.as_str(),
    )?;
    eq(
        "exit code of exec",
        b.rt(&["exec", &id, "/bin/sh", "-c", "exit 5"]).code(),
        5,
    )
}

fn exec_flags(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let out = b
        .rt(&[
            "exec",
            "--user",
            "1000:1001",
            "--env",
            "OCI_EXEC=1",
            "--cwd",
            "/tmp",
            &id,
            "/checker",
        ])
        .check("exec")?;
    let r = crate::bundle::parse_report(&out.stdout)?;
    eq("uid:gid", (i(&r, "/uid"), i(&r, "/gid")), (1000, 1001))?;
    eq("cwd", s(&r, "/cwd"), "/tmp")?;
    let env: Vec<&str> = r["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    ensure(env.contains(&"OCI_EXEC=1"), || format!("env: {env:?}"))
}

fn exec_process_json(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let p = b.dir.join("process.json");
    let process = json!({"terminal": false, "user": {"uid": 2000, "gid": 2000}, "args": ["/checker"], "env": ["PATH=/bin", "OCI_P=1"], "cwd": "/"});
    std::fs::write(&p, process.to_string()).unwrap();
    let out = b
        .rt(&["exec", "--process", p.to_str().unwrap(), &id])
        .check("exec --process")?;
    let r = crate::bundle::parse_report(&out.stdout)?;
    eq("uid", i(&r, "/uid"), 2000)
}

fn exec_stopped(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/true"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    b.wait_status(&id, "stopped")?;
    ensure(!b.rt(&["exec", &id, "/bin/true"]).ok(), || {
        "exec into a stopped container succeeded".into()
    })
}

/// exec into a paused container is refused (runc: unless --ignore-paused) and runs nothing:
/// the process would sit frozen. After resume, exec works.
fn exec_paused(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    b.rt(&["pause", &id]).check("pause")?;
    let out = b.rt(&["exec", &id, "/bin/touch", "/tmp/exec-ran"]);
    ensure(!out.ok(), || {
        "exec into a paused container succeeded".into()
    })?;
    eq(
        "status after the refused exec",
        s(&b.state(&id)?, "/status"),
        "paused",
    )?;
    b.rt(&["resume", &id]).check("resume")?;
    b.rt(&["exec", &id, "/bin/sh", "-c", "! test -e /tmp/exec-ran"])
        .check("the refused exec did not run after resume")?;
    eq(
        "exec after resume",
        b.rt(&["exec", &id, "/bin/sh", "-c", "exit 4"]).code(),
        4,
    )
}

fn pause_resume(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    b.rt(&["pause", &id]).check("pause")?;
    eq("status after pause", s(&b.state(&id)?, "/status"), "paused")?;
    b.rt(&["resume", &id]).check("resume")?;
    eq(
        "status after resume",
        s(&b.state(&id)?, "/status"),
        "running",
    )
}

fn update(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    b.rt(&["update", "--pids-limit", "42", &id])
        .check("update")?;
    let pid = i(&b.state(&id)?, "/pid");
    let dir = ctx.host.cgroup_dir(pid, "pids").ok_or_else(|| {
        crate::harness::Outcome::Skip("no-controller", "no pids cgroup hierarchy".into())
    })?;
    let got = std::fs::read_to_string(dir.join("pids.max")).unwrap_or_default();
    eq("pids.max", got.trim(), "42")
}

fn events(ctx: &Ctx) -> Res {
    let (b, id) = started(ctx)?;
    let out = b.rt(&["events", "--stats", &id]).check("events --stats")?;
    let v: Value = serde_json::from_str(out.stdout.trim())
        .or_else(|e| fail(format!("events --stats is not JSON ({e}): {}", out.stdout)))?;
    eq("type", s(&v, "/type"), "stats")?;
    eq("id", s(&v, "/id"), id.as_str())?;
    ensure(
        v.pointer("/data/pids/current")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            >= 1,
        || format!("no pids.current in {v}"),
    )
}

fn pid_file(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    b.write();
    let id = b.new_id();
    let pf = b.dir.join("pid");
    b.rt_bundle("create", &id, &["--pid-file", pf.to_str().unwrap()])
        .check("create --pid-file")?;
    let want = i(&b.state(&id)?, "/pid");
    eq(
        "pid file",
        std::fs::read_to_string(&pf)
            .unwrap_or_default()
            .trim()
            .parse::<i64>()
            .unwrap_or(-1),
        want,
    )
}

fn features(ctx: &Ctx) -> Res {
    let b = Bundle::new(ctx);
    let out = b.rt(&["features"]).check("features")?;
    let v: Value = serde_json::from_str(&out.stdout)
        .or_else(|e| fail(format!("features is not JSON: {e}")))?;
    has_keys(
        "features",
        &v,
        &[
            "ociVersionMin",
            "ociVersionMax",
            "hooks",
            "mountOptions",
            "linux",
        ],
    )?;
    let ns: Vec<&str> = v
        .pointer("/linux/namespaces")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for want in ["pid", "network", "mount", "ipc", "uts", "user", "cgroup"] {
        ensure(ns.contains(&want), || {
            format!("features: linux.namespaces lacks {want}: {ns:?}")
        })?;
    }
    Ok(())
}

fn spec(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let _ = std::fs::remove_file(b.dir.join("config.json"));
    b.rt(&["spec", "--bundle", b.dir.to_str().unwrap()])
        .check("spec")?;
    let v: Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap_or_default())
            .or_else(|e| fail(format!("spec wrote no JSON config: {e}")))?;
    ensure(!s(&v, "/ociVersion").is_empty(), || {
        "spec: no ociVersion".into()
    })?;
    eq("root.path", s(&v, "/root/path"), "rootfs")?;
    b.config = v;
    b.set("/process/terminal", json!(false));
    b.args(&["/bin/true"]);
    b.run().check("run of the spec's config")?;
    Ok(())
}
