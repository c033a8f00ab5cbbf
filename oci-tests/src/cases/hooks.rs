//! config.md `hooks`: each kind runs at its point of the lifecycle, in order, with the state
//! on stdin, its args, env and timeout; failures follow runtime.md.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, Case, Ctx, Res};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case {
        name: "hooks_order_and_state",
        covers: &[
            "hooks.prestart",
            "hooks.createRuntime",
            "hooks.createContainer",
            "hooks.startContainer",
            "hooks.poststart",
            "hooks.poststop",
            "hooks stdin",
        ],
        run: order,
    },
    Case {
        name: "hooks_args_env",
        covers: &["hooks[].args, env"],
        run: args_env,
    },
    Case {
        name: "hooks_timeout",
        covers: &["hooks[].timeout", "errors leave nothing"],
        run: timeout,
    },
    Case {
        name: "hooks_create_runtime_fails",
        covers: &["hooks.createRuntime", "errors leave nothing"],
        run: create_runtime_fails,
    },
    Case {
        name: "hooks_poststart_fails",
        covers: &["hooks.poststart"],
        run: poststart_fails,
    },
    Case {
        name: "hooks_poststop_fails_delete_continues",
        covers: &["hooks.poststop"],
        run: poststop_fails,
    },
];

/// A host hook that saves its stdin as `<dir>/<name>.json` and appends `name` to `<dir>/order`.
fn recorder(sh: &str, dir: &str, name: &str) -> Value {
    json!({"path": sh, "args": ["sh", "-c", format!("cat > {dir}/{name}.json; echo {name} >> {dir}/order")]})
}

fn order(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let host = b.share_dir("/hooks");
    let h = host.to_str().unwrap().to_string();
    b.set(
        "/hooks",
        json!({
            "prestart": [recorder("/bin/sh", &h, "prestart")],
            "createRuntime": [recorder("/bin/sh", &h, "createRuntime")],
            "createContainer": [recorder("/bin/sh", &h, "createContainer")],
            "startContainer": [recorder("/bin/sh", "/hooks", "startContainer")],
            "poststart": [recorder("/bin/sh", &h, "poststart")],
            "poststop": [recorder("/bin/sh", &h, "poststop")]
        }),
    );
    b.args(&["/bin/true"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    b.wait_status(&id, "stopped")?;
    b.rt(&["delete", &id]).check("delete")?;
    let order = std::fs::read_to_string(host.join("order")).unwrap_or_default();
    let order: Vec<&str> = order.lines().collect();
    eq(
        "hook order",
        order,
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ],
    )?;
    for name in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let st: Value = serde_json::from_slice(
            &std::fs::read(host.join(format!("{name}.json"))).unwrap_or_default(),
        )
        .or_else(|e| fail(format!("{name}: stdin is not the state JSON: {e}")))?;
        eq(&format!("{name}: state.id"), s(&st, "/id"), id.as_str())?;
        eq(
            &format!("{name}: state.bundle"),
            Path::new(s(&st, "/bundle")),
            b.dir.as_path(),
        )?;
        ensure(!s(&st, "/ociVersion").is_empty(), || {
            format!("{name}: state has no ociVersion")
        })?;
        if name != "poststop" {
            ensure(i(&st, "/pid") > 0, || format!("{name}: state has no pid"))?;
        }
    }
    let poststop: Value =
        serde_json::from_slice(&std::fs::read(host.join("poststop.json")).unwrap()).unwrap();
    eq("poststop: state.status", s(&poststop, "/status"), "stopped")
}

fn args_env(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let out_file = b.dir.join("hook-out");
    b.set("/hooks/createRuntime", json!([{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo \"$0|$1|$OCI_HOOK|${{HOME:-unset}}\" > {}", out_file.display()), "zero", "one"],
        "env": ["OCI_HOOK=yes"]
    }]));
    let (_, out) = b.create();
    out.check("create")?;
    let got = std::fs::read_to_string(&out_file).unwrap_or_default();
    eq("hook saw argv and env", got.trim(), "zero|one|yes|unset")
}

fn marker_processes(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).contains(marker))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

fn timeout(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let marker = format!(
        "oci-test-hang-{}",
        b.dir.file_name().unwrap().to_string_lossy()
    );
    b.set("/hooks/createRuntime", json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("sleep 60; : {marker}")], "timeout": 1}]));
    let start = Instant::now();
    let (id, out) = b.create();
    let took = start.elapsed();
    ensure(!out.ok(), || {
        "create succeeded although the hook hung".into()
    })?;
    ensure(took < Duration::from_secs(15), || {
        format!("create took {took:?} with a 1 s hook timeout")
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })?;
    std::thread::sleep(Duration::from_millis(200));
    eq("hung hook processes left", marker_processes(&marker), 0)
}

fn create_runtime_fails(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/hooks/createRuntime",
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-broke >&2; exit 3"]}]),
    );
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    ensure(!out.ok(), || {
        "create succeeded although a createRuntime hook failed".into()
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}

fn poststop_fails(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/hooks/poststop",
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]),
    );
    b.args(&["/bin/true"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    b.wait_status(&id, "stopped")?;
    b.rt(&["delete", &id])
        .check("delete (a poststop hook failure is only a warning)")?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the container still exists after delete".into()
    })
}

/// runtime.md (1.3): a failing poststart hook MUST generate an error and stop the container.
fn poststart_fails(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/hooks/poststart",
        json!([{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]),
    );
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    ensure(!b.rt(&["start", &id]).ok(), || {
        "start succeeded although a poststart hook failed".into()
    })?;
    b.wait_status(&id, "stopped")
}
