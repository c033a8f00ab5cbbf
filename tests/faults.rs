//! Crash at every named fault point (src/fault.rs; needs `--features fault-injection`), then
//! `delete --force` must exit 0 and leave no process, cgroup, mount or state directory.

mod common;

#[path = "../src/fault.rs"]
#[allow(dead_code)]
mod fault;

use common::*;

#[test]
fn every_fault_point_is_recoverable() {
    let Some(()) = can_run() else { return };
    let mut b = Bundle::new(&["sleep", "60"]);
    for point in fault::POINTS {
        let id = b.id(&point.replace(':', "-"));
        // The container's own marker in argv, so every process it made can be found.
        b.config["process"]["args"] = serde_json::json!(["sleep", "60", &id]);
        b.config["linux"]["cgroupsPath"] = format!("/{id}").into();
        b.write_config();
        let faulty = |args: &[&str]| {
            let mut c = b.cmd();
            c.args(args).env("CARRACK_FAULT", point);
            c.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        };
        let bundle = b.bundle();
        let bundle = bundle.to_str().unwrap();
        let verb = point.split(':').next().unwrap();
        match verb {
            "create" | "init" => {
                faulty(&["create", "--bundle", bundle, &id]);
            }
            "start" => {
                assert!(b.rt_bundle("create", &id, &[]).status.success());
                faulty(&["start", &id]);
            }
            "delete" => {
                assert!(b.rt_bundle("run", &id, &["--detach"]).status.success());
                faulty(&["delete", "--force", &id]);
            }
            other => panic!("no driver for fault point {other}"),
        }
        let list = b.rt(&["list", "--format", "json"]);
        assert!(
            list.status.success(),
            "{point}: list: {}",
            text(&list.stderr)
        );
        let out = b.rt(&["delete", "--force", &id]);
        assert!(
            out.status.success(),
            "{point}: delete --force: {}",
            text(&out.stderr)
        );
        assert_nothing_left(&b, &id, &id, point);
        println!("ok {point}");
    }
}
