//! runtime.md: the state, the lifecycle and the operations' error rules.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, i, s, Case, Ctx, Res};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

pub const CASES: &[Case] = &[
    Case {
        name: "state_fields",
        covers: &["state fields", "annotations", "ociVersion"],
        run: state_fields,
    },
    Case {
        name: "lifecycle_create_does_not_run",
        covers: &[
            "lifecycle: create does not run the process",
            "lifecycle: start runs it",
        ],
        run: create_then_start,
    },
    Case {
        name: "lifecycle_status_running_stopped",
        covers: &["state fields", "lifecycle: start runs it"],
        run: running_stopped,
    },
    Case {
        name: "create_existing_id",
        covers: &["create: existing id is an error"],
        run: existing_id,
    },
    Case {
        name: "start_twice",
        covers: &["start: not created is an error"],
        run: start_twice,
    },
    Case {
        name: "kill_created",
        covers: &["kill"],
        run: kill_created,
    },
    Case {
        name: "delete_running_refused",
        covers: &["delete: not stopped is an error"],
        run: delete_running,
    },
    Case {
        name: "delete_stopped",
        covers: &["delete"],
        run: delete_stopped,
    },
    Case {
        name: "invalid_id_refused",
        covers: &["errors leave nothing"],
        run: invalid_id,
    },
    Case {
        name: "state_unknown_id",
        covers: &["state fields"],
        run: unknown_id,
    },
];

fn state_fields(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/annotations", json!({"org.oci-test.key": "value"}));
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    let st = b.state(&id)?;
    ensure(s(&st, "/ociVersion").split('.').count() == 3, || {
        format!("ociVersion: {}", st["ociVersion"])
    })?;
    eq("id", s(&st, "/id"), id.as_str())?;
    eq("status", s(&st, "/status"), "created")?;
    let pid = i(&st, "/pid");
    ensure(
        pid > 0 && Path::new(&format!("/proc/{pid}")).exists(),
        || format!("pid {pid} is not a live process"),
    )?;
    eq("bundle", Path::new(s(&st, "/bundle")), b.dir.as_path())?;
    eq(
        "annotations",
        st["annotations"].clone(),
        json!({"org.oci-test.key": "value"}),
    )
}

fn poll(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn create_then_start(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let host = b.share_dir("/share");
    b.args(&["/bin/touch", "/share/ran"]);
    b.set(
        "/process/args",
        json!(["/bin/sh", "-c", "touch /share/ran"]),
    );
    let (id, out) = b.create();
    out.check("create")?;
    std::thread::sleep(Duration::from_millis(200));
    ensure(!host.join("ran").exists(), || {
        "the process ran before start".into()
    })?;
    b.rt(&["start", &id]).check("start")?;
    ensure(poll(|| host.join("ran").exists()), || {
        "the process did not run after start".into()
    })
}

fn running_stopped(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let host = b.share_dir("/share");
    b.set(
        "/process/args",
        json!([
            "/bin/sh",
            "-c",
            "while [ ! -e /share/stop ]; do sleep 0.05; done"
        ]),
    );
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    eq(
        "status after start",
        s(&b.state(&id)?, "/status"),
        "running",
    )?;
    std::fs::write(host.join("stop"), "").unwrap();
    b.wait_status(&id, "stopped")
}

fn existing_id(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    let pid = i(&b.state(&id)?, "/pid");
    let again = b.rt_bundle("create", &id, &[]);
    ensure(!again.ok(), || {
        "a second create with the same id succeeded".into()
    })?;
    let st = b.state(&id)?;
    eq("first container's status", s(&st, "/status"), "created")?;
    eq("first container's pid", i(&st, "/pid"), pid)
}

fn start_twice(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    ensure(!b.rt(&["start", &id]).ok(), || {
        "start of a running container succeeded".into()
    })
}

fn kill_created(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["kill", &id, "KILL"]).check("kill")?;
    b.wait_status(&id, "stopped")
}

fn delete_running(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    ensure(!b.rt(&["delete", &id]).ok(), || {
        "delete of a running container succeeded".into()
    })?;
    eq("status", s(&b.state(&id)?, "/status"), "running")
}

fn delete_stopped(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/true"]);
    let (id, out) = b.create();
    out.check("create")?;
    b.rt(&["start", &id]).check("start")?;
    b.wait_status(&id, "stopped")?;
    b.rt(&["delete", &id]).check("delete")?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "state still answers after delete".into()
    })
}

fn invalid_id(ctx: &Ctx) -> Res {
    let b = Bundle::new(ctx);
    b.write();
    for bad in ["../oci-test-escape", "a/b", "."] {
        let out = b.rt_bundle("create", bad, &[]);
        ensure(!out.ok(), || format!("create accepted the id {bad:?}"))?;
    }
    ensure(!b.dir.join("oci-test-escape").exists(), || {
        "an id with .. made a directory outside --root".into()
    })
}

fn unknown_id(ctx: &Ctx) -> Res {
    let b = Bundle::new(ctx);
    let out = b.rt(&["state", "oci-test-no-such-container"]);
    ensure(!out.ok(), || "state of an unknown id succeeded".into())?;
    ensure(!out.stderr.trim().is_empty(), || "no error message".into())
}
