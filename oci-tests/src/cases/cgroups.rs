//! config-linux.md `linux.cgroupsPath` and `linux.resources`: each limit is read back from the
//! container's cgroup files on the host (v1 or v2, whichever this host has).

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, skip, Case, Ctx, Outcome, Res};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const CASES: &[Case] = &[
    Case {
        name: "cgroups_path",
        covers: &["linux.cgroupsPath"],
        run: path,
    },
    Case {
        name: "cgroups_memory_limit",
        covers: &["linux.resources.memory"],
        run: memory_limit,
    },
    Case {
        name: "cgroups_memory_reservation",
        covers: &["linux.resources.memory"],
        run: memory_reservation,
    },
    Case {
        name: "cgroups_memory_swap",
        covers: &["linux.resources.memory"],
        run: memory_swap,
    },
    Case {
        name: "cgroups_memory_swappiness_oom",
        covers: &["linux.resources.memory"],
        run: memory_v1_only,
    },
    Case {
        name: "cgroups_cpu_shares",
        covers: &["linux.resources.cpu"],
        run: cpu_shares,
    },
    Case {
        name: "cgroups_cpu_quota_period",
        covers: &["linux.resources.cpu"],
        run: cpu_quota,
    },
    Case {
        name: "cgroups_cpu_burst_idle",
        covers: &["linux.resources.cpu"],
        run: cpu_burst_idle,
    },
    Case {
        name: "cgroups_cpu_realtime",
        covers: &["linux.resources.cpu"],
        run: cpu_rt,
    },
    Case {
        name: "cgroups_cpuset",
        covers: &["linux.resources.cpu"],
        run: cpuset,
    },
    Case {
        name: "cgroups_pids",
        covers: &["linux.resources.pids"],
        run: pids,
    },
    Case {
        name: "cgroups_blkio_weight",
        covers: &["linux.resources.blockIO"],
        run: blkio_weight,
    },
    Case {
        name: "cgroups_blkio_throttle",
        covers: &["linux.resources.blockIO"],
        run: blkio_throttle,
    },
    Case {
        name: "cgroups_hugepage_limits",
        covers: &["linux.resources.hugepageLimits"],
        run: hugetlb,
    },
    Case {
        name: "cgroups_network",
        covers: &["linux.resources.network"],
        run: network,
    },
    Case {
        name: "cgroups_rdma",
        covers: &["linux.resources.rdma"],
        run: rdma,
    },
    Case {
        name: "cgroups_unified",
        covers: &["linux.resources.unified"],
        run: unified,
    },
    Case {
        name: "cgroups_devices_deny",
        covers: &["linux.resources.devices"],
        run: devices_deny,
    },
    Case {
        name: "cgroups_devices_allow",
        covers: &["linux.resources.devices"],
        run: devices_allow,
    },
    Case {
        name: "cgroups_removed_on_delete",
        covers: &["linux.cgroupsPath", "delete"],
        run: removed,
    },
];

/// A created (not started) container with `resources`, in its own cgroup named after its id.
struct Running {
    b: Bundle,
    id: String,
    pid: i64,
}

fn create(ctx: &Ctx, resources: Value) -> Res<Running> {
    let mut b = Bundle::new(ctx);
    b.args(&["/bin/sleep", "60"]);
    let mut res = b.config["linux"]["resources"].clone();
    for (k, v) in resources.as_object().unwrap() {
        res[k] = v.clone();
    }
    b.set("/linux/resources", res);
    let id = b.new_id();
    b.set("/linux/cgroupsPath", json!(cgroups_path(ctx, &id)));
    b.write();
    b.rt_bundle("create", &id, &[]).check("create")?;
    let pid = i(&b.state(&id)?, "/pid");
    Ok(Running { b, id, pid })
}

impl Running {
    fn dir(&self, ctx: &Ctx, controller: &str) -> Res<PathBuf> {
        ctx.host.cgroup_dir(self.pid, controller).ok_or_else(|| {
            Outcome::Skip(
                "no-controller",
                format!("no {controller} cgroup hierarchy on this host"),
            )
        })
    }
    /// The trimmed content of a cgroup file of the container.
    fn read(&self, ctx: &Ctx, controller: &str, file: &str) -> Res<String> {
        let p = self.dir(ctx, controller)?.join(file);
        std::fs::read_to_string(&p)
            .map(|s| s.trim().to_string())
            .or_else(|e| fail(format!("{}: {e}", p.display())))
    }
}

/// v1 file name, v2 file name, expected content of each.
fn expect(ctx: &Ctx, r: &Running, controller: &str, v1: (&str, &str), v2: (&str, &str)) -> Res {
    let (file, want) = if ctx.host.cgroup2 { v2 } else { v1 };
    eq(file, r.read(ctx, controller, file)?.as_str(), want)
}

fn v1_file_exists(ctx: &Ctx, controller: &str, file: &str) -> bool {
    !ctx.host.cgroup2
        && PathBuf::from("/sys/fs/cgroup")
            .join(controller)
            .join(file)
            .exists()
}

/// The case's own cgroup: at the top of the hierarchy, or with --systemd-cgroup the scope
/// `oci-test-ID.scope` in system.slice.
fn cgroups_path(ctx: &Ctx, id: &str) -> String {
    match ctx.systemd {
        true => format!("system.slice:oci-test:{id}"),
        false => format!("/{id}"),
    }
}

fn path(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({}))?;
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", r.pid)).unwrap_or_default();
    let want = match ctx.systemd {
        true => format!("/system.slice/oci-test-{}.scope", r.id),
        false => format!("/{}", r.id),
    };
    let line = text
        .lines()
        .find(|l| l.contains(":memory:") || l.starts_with("0::"))
        .unwrap_or("");
    ensure(line.ends_with(&want), || {
        format!("cgroup: expected path {want}, observed {line:?}")
    })
}

fn memory_limit(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"memory": {"limit": 67108864}}))?;
    expect(
        ctx,
        &r,
        "memory",
        ("memory.limit_in_bytes", "67108864"),
        ("memory.max", "67108864"),
    )
}

fn memory_reservation(ctx: &Ctx) -> Res {
    let r = create(
        ctx,
        json!({"memory": {"limit": 67108864, "reservation": 33554432}}),
    )?;
    expect(
        ctx,
        &r,
        "memory",
        ("memory.soft_limit_in_bytes", "33554432"),
        ("memory.low", "33554432"),
    )
}

fn memory_swap(ctx: &Ctx) -> Res {
    if !ctx.host.cgroup2 && !v1_file_exists(ctx, "memory", "memory.memsw.limit_in_bytes") {
        return skip(
            "no-swap-accounting",
            "no swap accounting (memory.memsw.*) on this host",
        );
    }
    let r = create(
        ctx,
        json!({"memory": {"limit": 67108864, "swap": 134217728}}),
    )?;
    // On v2, memory.swap.max is swap only: runc's conversion is swap - limit.
    expect(
        ctx,
        &r,
        "memory",
        ("memory.memsw.limit_in_bytes", "134217728"),
        ("memory.swap.max", "67108864"),
    )
}

fn memory_v1_only(ctx: &Ctx) -> Res {
    if ctx.host.cgroup2 {
        return skip(
            "pure-v2",
            "swappiness and disableOOMKiller have no cgroup v2 files",
        );
    }
    let r = create(
        ctx,
        json!({"memory": {"swappiness": 37, "disableOOMKiller": true}}),
    )?;
    eq(
        "memory.swappiness",
        r.read(ctx, "memory", "memory.swappiness")?.as_str(),
        "37",
    )?;
    let oom = r.read(ctx, "memory", "memory.oom_control")?;
    ensure(oom.contains("oom_kill_disable 1"), || {
        format!("memory.oom_control: {oom}")
    })
}

fn cpu_shares(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"cpu": {"shares": 512}}))?;
    if !ctx.host.cgroup2 {
        return eq(
            "cpu.shares",
            r.read(ctx, "cpu", "cpu.shares")?.as_str(),
            "512",
        );
    }
    // The spec gives no v2 mapping. runc 1.1's linear 1 + ((shares - 2) * 9999) / 262142
    // makes 20; runc 1.2+ and crun's quadratic in log2(shares) (through 2, 1024 and 262144,
    // so the default 1024 stays weight 100) makes 59.
    let got = r.read(ctx, "cpu", "cpu.weight")?;
    ensure(got == "20" || got == "59", || {
        format!("cpu.weight: expected 20 (runc 1.1) or 59 (runc 1.2+, crun), observed {got:?}")
    })
}

fn cpu_quota(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"cpu": {"quota": 50000, "period": 200000}}))?;
    if ctx.host.cgroup2 {
        return eq(
            "cpu.max",
            r.read(ctx, "cpu", "cpu.max")?.as_str(),
            "50000 200000",
        );
    }
    eq(
        "cpu.cfs_quota_us",
        r.read(ctx, "cpu", "cpu.cfs_quota_us")?.as_str(),
        "50000",
    )?;
    eq(
        "cpu.cfs_period_us",
        r.read(ctx, "cpu", "cpu.cfs_period_us")?.as_str(),
        "200000",
    )
}

fn cpu_burst_idle(ctx: &Ctx) -> Res {
    let (burst, idle) = if ctx.host.cgroup2 {
        ("cpu.max.burst", "cpu.idle")
    } else {
        ("cpu.cfs_burst_us", "cpu.idle")
    };
    if !ctx.host.cgroup2 && !v1_file_exists(ctx, "cpu", burst) {
        return skip(
            "no-cpu-burst",
            "this kernel has no cpu burst (cpu.cfs_burst_us)",
        );
    }
    let r = create(
        ctx,
        json!({"cpu": {"quota": 50000, "period": 100000, "burst": 20000, "idle": 1}}),
    )?;
    eq(burst, r.read(ctx, "cpu", burst)?.as_str(), "20000")?;
    eq(idle, r.read(ctx, "cpu", idle)?.as_str(), "1")
}

fn cpu_rt(ctx: &Ctx) -> Res {
    if !v1_file_exists(ctx, "cpu", "cpu.rt_runtime_us") {
        return skip(
            "no-rt-sched",
            "no real-time group scheduling (cpu.rt_runtime_us) on this host",
        );
    }
    let r = create(
        ctx,
        json!({"cpu": {"realtimeRuntime": 0, "realtimePeriod": 500000}}),
    )?;
    eq(
        "cpu.rt_period_us",
        r.read(ctx, "cpu", "cpu.rt_period_us")?.as_str(),
        "500000",
    )?;
    eq(
        "cpu.rt_runtime_us",
        r.read(ctx, "cpu", "cpu.rt_runtime_us")?.as_str(),
        "0",
    )
}

fn cpuset(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"cpu": {"cpus": "0", "mems": "0"}}))?;
    let (cpus, mems) = ("cpuset.cpus", "cpuset.mems");
    eq(cpus, r.read(ctx, "cpuset", cpus)?.as_str(), "0")?;
    eq(mems, r.read(ctx, "cpuset", mems)?.as_str(), "0")
}

fn pids(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"pids": {"limit": 77}}))?;
    expect(ctx, &r, "pids", ("pids.max", "77"), ("pids.max", "77"))
}

fn blkio_weight(ctx: &Ctx) -> Res {
    let file = if ctx.host.cgroup2 {
        "io.weight"
    } else {
        "blkio.weight"
    };
    let have = if ctx.host.cgroup2 {
        PathBuf::from("/sys/fs/cgroup/cgroup.subtree_control").exists()
    } else {
        v1_file_exists(ctx, "blkio", "blkio.weight")
    };
    if !have || (!ctx.host.cgroup2 && !v1_file_exists(ctx, "blkio", file)) {
        return skip(
            "no-blkio-weight",
            "no proportional block I/O weight (blkio.weight needs CFQ/BFQ) on this host",
        );
    }
    let r = create(ctx, json!({"blockIO": {"weight": 300}}))?;
    let got = r.read(ctx, "blkio", file)?;
    // v2 without BFQ: io.weight on its own 1..10000 scale, runc's 1 + (w - 10) * 9999 / 990.
    let ok = match ctx.host.cgroup2 {
        true => got == "default 300" || got == "default 2930",
        false => got == "300" || got == "default 300",
    };
    ensure(ok, || {
        format!("{file}: expected weight 300 (v2: default 300 with BFQ, or default 2930), observed {got:?}")
    })
}

fn block_device() -> Option<(u64, u64)> {
    let mut devs: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    devs.sort_by_key(|d| d.starts_with("loop") || d.starts_with("ram"));
    let d = devs.first()?;
    let mm = std::fs::read_to_string(format!("/sys/block/{d}/dev")).ok()?;
    let (a, b) = mm.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn blkio_throttle(ctx: &Ctx) -> Res {
    let Some((major, minor)) = block_device() else {
        return skip("no-block-device", "no block device on this host");
    };
    let r = create(
        ctx,
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}], "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 300}]}}),
    )?;
    if ctx.host.cgroup2 {
        let got = r.read(ctx, "io", "io.max")?;
        return ensure(
            got.contains(&format!("{major}:{minor} rbps=1048576")) && got.contains("wiops=300"),
            || format!("io.max: {got:?}"),
        );
    }
    eq(
        "blkio.throttle.read_bps_device",
        r.read(ctx, "blkio", "blkio.throttle.read_bps_device")?,
        format!("{major}:{minor} 1048576"),
    )?;
    eq(
        "blkio.throttle.write_iops_device",
        r.read(ctx, "blkio", "blkio.throttle.write_iops_device")?,
        format!("{major}:{minor} 300"),
    )
}

fn controller_present(ctx: &Ctx, name: &str) -> bool {
    if ctx.host.cgroup2 {
        return std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .any(|c| c == name);
    }
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|x| x == name))
        })
}

fn hugetlb(ctx: &Ctx) -> Res {
    if !controller_present(ctx, "hugetlb") {
        return skip("no-hugetlb", "no hugetlb cgroup hierarchy on this host");
    }
    let r = create(
        ctx,
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 20971520}]}),
    )?;
    expect(
        ctx,
        &r,
        "hugetlb",
        ("hugetlb.2MB.limit_in_bytes", "20971520"),
        ("hugetlb.2MB.max", "20971520"),
    )
}

fn network(ctx: &Ctx) -> Res {
    if ctx.host.cgroup2 || !controller_present(ctx, "net_cls") {
        return skip("no-net-cls", "no net_cls cgroup hierarchy on this host");
    }
    let r = create(ctx, json!({"network": {"classID": 1048577}}))?;
    eq(
        "net_cls.classid",
        r.read(ctx, "net_cls", "net_cls.classid")?.as_str(),
        "1048577",
    )
}

fn rdma(ctx: &Ctx) -> Res {
    if !controller_present(ctx, "rdma") {
        return skip("no-rdma", "no rdma cgroup controller on this host");
    }
    // The kernel takes rdma.max only for a device it has (ENODEV otherwise).
    let devices = std::fs::read_dir("/sys/class/infiniband").map_or(0, |d| d.count());
    if devices == 0 {
        return skip(
            "no-rdma-device",
            "an rdma controller but no RDMA device on this host",
        );
    }
    fail("rdma host with a device: this case is not written yet")
}

fn unified(ctx: &Ctx) -> Res {
    if !ctx.host.cgroup2 {
        // The spec: a runtime MUST return an error for unified resources on cgroup v1.
        let mut b = Bundle::new(ctx);
        b.set("/linux/resources/unified", json!({"pids.max": "33"}));
        let (id, out) = b.create();
        ensure(!out.ok(), || {
            "linux.resources.unified was accepted on cgroup v1".into()
        })?;
        return ensure(!b.rt(&["state", &id]).ok(), || {
            "the failed container still has a state".into()
        });
    }
    let r = create(ctx, json!({"unified": {"pids.max": "33"}}))?;
    eq("pids.max", r.read(ctx, "pids", "pids.max")?.as_str(), "33")
}

/// The default config denies every device but the defaults: a block device node made in the
/// container cannot be opened.
fn devices_deny(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/oci-loop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600}]),
    );
    let r = b.check(&["--write", "/dev/oci-loop", "--write", "/dev/null"])?;
    eq(
        "open of a device not allowed (EPERM)",
        i(&r, "/writes/~1dev~1oci-loop"),
        1,
    )?;
    eq("open of /dev/null", i(&r, "/writes/~1dev~1null"), 0)
}

fn devices_allow(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/oci-full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666}]),
    );
    b.push(
        "/linux/resources/devices",
        json!({"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rw"}),
    );
    let r = b.check(&["--write", "/dev/oci-full"])?;
    eq(
        "write to an allowed /dev/full (ENOSPC)",
        i(&r, "/writes/~1dev~1oci-full"),
        28,
    )
}

fn removed(ctx: &Ctx) -> Res {
    let r = create(ctx, json!({"pids": {"limit": 50}}))?;
    let dir = r.dir(ctx, "pids")?;
    ensure(dir.exists(), || format!("{} does not exist", dir.display()))?;
    r.b.rt(&["delete", "--force", &r.id])
        .check("delete --force")?;
    ensure(!dir.exists(), || {
        format!("{} is left after delete", dir.display())
    })
}
