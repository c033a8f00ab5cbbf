//! Crash at every named fault point (src/fault.rs; needs `--features fault-injection`), then
//! `delete --force` must exit 0 and leave no process, cgroup, mount or state directory.

mod common;

#[path = "../src/fault.rs"]
#[allow(dead_code)]
mod fault;

use common::*;
use std::time::Duration;

fn processes_mentioning(id: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(id) && !stat.contains(") Z")
        })
        .collect()
}

#[test]
fn every_fault_point_is_recoverable() {
    if !cfg!(feature = "fault-injection") {
        println!("skip: built without --features fault-injection");
        return;
    }
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
        let mut left = processes_mentioning(&id);
        for _ in 0..200 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
            left = processes_mentioning(&id);
        }
        assert!(left.is_empty(), "{point}: processes left {left:?}");
        assert!(
            cgroup_dirs_named(&id).is_empty(),
            "{point}: cgroups left {:?}",
            cgroup_dirs_named(&id)
        );
        assert!(!b.root.join(&id).exists(), "{point}: state left");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&id), "{point}: mount left");
        println!("ok {point}");
    }
}
