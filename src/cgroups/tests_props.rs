//! Property test of `update`'s resources (and config's `linux.resources`): whatever the JSON,
//! parsing and applying it on a fake cgroup tree (pure v2, and v1 hierarchies) give Ok or an
//! error naming the field; never a panic, never a file made in the tree.

use super::resources::{apply_sites, Sites};
use super::*;
use oci_spec::runtime::LinuxResources;
use serde_json::json;

/// Every resource group with a value, so that mutations reach each planner.
fn rich_resources() -> serde_json::Value {
    json!({
        "memory": {"limit": 1048576, "swap": 2097152, "reservation": 4096, "swappiness": 10,
                   "kernelTCP": 8192, "disableOOMKiller": false, "useHierarchy": true,
                   "checkBeforeUpdate": true},
        "cpu": {"shares": 2048, "quota": 20000, "period": 100000, "burst": 1000,
                "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "0", "mems": "0", "idle": 0},
        "pids": {"limit": 42},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 5}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 7}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "network": {"classID": 7, "priorities": [{"name": "eth0", "priority": 3}]},
        "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}},
        "unified": {"memory.high": "9999"}
    })
}

/// A dir of empty files (writes overwrite in place: empty files read back what was written);
/// again on the same dir, it resets the files.
fn fake_dir(d: &Path, files: &[&str], extra: &[(&str, &str)]) -> PathBuf {
    fs::create_dir_all(d).unwrap();
    for f in files {
        fs::write(d.join(f), "").unwrap();
    }
    for (f, v) in extra {
        fs::write(d.join(f), v).unwrap();
    }
    d.to_path_buf()
}

/// A container dir on a pure v2 host, its parent included (controllers get enabled there).
fn fake_v2(t: &Path) -> Cgroup {
    let all = "cpuset cpu io memory hugetlb pids rdma\n";
    let ctl = [("cgroup.controllers", all), ("cgroup.subtree_control", "")];
    fake_dir(&t.join("v2"), &[], &ctl);
    let leaf = t.join("v2/c1");
    let files = [
        "memory.max",
        "memory.swap.max",
        "memory.low",
        "memory.high",
        "cpu.weight",
        "cpu.max.burst",
        "cpu.idle",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "io.weight",
        "io.bfq.weight",
        "io.max",
        "hugetlb.2MB.max",
        "hugetlb.2MB.rsvd.max",
        "rdma.max",
    ];
    let mut extra = ctl.to_vec();
    extra.extend([("memory.current", "0"), ("cpu.max", "max 100000")]);
    fake_dir(&leaf, &files, &extra);
    Cgroup {
        dirs: vec![CgroupDir {
            hierarchy: "unified".into(),
            path: leaf.clone(),
            created: vec![leaf],
        }],
        unit: None,
    }
}

/// The container's dirs on v1 hierarchies.
fn fake_v1(t: &Path) -> Cgroup {
    let hierarchies: &[(&str, &[&str])] = &[
        (
            "memory",
            &[
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.soft_limit_in_bytes",
                "memory.swappiness",
                "memory.oom_control",
                "memory.use_hierarchy",
                "memory.kmem.tcp.limit_in_bytes",
            ],
        ),
        (
            "cpu,cpuacct",
            &[
                "cpu.shares",
                "cpu.cfs_quota_us",
                "cpu.cfs_period_us",
                "cpu.cfs_burst_us",
                "cpu.rt_runtime_us",
                "cpu.rt_period_us",
                "cpu.idle",
            ],
        ),
        ("cpuset", &["cpuset.cpus", "cpuset.mems"]),
        ("pids", &["pids.max"]),
        (
            "blkio",
            &[
                "blkio.weight",
                "blkio.leaf_weight",
                "blkio.weight_device",
                "blkio.leaf_weight_device",
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
            ],
        ),
        ("hugetlb", &["hugetlb.2MB.limit_in_bytes"]),
        (
            "net_cls,net_prio",
            &["net_cls.classid", "net_prio.ifpriomap"],
        ),
        ("rdma", &["rdma.max"]),
    ];
    let dirs = hierarchies
        .iter()
        .map(|(h, files)| CgroupDir {
            hierarchy: h.to_string(),
            path: fake_dir(&t.join(h).join("c1"), files, &[]),
            created: vec![],
        })
        .collect();
    Cgroup { dirs, unit: None }
}

/// Every path under `d`: what a planned write must never add to.
fn tree(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![d.to_path_buf()];
    if d.is_dir() {
        for e in fs::read_dir(d).unwrap().flatten() {
            out.extend(tree(&e.path()));
        }
    }
    out.sort();
    out
}

#[test]
fn random_resources_give_an_error_naming_the_field_or_apply() {
    use crate::mutate::{check, mutated};
    use proptest::prop_assert;
    // Each tree's base leaves out what it cannot serve: v2 has no net_cls/net_prio, and
    // `unified` needs a v2 dir.
    let without = |key: &str| {
        let mut v = rich_resources();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let fake_v1: fn(&Path) -> Cgroup = fake_v1;
    let trees = [(fake_v1, without("unified")), (fake_v2, without("network"))];
    for (fake, base) in trees {
        // One tree per kind, its files reset before each case.
        let t = tempfile::tempdir().unwrap();
        let parsed: LinuxResources = crate::config::from_json_value(&base).unwrap();
        apply_sites(&Sites::of(&fake(t.path()), true), &parsed, false)
            .expect("the base resources apply");
        check(file!(), 400, mutated(base.clone()), |v| {
            let v = v.0;
            let r: LinuxResources = match crate::config::from_json_value(&v) {
                Ok(r) => r,
                Err(e) => {
                    let msg = format!("{e:#}");
                    prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
                    return Ok(());
                }
            };
            let cg = fake(t.path());
            let before = tree(t.path());
            if let Err(e) = apply_sites(&Sites::of(&cg, true), &r, false) {
                let msg = format!("{e:#}");
                prop_assert!(
                    msg.starts_with("linux.resources") && !msg.contains('\n'),
                    "{msg:?}"
                );
            }
            prop_assert!(tree(t.path()) == before, "a file was made");
            Ok(())
        });
    }
}

/// A pageSize becomes part of a file name: anything but a size is refused before a write
/// (a `/` would leave the cgroup directory; found by the property test with "a\nb").
#[test]
fn a_hugepage_size_that_is_not_a_size_is_refused() {
    let t = tempfile::tempdir().unwrap();
    // "1ਸ਼": a character of three bytes across the cut before the unit panicked (found by the
    // property test in a CI-like run).
    for bad in ["a\nb", "2MB/../../x", "", "MB", "02MB", "2mb", "1ਸ਼", "ਸ਼"] {
        let r: LinuxResources = crate::config::from_json_value(
            &serde_json::json!({"hugepageLimits": [{"pageSize": bad, "limit": 4096}]}),
        )
        .unwrap();
        let cg = fake_v2(t.path());
        let err = apply_sites(&Sites::of(&cg, true), &r, false).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.starts_with("linux.resources.hugepageLimits[0].pageSize") && !msg.contains('\n'),
            "{bad:?}: {msg}"
        );
    }
    for good in ["2MB", "1GB", "64KB"] {
        assert!(super::resources::is_page_size(good), "{good}");
    }
}
