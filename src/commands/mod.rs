//! One thin file per verb: parse what the verb needs, call the container layer, print.

pub mod delete;
pub mod kill;
pub mod list;
pub mod run;
pub mod spec;
pub mod state;

use crate::state::{State, Status};
use serde_json::{json, Value};

/// The state object runc prints (runtime-spec state plus rootfs, created, owner).
pub fn state_json(s: &State, status: Status) -> Value {
    let pid = if status == Status::Stopped { 0 } else { s.pid };
    let mut v = json!({
        "ociVersion": "1.3.0",
        "id": s.id,
        "pid": pid,
        "status": status.as_str(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "owner": s.owner,
    });
    if !s.annotations.is_empty() {
        v["annotations"] = json!(s.annotations);
    }
    v
}
