//! Resources, devices, BPF, freezer and stats. Unit tests run on fake directory trees (the
//! only coverage of pure cgroup v2 on this hybrid host); `root_*` tests use real cgroups named
//! carrack-test-<pid>-<n>, removed by a guard even when an assert fails.

use super::devices::{self, Rule, State};
use super::resources::{apply_sites, Sites};
use super::*;
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn res(json: serde_json::Value) -> LinuxResources {
    serde_json::from_value(json).unwrap()
}

/// A fake cgroup dir: `files` created with their contents.
fn fake(root: &Path, rel: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = root.join(rel);
    fs::create_dir_all(&d).unwrap();
    for (f, v) in files {
        fs::write(d.join(f), v).unwrap();
    }
    d
}

fn cat(d: &Path, f: &str) -> String {
    fs::read_to_string(d.join(f)).unwrap().trim().to_string()
}

fn dir(h: &str, path: &Path, created: Vec<PathBuf>) -> CgroupDir {
    CgroupDir {
        hierarchy: h.into(),
        path: path.to_path_buf(),
        created,
    }
}

// ---- conversions and planners ----

#[test]
fn cpu_weight_matches_runc_points() {
    assert_eq!(v2::cpu_weight(0), 0);
    assert_eq!(v2::cpu_weight(2), 1);
    assert_eq!(
        v2::cpu_weight(1024),
        100,
        "the defaults map onto each other"
    );
    assert_eq!(v2::cpu_weight(262_144), 10_000);
    assert_eq!(v2::cpu_weight(1_000_000), 10_000);
    let mut last = 0;
    for s in (2..262_144).step_by(997) {
        let w = v2::cpu_weight(s);
        assert!(w >= last && (1..=10_000).contains(&w), "{s} -> {w}");
        last = w;
    }
    assert_eq!(v2::io_weight(10), 1);
    assert_eq!(v2::io_weight(1000), 10_000);
    assert_eq!(v2::io_weight(500), 1 + 490 * 9999 / 990);
}

#[test]
fn swap_conversion_follows_runc() {
    assert_eq!(
        v2::swap_value(0, -1),
        Ok(-1),
        "unlimited memory => unlimited swap"
    );
    assert_eq!(v2::swap_value(-1, 100), Ok(-1));
    assert_eq!(v2::swap_value(0, 100), Ok(0));
    assert_eq!(v2::swap_value(300, 100), Ok(200), "memsw minus memory");
    assert_eq!(v2::swap_value(100, 100), Ok(0));
    assert!(v2::swap_value(50, 100).is_err());
    assert!(v2::swap_value(50, 0).is_err());
}

#[test]
fn v1_memory_orders_swap_and_limit_by_current_limit() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(
        t.path(),
        "m",
        &[
            ("memory.limit_in_bytes", "1000\n"),
            ("memory.memsw.limit_in_bytes", "1000\n"),
        ],
    );
    let files = |r: serde_json::Value| -> Vec<(String, String)> {
        let r = res(json!({ "memory": r }));
        v1::memory(&d, r.memory().as_ref().unwrap())
            .unwrap()
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect()
    };
    use serde_json::json;
    let p = |f: &str, v: &str| (f.to_string(), v.to_string());
    assert_eq!(
        files(json!({"limit": 2000, "swap": 3000})),
        vec![
            p("memory.memsw.limit_in_bytes", "3000"),
            p("memory.limit_in_bytes", "2000")
        ],
        "raising: memsw first"
    );
    assert_eq!(
        files(json!({"limit": 500, "swap": 800})),
        vec![
            p("memory.limit_in_bytes", "500"),
            p("memory.memsw.limit_in_bytes", "800")
        ],
        "lowering: limit first"
    );
    assert_eq!(
        files(json!({"limit": -1})),
        vec![
            p("memory.memsw.limit_in_bytes", "-1"),
            p("memory.limit_in_bytes", "-1")
        ],
        "unlimited memory means unlimited memsw"
    );
    assert_eq!(
        files(
            json!({"reservation": 7, "swappiness": 0, "disableOOMKiller": true, "useHierarchy": true})
        ),
        vec![
            p("memory.soft_limit_in_bytes", "7"),
            p("memory.oom_control", "1"),
            p("memory.swappiness", "0"),
            p("memory.use_hierarchy", "1")
        ]
    );
    let r = res(json!({"memory": {"swappiness": 101}}));
    let e = v1::memory(&d, r.memory().as_ref().unwrap()).unwrap_err();
    assert!(
        e.to_string()
            .contains("linux.resources.memory.swappiness 101"),
        "{e}"
    );
}

#[test]
fn v1_cpu_defers_partners_and_verifies_shares() {
    let r = res(
        serde_json::json!({"cpu": {"shares": 512, "quota": 5000, "period": 10000,
        "burst": 1000, "realtimeRuntime": 10, "realtimePeriod": 100, "idle": 0}}),
    );
    let w = v1::cpu(r.cpu().as_ref().unwrap());
    let files: Vec<&str> = w.iter().map(|w| w.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_burst_us",
            "cpu.cfs_quota_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpu.idle"
        ]
    );
    assert!(w[0].verify);
    assert!(w[1].retry_einval && w[2].retry_einval && w[4].retry_einval);
    let lone = res(serde_json::json!({"cpu": {"period": 10000}}));
    assert!(
        !v1::cpu(lone.cpu().as_ref().unwrap())[0].retry_einval,
        "no partner, no retry"
    );
}

#[test]
fn v2_cpu_max_keeps_quota_for_a_lone_period() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(t.path(), "c", &[("cpu.max", "50000 100000\n")]);
    let plan = |j| {
        let r = res(j);
        v2::cpu(&d, r.cpu().as_ref().unwrap())
    };
    let w = plan(serde_json::json!({"cpu": {"period": 20000}})).unwrap();
    assert_eq!(
        (w[0].file.as_str(), w[0].value.as_str()),
        ("cpu.max", "50000 20000")
    );
    let w = plan(serde_json::json!({"cpu": {"quota": -1}})).unwrap();
    assert_eq!(w[0].value, "max");
    let w =
        plan(serde_json::json!({"cpu": {"quota": 30000, "burst": 5, "shares": 1024, "idle": 1}}))
            .unwrap();
    let fv: Vec<(&str, &str)> = w
        .iter()
        .map(|w| (w.file.as_str(), w.value.as_str()))
        .collect();
    assert_eq!(
        fv,
        [
            ("cpu.idle", "1"),
            ("cpu.weight", "100"),
            ("cpu.max", "30000"),
            ("cpu.max.burst", "5")
        ]
    );
    let e = plan(serde_json::json!({"cpu": {"realtimeRuntime": 5}})).unwrap_err();
    assert!(e.to_string().contains("realtime"), "{e}");
}

#[test]
fn v2_memory_swap_and_check_before_update() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(t.path(), "m", &[("memory.current", "5000\n")]);
    let plan = |j| {
        let r = res(serde_json::json!({ "memory": j }));
        v2::memory(&d, r.memory().as_ref().unwrap())
    };
    let w = plan(serde_json::json!({"limit": 4096, "swap": 4096})).unwrap();
    let fv: Vec<(&str, &str)> = w
        .iter()
        .map(|w| (w.file.as_str(), w.value.as_str()))
        .collect();
    assert_eq!(fv, [("memory.swap.max", "0"), ("memory.max", "4096")]);
    assert!(w[0].ok_if_missing, "no swap accounting: 0 is already true");
    let w = plan(serde_json::json!({"limit": 4096, "swap": 10000, "reservation": -1})).unwrap();
    assert_eq!(w[0].value, "5904");
    assert!(!w[0].ok_if_missing);
    assert_eq!(
        (w[2].file.as_str(), w[2].value.as_str()),
        ("memory.low", "max")
    );
    let e = plan(serde_json::json!({"limit": 4096, "checkBeforeUpdate": true})).unwrap_err();
    assert!(
        e.to_string().contains("below the current usage 5000"),
        "{e}"
    );
    plan(serde_json::json!({"limit": 8192, "checkBeforeUpdate": true})).unwrap();
    let e = plan(serde_json::json!({"limit": 100, "swap": 50})).unwrap_err();
    assert!(
        e.to_string().starts_with("linux.resources.memory.swap 50"),
        "{e}"
    );
}

#[test]
fn v2_io_prefers_bfq_and_converts_otherwise() {
    let t = tempfile::tempdir().unwrap();
    let plain = fake(t.path(), "plain", &[]);
    let bfq = fake(t.path(), "bfq", &[("io.bfq.weight", "default 100\n")]);
    let r = res(
        serde_json::json!({"blockIO": {"weight": 500, "leafWeight": 10,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 20}],
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 7}]}}),
    );
    let b = r.block_io().as_ref().unwrap();
    let fv = |d: &Path| -> Vec<(String, String)> {
        v2::io(d, b)
            .into_iter()
            .map(|w| (w.file, w.value))
            .collect()
    };
    let p = |f: &str, v: &str| (f.to_string(), v.to_string());
    assert_eq!(
        fv(&plain),
        [
            p("io.weight", &v2::io_weight(500).to_string()),
            p("io.weight", &format!("8:0 {}", v2::io_weight(20))),
            p("io.max", "8:0 rbps=1000"),
            p("io.max", "8:16 wiops=7")
        ]
    );
    assert_eq!(
        fv(&bfq)[..2],
        [p("io.bfq.weight", "500"), p("io.bfq.weight", "8:0 20")]
    );
    assert!(v2::io_ignored(b));
}

#[test]
fn v1_blkio_uses_bfq_names_without_cfq() {
    let t = tempfile::tempdir().unwrap();
    let bfq = fake(t.path(), "b", &[("blkio.bfq.weight", "100")]);
    let r = res(serde_json::json!({"blockIO": {"weight": 300,
        "weightDevice": [{"major": 8, "minor": 0, "weight": 20, "leafWeight": 30}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 99}]}}));
    let fv: Vec<(String, String)> = v1::blkio(&bfq, r.block_io().as_ref().unwrap())
        .into_iter()
        .map(|w| (w.file, w.value))
        .collect();
    let p = |f: &str, v: &str| (f.to_string(), v.to_string());
    assert_eq!(
        fv,
        [
            p("blkio.bfq.weight", "300"),
            p("blkio.bfq.weight_device", "8:0 20"),
            p("blkio.leaf_weight_device", "8:0 30"),
            p("blkio.throttle.write_bps_device", "8:0 99")
        ]
    );
}

#[test]
fn unified_keys_are_validated_against_the_dir() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(
        t.path(),
        "u",
        &[
            ("cgroup.controllers", "memory io\n"),
            ("memory.high", "max\n"),
        ],
    );
    let m = |k: &str| HashMap::from([(k.to_string(), "1".to_string())]);
    let w = v2::unified(&d, &m("memory.high")).unwrap();
    assert_eq!(w[0].field, "linux.resources.unified[\"memory.high\"]");
    for (key, want) in [
        ("pids.max", "controller \"pids\" is not available"),
        ("memory.nosuch", "no such file"),
        ("../memory.high", "not a cgroup file name"),
        ("noDot", "CONTROLLER.PARAMETER"),
    ] {
        let e = v2::unified(&d, &m(key)).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains(key), "{key}: {e}");
    }
}

// ---- executor and routing on fake trees ----

#[test]
fn write_errors_name_field_value_and_file() {
    let t = tempfile::tempdir().unwrap();
    let w = write::Write::new(
        "linux.resources.memory.limit",
        1024,
        "memory.limit_in_bytes",
        1024,
    );
    let e = write::run(t.path(), &[w]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "linux.resources.memory.limit 1024: write {}/memory.limit_in_bytes: No such file or directory",
            t.path().display()
        )
    );
    let sneaky = write::Write::new(
        "linux.resources.hugepageLimits[0]",
        "x",
        "hugetlb.2MB/../../etc.limit_in_bytes",
        1,
    );
    let e = write::run(t.path(), &[sneaky]).unwrap_err().to_string();
    assert!(e.contains("is not a cgroup file name"), "{e}");
    let quiet = write::Write::new("f", 0, "absent", 0).ok_if_missing();
    write::run(t.path(), &[quiet]).unwrap();
    fs::write(t.path().join("cpu.shares"), "").unwrap();
    let clamped = write::Write::new("linux.resources.cpu.shares", 1, "cpu.shares", 1).verify();
    write::run(t.path(), &[clamped]).unwrap();
}

/// A pure v2 tree: root (holds the mount's files) > parent > container.
fn fake_v2(t: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let all = "cpuset cpu io memory hugetlb pids rdma\n";
    let top = fake(
        t,
        "root",
        &[("cgroup.controllers", all), ("cgroup.subtree_control", "")],
    );
    let mid = fake(
        t,
        "root/parent",
        &[("cgroup.controllers", all), ("cgroup.subtree_control", "")],
    );
    let leaf = fake(
        t,
        "root/parent/c1",
        &[
            ("cgroup.controllers", all),
            ("cgroup.subtree_control", ""),
            ("memory.max", ""),
            ("memory.swap.max", ""),
            ("memory.low", ""),
            ("memory.current", "0"),
            ("cpu.weight", ""),
            ("cpu.max", "max 100000"),
            ("cpu.max.burst", ""),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("pids.max", ""),
            ("io.weight", ""),
            ("io.max", ""),
            ("hugetlb.2MB.max", ""),
            ("rdma.max", ""),
            ("memory.high", ""),
        ],
    );
    (top, mid, leaf)
}

#[test]
fn fake_pure_v2_apply_writes_converted_values_and_enables_controllers() {
    let t = tempfile::tempdir().unwrap();
    let (top, mid, leaf) = fake_v2(t.path());
    let cg = Cgroup {
        dirs: vec![dir("unified", &leaf, vec![leaf.clone()])],
        unit: None,
    };
    let r = res(serde_json::json!({
        "memory": {"limit": 1048576, "swap": 2097152, "reservation": 4096, "kernel": 1},
        "cpu": {"shares": 2048, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "blockIO": {"weight": 1000, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 5}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
        "rdma": {"mlx5_0": {"hcaHandles": 3, "hcaObjects": 100}},
        "unified": {"memory.high": "9999"}
    }));
    apply_sites(&Sites::of(&cg, true), &r, false).unwrap();
    let enabled = "+cpu +cpuset +hugetlb +io +memory +pids +rdma";
    assert_eq!(
        cat(&top, "cgroup.subtree_control"),
        enabled,
        "pure v2: whole chain"
    );
    assert_eq!(cat(&mid, "cgroup.subtree_control"), enabled);
    assert_eq!(cat(&leaf, "cgroup.subtree_control"), "", "never the leaf");
    for (f, v) in [
        ("memory.max", "1048576"),
        ("memory.swap.max", "1048576"),
        ("memory.low", "4096"),
        ("cpu.weight", &v2::cpu_weight(2048).to_string()),
        ("cpu.max", "20000 100000"),
        ("cpuset.cpus", "0"),
        ("cpuset.mems", "0"),
        ("pids.max", "42"),
        ("io.weight", "10000"),
        ("io.max", "8:0 rbps=5"),
        ("hugetlb.2MB.max", "4194304"),
        ("rdma.max", "mlx5_0 hca_handle=3 hca_object=100"),
        ("memory.high", "9999"),
    ] {
        assert_eq!(cat(&leaf, f), v, "{f}");
    }
    let net = res(serde_json::json!({"network": {"classID": 7}}));
    let e = apply_sites(&Sites::of(&cg, true), &net, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("linux.resources.network.classID: no net_cls cgroup"),
        "{e}"
    );
}

#[test]
fn fake_hybrid_routes_v1_controllers_and_leaves_foreign_v2_parents() {
    let t = tempfile::tempdir().unwrap();
    // Fake files are overwritten in place, not truncated: start them empty.
    let mem = fake(
        t.path(),
        "memory/c1",
        &[
            ("memory.limit_in_bytes", ""),
            ("memory.memsw.limit_in_bytes", ""),
        ],
    );
    let pids = fake(t.path(), "pids/c1", &[("pids.max", "max")]);
    let (top, mid, leaf) = fake_v2(&t.path().join("unified"));
    // Only the leaf was made by carrack: the host's cgroup2 parents stay untouched.
    let cg = Cgroup {
        dirs: vec![
            dir("memory", &mem, vec![]),
            dir("pids", &pids, vec![]),
            dir("unified", &leaf, vec![leaf.clone()]),
        ],
        unit: None,
    };
    let r = res(
        serde_json::json!({"memory": {"limit": 1000000}, "pids": {"limit": -1},
        "unified": {"memory.high": "77"}}),
    );
    apply_sites(&Sites::of(&cg, true), &r, false).unwrap();
    assert_eq!(cat(&mem, "memory.limit_in_bytes"), "1000000");
    assert_eq!(cat(&pids, "pids.max"), "max");
    assert_eq!(
        cat(&leaf, "memory.max"),
        "",
        "memory is served by v1 on hybrid"
    );
    assert_eq!(
        cat(&leaf, "memory.high"),
        "77",
        "unified keys go to the v2 dir"
    );
    assert_eq!(cat(&top, "cgroup.subtree_control"), "");
    assert_eq!(cat(&mid, "cgroup.subtree_control"), "");
    let cpu = res(serde_json::json!({"cpu": {"shares": 100}}));
    // cpu is enabled in the fake leaf's cgroup.controllers, so it is served there...
    apply_sites(&Sites::of(&cg, true), &cpu, false).unwrap();
    assert_eq!(cat(&leaf, "cpu.weight"), v2::cpu_weight(100).to_string());
    // ...but not without it.
    fs::write(leaf.join("cgroup.controllers"), "memory\n").unwrap();
    let e = apply_sites(&Sites::of(&cg, true), &cpu, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("linux.resources.cpu: no cpu cgroup") && e.contains("\"cpu\" is not enabled"),
        "{e}"
    );
}

// ---- devices ----

fn rule(allow: bool, typ: char, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
    let a = [
        ('r', devices::READ),
        ('w', devices::WRITE),
        ('m', devices::MKNOD),
    ]
    .iter()
    .filter(|(c, _)| access.contains(*c))
    .fold(0, |acc, (_, b)| acc | b);
    Rule {
        allow,
        typ,
        major,
        minor,
        access: a,
    }
}

#[test]
fn device_rules_fold_like_the_v1_kernel() {
    let cfg: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
        serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"},
            {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"},
            {"allow": true, "type": "p", "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "access": "r"}
        ]))
        .unwrap();
    let rules = devices::rules(&cfg).unwrap();
    assert_eq!(rules[0].0, "linux.resources.devices (initial deny-all)");
    assert_eq!(rules[2].0, "linux.resources.devices[1]");
    assert_eq!(rules[3].1.v1_line(), "c 10:200 w");
    assert_eq!(rules[4].1.v1_line(), "b 8:* r", "the fifo rule is dropped");
    let s = State::from_rules(rules.iter().map(|(_, r)| r));
    assert!(!s.default_allow);
    assert!(s.permits('c', 10, 200, devices::READ));
    assert!(!s.permits('c', 10, 200, devices::WRITE), "w removed");
    assert!(s.permits('b', 8, 3, devices::READ));
    assert!(!s.permits('b', 8, 3, devices::READ | devices::WRITE));
    assert!(
        s.permits('c', 1, 3, devices::READ | devices::WRITE),
        "default /dev/null"
    );
    assert!(s.permits('c', 136, 7, devices::WRITE), "ptys");
    assert!(s.permits('b', 1, 1, devices::MKNOD), "mknod of anything");
    assert!(!s.permits('c', 1, 11, devices::READ), "kmsg not allowed");
    let allow_all = State::from_rules(&[
        rule(true, 'a', None, None, "rwm"),
        rule(false, 'c', Some(1), Some(11), "w"),
    ]);
    assert!(allow_all.default_allow);
    assert!(allow_all.permits('c', 1, 11, devices::READ));
    assert!(!allow_all.permits('c', 1, 11, devices::READ | devices::WRITE));
    let bad: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
        serde_json::from_value(serde_json::json!([{"allow": true, "access": "rx"}])).unwrap();
    let e = devices::rules(&bad).unwrap_err().to_string();
    assert!(
        e.contains("linux.resources.devices[0].access \"rx\""),
        "{e}"
    );
}

#[test]
fn devices_list_round_trip_and_unchanged_skip() {
    let rules = devices::rules(&[]).unwrap();
    let s = State::from_rules(rules.iter().map(|(_, r)| r));
    let list: String = s
        .exceptions
        .iter()
        .rev()
        .map(|e| format!("{}\n", e.v1_line()))
        .collect();
    let parsed = State::parse_list(&list).unwrap();
    assert!(parsed.same_deny_policy(&s), "order does not matter");
    assert!(devices::v1_writes(&rules, Some(&list)).is_empty());
    let w = devices::v1_writes(&rules, Some("a *:* rwm\n"));
    assert_eq!(w.len(), rules.len());
    assert_eq!(
        (w[0].file.as_str(), w[0].value.as_str()),
        ("devices.deny", "a *:* rwm")
    );
    assert_eq!(w[1].file, "devices.allow");
    assert!(State::parse_list("a *:* rwm\n").unwrap().default_allow);
}

#[test]
fn bpf_program_agrees_with_the_kernel_model() {
    let deny = devices::rules(
        &serde_json::from_value::<Vec<_>>(serde_json::json!([
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"},
            {"allow": true, "type": "b", "major": 8, "access": "r"}
        ]))
        .unwrap(),
    )
    .unwrap();
    let states = [
        State::from_rules(deny.iter().map(|(_, r)| r)),
        State::from_rules(&[
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'c', Some(1), Some(11), "w"),
            rule(false, 'b', None, Some(0), "rwm"),
        ]),
        State::default(),
        State::from_rules(&[rule(true, 'a', None, None, "rwm")]),
    ];
    for s in &states {
        let prog = bpf::program(s);
        for typ in ['b', 'c'] {
            for major in [0, 1, 5, 8, 10, 136, 4095] {
                for minor in [0, 2, 3, 11, 200, 1 << 19] {
                    for access in 1..8u8 {
                        let want = s.permits(typ, major, minor, access);
                        let got = bpf::interpret(&prog, typ, major, minor, access).unwrap();
                        assert_eq!(got, u64::from(want), "{s:?} {typ} {major}:{minor} {access}");
                    }
                }
            }
        }
    }
}

// ---- freezer and stats on fake v2 ----

#[test]
fn fake_v2_freeze_waits_for_events_and_thaws_on_timeout() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(
        t.path(),
        "f",
        &[
            ("cgroup.freeze", "0"),
            ("cgroup.events", "populated 1\nfrozen 1\n"),
        ],
    );
    let f = freezer::Freezer::V2(&d);
    f.freeze(Duration::from_millis(50)).unwrap();
    assert_eq!(cat(&d, "cgroup.freeze"), "1");
    assert!(f.is_frozen());
    fs::write(d.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    let e = f.freeze(Duration::from_millis(50)).unwrap_err().to_string();
    assert!(e.contains("did not freeze"), "{e}");
    assert_eq!(cat(&d, "cgroup.freeze"), "0", "thawed after the timeout");
    assert!(!f.is_frozen());
}

#[test]
fn fake_v2_stats_shape() {
    let t = tempfile::tempdir().unwrap();
    let d = fake(
        t.path(),
        "s",
        &[
            ("cgroup.controllers", "cpu memory pids io hugetlb cpuset\n"),
            ("cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 3\nnr_throttled 1\nthrottled_usec 4\n"),
            ("memory.current", "8192\n"),
            ("memory.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n"),
            ("memory.stat", "anon 4096\nfile 100\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "0\n"),
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            ("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"),
            ("hugetlb.2MB.current", "0\n"),
            ("hugetlb.2MB.max", "max\n"),
            ("hugetlb.2MB.events", "max 1\n"),
            ("cpuset.cpus.effective", "0-1,3\n"),
            ("cpuset.mems.effective", "0\n"),
        ],
    );
    let cg = Cgroup {
        dirs: vec![dir("unified", &d, vec![])],
        unit: None,
    };
    let v = cg.stats().unwrap();
    assert_eq!(v["cpu"]["usage"]["total"], 7000);
    assert_eq!(v["cpu"]["usage"]["kernel"], 2000);
    assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 1);
    assert_eq!(v["cpu"]["throttling"]["throttledTime"], 4000);
    assert_eq!(v["cpuset"]["cpus"], serde_json::json!([0, 1, 3]));
    assert_eq!(v["memory"]["usage"]["usage"], 8192);
    assert_eq!(v["memory"]["usage"]["limit"], u64::MAX);
    assert_eq!(v["memory"]["usage"]["failcnt"], 2);
    assert_eq!(v["memory"]["cache"], 100);
    assert_eq!(v["memory"]["raw"]["anon"], 4096);
    assert_eq!(
        v["pids"],
        serde_json::json!({"current": 3}),
        "max limit reads as 0, omitted"
    );
    assert_eq!(
        v["blkio"]["ioServiceBytesRecursive"],
        serde_json::json!([
            {"major": 8, "op": "Read", "value": 10},
            {"major": 8, "op": "Write", "value": 20}
        ])
    );
    assert_eq!(v["hugetlb"]["2MB"], serde_json::json!({"failcnt": 1}));
    assert!(v["network_interfaces"].is_null());
}

#[test]
fn stat_parsers() {
    assert_eq!(stats::parse_list("0-2,5\n"), vec![0, 1, 2, 5]);
    assert!(stats::parse_list("").is_empty());
    let e = stats::v1_blkio_entries("254:0 Read 4096\n254:0 Write 0\nTotal 4096\n");
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0],
        serde_json::json!({"major": 254, "op": "Read", "value": 4096})
    );
    assert_eq!(e[1], serde_json::json!({"major": 254, "op": "Write"}));
    assert_eq!(stats::flat_keyed("a 1\nb x\nc 3")["c"], 3);
}

// ---- root tests on real cgroups: v1 and hybrid here; pure v2 (the `v2dir` branches) runs
// only in the VM harness ----

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "carrack-test-{}-r{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

use crate::testutil::skip;

macro_rules! root_only {
    () => {
        if let Some((fact, r)) = super::tests::skip_reason() {
            skip(fact, r);
            return;
        }
    };
}

/// Removes the cgroup and kills our children even when an assert fails.
struct Guard {
    cg: Cgroup,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.signal_all(libc::SIGKILL);
        if let Err(e) = self.cg.remove() {
            eprintln!("guard: {e:#}");
        }
    }
}

fn made() -> Guard {
    let mut cg = Cgroup::plan(Some(Path::new(&format!("/{}", unique()))), "x").unwrap();
    let mut g = Guard {
        cg: cg.clone(),
        children: Vec::new(),
    };
    let r = cg.create();
    g.cg = cg;
    r.unwrap();
    g
}

fn v1dir(cg: &Cgroup, ctrl: &str) -> Option<PathBuf> {
    cg.dirs
        .iter()
        .find(|d| d.hierarchy != "unified" && v1::has_controller(&d.hierarchy, ctrl))
        .map(|d| d.path.clone())
}

fn unified_dir(cg: &Cgroup) -> Option<PathBuf> {
    cg.dirs
        .iter()
        .find(|d| d.hierarchy == "unified")
        .map(|d| d.path.clone())
}

/// The v2 dir on a pure v2 host (where it serves every controller).
fn v2dir(cg: &Cgroup) -> Option<PathBuf> {
    (detect_layout().ok() == Some(Layout::Unified))
        .then(|| unified_dir(cg))
        .flatten()
}

/// `sh -c script` placed in the cgroup before it runs past `read go`.
fn spawn_in(g: &mut Guard, script: &str) -> i32 {
    let mut c = Command::new("sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = c.id() as i32;
    let mut stdin = c.stdin.take().unwrap();
    g.children.push(c);
    g.cg.add_pid(pid).unwrap();
    stdin.write_all(b"go\n").unwrap();
    pid
}

fn output_of(g: &mut Guard) -> String {
    let c = g.children.last_mut().unwrap();
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    c.stderr.take().unwrap().read_to_string(&mut out).unwrap();
    c.wait().unwrap();
    out
}

fn proc_state(pid: i32) -> char {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..].chars().next().unwrap()
}

fn cpu_ticks(pid: i32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s[s.rfind(')').unwrap() + 2..].split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// First line of a cgroup file, for comparisons.
fn first_line(d: &Path, f: &str) -> String {
    cat(d, f).lines().next().unwrap_or("").to_string()
}

#[test]
fn root_memory_cpu_pids_values_land_in_the_files() {
    root_only!();
    let g = made();
    let mut r = serde_json::json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                   "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true,
                   "kernel": 1048576, "kernelTCP": 1048576},
        "cpu": {"shares": 512, "quota": 25000, "period": 50000, "burst": 1000,
                "realtimeRuntime": 1000, "realtimePeriod": 1000000, "idle": 0,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 33}
    });
    if let Some(d) = v2dir(&g.cg) {
        // No RT bandwidth on v2 (an error, tested with the fakes).
        r["cpu"].as_object_mut().unwrap().remove("realtimeRuntime");
        r["cpu"].as_object_mut().unwrap().remove("realtimePeriod");
        g.cg.apply(&res(r)).unwrap();
        for (f, want) in [
            ("memory.max", "67108864".to_string()),
            ("memory.low", "33554432".into()),
            ("cpu.weight", v2::cpu_weight(512).to_string()),
            ("cpu.max", "25000 50000".into()),
            ("cpu.max.burst", "1000".into()),
            ("cpuset.cpus", "0".into()),
            ("cpuset.mems", "0".into()),
            ("pids.max", "33".into()),
        ] {
            assert_eq!(first_line(&d, f), want, "{}", d.join(f).display());
        }
        if d.join("memory.swap.max").exists() {
            assert_eq!(first_line(&d, "memory.swap.max"), "67108864");
        }
        return;
    }
    g.cg.apply(&res(r)).unwrap();
    let mut checked = 0;
    let mut check = |ctrl: &str, f: &str, want: &str| {
        let Some(d) = v1dir(&g.cg, ctrl) else {
            skip("no-v1-hierarchy", &format!("no {ctrl} hierarchy"));
            return;
        };
        assert_eq!(first_line(&d, f), want, "{}", d.join(f).display());
        checked += 1;
    };
    check("memory", "memory.limit_in_bytes", "67108864");
    check("memory", "memory.soft_limit_in_bytes", "33554432");
    check("memory", "memory.memsw.limit_in_bytes", "134217728");
    check("memory", "memory.swappiness", "10");
    check("memory", "memory.oom_control", "oom_kill_disable 1");
    check("memory", "memory.use_hierarchy", "1");
    check("cpu", "cpu.shares", "512");
    check("cpu", "cpu.cfs_quota_us", "25000");
    check("cpu", "cpu.cfs_period_us", "50000");
    check("cpu", "cpu.cfs_burst_us", "1000");
    check("cpu", "cpu.rt_runtime_us", "1000");
    check("cpu", "cpu.rt_period_us", "1000000");
    check("cpu", "cpu.idle", "0");
    check("cpuset", "cpuset.cpus", "0");
    check("cpuset", "cpuset.mems", "0");
    check("pids", "pids.max", "33");
    assert!(checked >= 10, "too few hierarchies to mean anything");

    // Raise both (memsw must go first), then lower both (limit first): each order is
    // refused by the kernel if done the other way round.
    let up = res(serde_json::json!({"memory": {"limit": 268435456, "swap": 536870912}}));
    g.cg.apply(&up).unwrap();
    let down = res(serde_json::json!({"memory": {"limit": 33554432, "swap": 50331648}}));
    g.cg.apply(&down).unwrap();
    if let Some(d) = v1dir(&g.cg, "memory") {
        assert_eq!(cat(&d, "memory.limit_in_bytes"), "33554432");
        assert_eq!(cat(&d, "memory.memsw.limit_in_bytes"), "50331648");
    }
    let free = res(serde_json::json!({"memory": {"limit": -1}, "pids": {"limit": -1}}));
    g.cg.apply(&free).unwrap();
    if let Some(d) = v1dir(&g.cg, "pids") {
        assert_eq!(cat(&d, "pids.max"), "max");
    }
}

#[test]
fn root_refused_values_name_field_and_file() {
    root_only!();
    let mut g = made();
    let quota = res(serde_json::json!({"cpu": {"quota": 500}}));
    if let Some(d) = v2dir(&g.cg) {
        let e = g.cg.apply(&quota).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "linux.resources.cpu.quota/period 500/0: write {}/cpu.max: Invalid argument",
                d.display()
            )
        );
        return;
    }
    let Some(cpu) = v1dir(&g.cg, "cpu") else {
        skip("no-v1-hierarchy", "no cpu hierarchy");
        return;
    };
    let e = g.cg.apply(&quota).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "linux.resources.cpu.quota 500: write {}/cpu.cfs_quota_us: Invalid argument",
            cpu.display()
        )
    );
    let e =
        g.cg.apply(&res(serde_json::json!({"cpu": {"shares": 1}})))
            .unwrap_err()
            .to_string();
    assert!(
        e.contains("linux.resources.cpu.shares 1") && e.contains("holds 2"),
        "{e}"
    );

    // A limit below what the process holds, with no swap to push it to: EBUSY.
    let swap = fs::read_to_string("/proc/swaps").unwrap().lines().count() > 1;
    if let (Some(mem), false) = (v1dir(&g.cg, "memory"), swap) {
        spawn_in(&mut g, "exec sleep 60");
        let deadline = Instant::now() + Duration::from_secs(5);
        while cat(&mem, "memory.usage_in_bytes") == "0" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let e =
            g.cg.apply(&res(serde_json::json!({"memory": {"limit": 4096}})))
                .unwrap_err()
                .to_string();
        assert_eq!(
            e,
            format!(
                "linux.resources.memory.limit 4096: write {}/memory.limit_in_bytes: Device or resource busy",
                mem.display()
            )
        );
    } else if swap {
        skip(
            "swap-on",
            "the memory EBUSY check needs a host without swap",
        );
    } else {
        skip(
            "no-v1-hierarchy",
            "the memory EBUSY check needs a v1 memory hierarchy",
        );
    }
}

#[test]
fn root_fields_this_host_cannot_serve_are_named() {
    root_only!();
    let g = made();
    let v2 = v2dir(&g.cg)
        .map(|d| v2::controllers(&d))
        .unwrap_or_default();
    let cases = [
        (
            "hugetlb",
            serde_json::json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}),
            "linux.resources.hugepageLimits",
        ),
        (
            "net_cls",
            serde_json::json!({"network": {"classID": 1}}),
            "linux.resources.network.classID",
        ),
        (
            "net_prio",
            serde_json::json!({"network": {"priorities": [{"name": "lo", "priority": 1}]}}),
            "linux.resources.network.priorities",
        ),
        (
            "rdma",
            serde_json::json!({"rdma": {"mlx5_0": {"hcaHandles": 1}}}),
            "linux.resources.rdma",
        ),
    ];
    let mut refused = 0;
    for (ctrl, j, field) in cases {
        let r = res(j);
        let served = v1dir(&g.cg, ctrl).is_some() || v2.contains(ctrl);
        match g.cg.apply(&r) {
            Err(e) if !served => {
                let e = e.to_string();
                assert!(e.starts_with(field) && e.contains(ctrl), "{e}");
                refused += 1;
            }
            // Served: the value may still be refused (no such device), but by the file.
            Err(e) if served && ctrl == "rdma" => assert!(e.to_string().contains("rdma.max")),
            Ok(()) if served => {}
            other => panic!("{ctrl} served={served}: {other:?}"),
        }
    }
    eprintln!("{refused} unserved fields refused by name");
    // blkio weight needs CFQ or BFQ on v1: without them the error names the missing file.
    if let Some(b) = v1dir(&g.cg, "blkio") {
        let r = res(serde_json::json!({"blockIO": {"weight": 100}}));
        let has = b.join("blkio.weight").exists() || b.join("blkio.bfq.weight").exists();
        match g.cg.apply(&r) {
            Ok(()) => assert!(has),
            Err(e) => {
                assert!(!has);
                assert!(
                    e.to_string()
                        .starts_with("linux.resources.blockIO.weight 100: write"),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn root_blkio_throttle_and_unified_key() {
    root_only!();
    let g = made();
    let devno = fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
        .find_map(|e| fs::read_to_string(e.path().join("dev")).ok())
        .map(|s| s.trim().to_string());
    let target = match (v1dir(&g.cg, "blkio"), v2dir(&g.cg)) {
        (Some(b), _) => Some((b, false)),
        (None, Some(d)) => Some((d, true)),
        _ => None,
    };
    match (target, devno) {
        (Some((d, v2)), Some(dev)) => {
            let (ma, mi) = dev.split_once(':').unwrap();
            let (ma, mi): (i64, i64) = (ma.parse().unwrap(), mi.parse().unwrap());
            let r = res(serde_json::json!({"blockIO": {
                "throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 100}]}}));
            g.cg.apply(&r).unwrap();
            if v2 {
                let max = cat(&d, "io.max");
                assert!(
                    max.contains(&format!("{dev} rbps=1048576")) && max.contains("wiops=100"),
                    "{max}"
                );
            } else {
                assert_eq!(
                    cat(&d, "blkio.throttle.read_bps_device"),
                    format!("{dev} 1048576")
                );
                assert_eq!(
                    cat(&d, "blkio.throttle.write_iops_device"),
                    format!("{dev} 100")
                );
            }
        }
        (None, _) => skip("no-v1-hierarchy", "no blkio or io controller"),
        (_, None) => skip("no-block-device", "no block device"),
    }
    let Some(u) = unified_dir(&g.cg) else {
        skip("no-cgroup2", "no unified dir");
        return;
    };
    g.cg.apply(&res(
        serde_json::json!({"unified": {"cgroup.max.depth": "5"}}),
    ))
    .unwrap();
    assert_eq!(cat(&u, "cgroup.max.depth"), "5");
    if !v2::controllers(&u).contains("memory") {
        let e =
            g.cg.apply(&res(serde_json::json!({"unified": {"memory.high": "1"}})))
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("unified[\"memory.high\"]") && e.contains("not available"),
            "{e}"
        );
    } else {
        g.cg.apply(&res(
            serde_json::json!({"unified": {"memory.high": "12345678"}}),
        ))
        .unwrap();
        assert_eq!(cat(&u, "memory.high"), "12341248", "rounded down to pages");
    }
}

const DEVICE_PROBE: &str = "true </dev/null && echo null-ok; true </dev/kmsg || echo kmsg-denied";

#[test]
fn root_devices_policy_is_enforced() {
    root_only!();
    let mut g = made();
    let r = res(serde_json::json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
        {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "m"}
    ]}));
    if let Some(d) = v2dir(&g.cg) {
        g.cg.apply(&r).unwrap();
        g.cg.apply(&r).unwrap();
        assert_eq!(
            bpf::attached_count(&d).unwrap(),
            1,
            "update replaced the program"
        );
    } else {
        let Some(d) = v1dir(&g.cg, "devices") else {
            skip("no-v1-hierarchy", "no devices hierarchy");
            return;
        };
        g.cg.apply(&r).unwrap();
        let rules = devices::rules(r.devices().as_deref().unwrap()).unwrap();
        let want = State::from_rules(rules.iter().map(|(_, r)| r));
        let list = fs::read_to_string(d.join("devices.list")).unwrap();
        let got = State::parse_list(&list).unwrap();
        assert!(
            got.same_deny_policy(&want),
            "kernel:\n{list}\nmodel: {want:?}"
        );
        assert!(list.contains("c 10:200 rw\n"), "{list}");
        // Unchanged policy with a sub-cgroup present: a rewrite would fail with EINVAL.
        fs::create_dir(d.join("inner")).unwrap();
        let again = g.cg.apply(&r);
        let _ = fs::remove_dir(d.join("inner"));
        again.unwrap();
    }
    spawn_in(&mut g, DEVICE_PROBE);
    let out = output_of(&mut g);
    assert!(out.contains("null-ok"), "{out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("kmsg-denied"),
        "{out}"
    );
}

#[test]
fn root_bpf_device_program_on_the_unified_dir() {
    root_only!();
    let mut g = made();
    let Some(u) = unified_dir(&g.cg) else {
        skip("no-cgroup2", "no cgroup2 dir to attach to");
        return;
    };
    let deny = devices::rules(&[]).unwrap();
    let state = State::from_rules(deny.iter().map(|(_, r)| r));
    bpf::install(&u, &state).unwrap();
    assert_eq!(bpf::attached_count(&u).unwrap(), 1);
    spawn_in(&mut g, DEVICE_PROBE);
    let out = output_of(&mut g);
    assert!(out.contains("null-ok"), "{out}");
    assert!(out.contains("kmsg-denied"), "{out}");
    // Replacing: still one program, and the new policy is the one in force.
    let open = State::from_rules(&[rule(true, 'a', None, None, "rwm")]);
    bpf::install(&u, &open).unwrap();
    assert_eq!(
        bpf::attached_count(&u).unwrap(),
        1,
        "the old program was replaced"
    );
    spawn_in(&mut g, "true </dev/kmsg && echo kmsg-ok");
    let out = output_of(&mut g);
    assert!(out.contains("kmsg-ok"), "{out}");
}

#[test]
fn root_freeze_stops_and_thaw_resumes() {
    root_only!();
    let mut g = made();
    if g.cg.freezer().is_err() {
        skip("no-v1-hierarchy", "no freezer hierarchy and no cgroup2");
        return;
    }
    let sleeper = spawn_in(&mut g, "exec sleep 60");
    let spinner = spawn_in(&mut g, "while :; do :; done");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!g.cg.is_frozen());
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen());
    if let Some(d) = v1dir(&g.cg, "freezer") {
        assert_eq!(cat(&d, "freezer.state"), "FROZEN");
        for pid in [sleeper, spinner] {
            assert_eq!(proc_state(pid), 'D', "pid {pid} frozen");
        }
    }
    let t0 = cpu_ticks(spinner);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(spinner), t0, "a frozen spinner uses no CPU");
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen());
    std::thread::sleep(Duration::from_millis(300));
    assert!(cpu_ticks(spinner) > t0, "thawed spinner runs again");
    assert_eq!(proc_state(sleeper), 'S');
}

#[test]
fn root_stats_report_real_numbers() {
    root_only!();
    let mut g = made();
    g.cg.apply(&res(
        serde_json::json!({"pids": {"limit": 50}, "memory": {"limit": 104857600}}),
    ))
    .unwrap();
    // Work done after joining is charged to the cgroup.
    let pid = spawn_in(
        &mut g,
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo ready; exec sleep 60",
    );
    let mut line = String::new();
    BufReader::new(g.children.last_mut().unwrap().stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let v = g.cg.stats().unwrap();
    let v2 = v2dir(&g.cg).is_some();
    if v2 || v1dir(&g.cg, "memory").is_some() {
        assert!(v["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{v}");
        assert_eq!(v["memory"]["usage"]["limit"], 104857600);
        assert!(v["memory"]["raw"]
            .as_object()
            .is_some_and(|m| !m.is_empty()));
    }
    if v2 || v1dir(&g.cg, "pids").is_some() {
        assert_eq!(v["pids"], serde_json::json!({"current": 1, "limit": 50}));
    }
    if v2 || v1dir(&g.cg, "cpuacct").is_some() {
        assert!(
            v["cpu"]["usage"]["total"].as_u64().unwrap() > 1_000_000,
            "{v}"
        );
    }
    if let (Some(_), false) = (v1dir(&g.cg, "cpuacct"), v2) {
        let percpu = v["cpu"]["usage"]["percpu"].as_array().unwrap();
        assert!(!percpu.is_empty(), "{v}");
    }
    assert!(v["cpu"]["throttling"].is_object());
    assert!(v["cpuset"].is_object() && v["blkio"].is_object() && v["hugetlb"].is_object());
    assert!(g.cg.pids().unwrap().contains(&pid));
}

#[test]
fn root_sigkill_reaches_a_frozen_cgroup() {
    root_only!();
    let mut g = made();
    if g.cg.freezer().is_err() {
        skip("no-v1-hierarchy", "no freezer hierarchy and no cgroup2");
        return;
    }
    spawn_in(&mut g, "exec sleep 60");
    g.cg.freeze().unwrap();
    g.cg.signal_all(libc::SIGKILL).unwrap();
    let c = g.children.last_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(st) = c.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "frozen process survived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(
        !g.cg.is_frozen(),
        "left thawed so the cgroup can be removed"
    );
}

#[test]
fn root_v2_freezer_on_the_unified_dir() {
    root_only!();
    let mut g = made();
    let Some(u) = unified_dir(&g.cg) else {
        skip("no-cgroup2", "no cgroup2 dir");
        return;
    };
    if !u.join("cgroup.freeze").exists() {
        skip("no-cgroup-freeze", "kernel without cgroup.freeze");
        return;
    }
    let spinner = spawn_in(&mut g, "while :; do :; done");
    let f = freezer::Freezer::V2(&u);
    f.freeze(freezer::FREEZE_TIMEOUT).unwrap();
    assert!(f.is_frozen());
    assert!(cat(&u, "cgroup.events").contains("frozen 1"));
    let t0 = cpu_ticks(spinner);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(spinner), t0, "a frozen spinner uses no CPU");
    f.thaw().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(cpu_ticks(spinner) > t0, "thawed spinner runs again");
    assert!(!f.is_frozen());
}
