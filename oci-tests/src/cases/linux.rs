//! config-linux.md: namespaces, id mappings, time offsets, devices, sysctl, personality,
//! memory policy, network devices, Intel RDT; config.md hostname and domainname.

use crate::bundle::Bundle;
use crate::harness::{ensure, eq, fail, i, s, skip, Case, Ctx, Res};
use serde_json::{json, Value};

pub const CASES: &[Case] = &[
    Case {
        name: "ns_pid",
        covers: &["linux.namespaces pid"],
        run: ns_pid,
    },
    Case {
        name: "ns_network",
        covers: &["linux.namespaces network"],
        run: |c| ns_new(c, "network", "net"),
    },
    Case {
        name: "ns_mount",
        covers: &["linux.namespaces mount"],
        run: |c| ns_new(c, "mount", "mnt"),
    },
    Case {
        name: "ns_ipc",
        covers: &["linux.namespaces ipc"],
        run: |c| ns_new(c, "ipc", "ipc"),
    },
    Case {
        name: "ns_uts",
        covers: &["linux.namespaces uts"],
        run: |c| ns_new(c, "uts", "uts"),
    },
    Case {
        name: "ns_cgroup",
        covers: &["linux.namespaces cgroup"],
        run: ns_cgroup,
    },
    Case {
        name: "ns_time",
        covers: &["linux.namespaces time"],
        run: |c| ns_new(c, "time", "time"),
    },
    Case {
        name: "ns_absent_shared",
        covers: &["linux.namespaces (absent: shared with the runtime)"],
        run: ns_absent,
    },
    Case {
        name: "ns_path_join",
        covers: &["linux.namespaces[].path"],
        run: ns_path,
    },
    Case {
        name: "ns_user_mappings",
        covers: &[
            "linux.namespaces user",
            "linux.uidMappings",
            "linux.gidMappings",
        ],
        run: ns_user,
    },
    Case {
        name: "time_offsets",
        covers: &["linux.timeOffsets"],
        run: time_offsets,
    },
    Case {
        name: "hostname",
        covers: &["hostname"],
        run: hostname,
    },
    Case {
        name: "domainname",
        covers: &["domainname"],
        run: domainname,
    },
    Case {
        name: "hostname_without_uts_ns",
        covers: &["hostname", "errors leave nothing"],
        run: hostname_no_uts,
    },
    Case {
        name: "devices_created",
        covers: &["linux.devices"],
        run: devices,
    },
    Case {
        name: "devices_default",
        covers: &["default devices"],
        run: default_devices,
    },
    Case {
        name: "devices_pts_shm",
        covers: &["default filesystems (/dev/pts, /dev/shm)"],
        run: pts_shm,
    },
    Case {
        name: "devices_symlinks",
        covers: &["dev symbolic links"],
        run: dev_links,
    },
    Case {
        name: "sysctl_namespaced",
        covers: &["linux.sysctl"],
        run: sysctl,
    },
    Case {
        name: "sysctl_not_namespaced_refused",
        covers: &["linux.sysctl", "errors leave nothing"],
        run: sysctl_refused,
    },
    Case {
        name: "personality_linux32",
        covers: &["linux.personality"],
        run: personality,
    },
    Case {
        name: "memory_policy",
        covers: &["linux.memoryPolicy"],
        run: memory_policy,
    },
    Case {
        name: "net_devices",
        covers: &["linux.netDevices"],
        run: net_devices,
    },
    Case {
        name: "intel_rdt_unsupported",
        covers: &["linux.intelRdt"],
        run: intel_rdt,
    },
];

fn ns_pid(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let r = b.check(&[])?;
    eq("pid in the container", i(&r, "/pid"), 1)?;
    ensure(s(&r, "/ns/pid") != ctx.host.ns("pid"), || {
        "pid namespace is the host's".into()
    })
}

fn ns_new(ctx: &Ctx, kind: &str, proc_name: &str) -> Res {
    if ctx.host.ns(proc_name).is_empty() {
        return skip(
            "no-namespace",
            format!("this kernel has no {kind} namespace"),
        );
    }
    let mut b = Bundle::new(ctx);
    if !has_ns(&b.config, kind) {
        b.push("/linux/namespaces", json!({"type": kind}));
    }
    let r = b.check(&[])?;
    let ptr = format!("/ns/{proc_name}");
    ensure(!s(&r, &ptr).is_empty(), || {
        format!("no {proc_name} namespace reported")
    })?;
    ensure(s(&r, &ptr) != ctx.host.ns(proc_name), || {
        format!("{kind} namespace is the host's ({})", s(&r, &ptr))
    })
}

fn has_ns(config: &Value, kind: &str) -> bool {
    config["linux"]["namespaces"]
        .as_array()
        .is_some_and(|a| a.iter().any(|n| n["type"] == kind))
}

fn ns_cgroup(ctx: &Ctx) -> Res {
    ns_new(ctx, "cgroup", "cgroup")?;
    // In its own cgroup namespace the process sees itself at the root.
    let mut b = Bundle::new(ctx);
    b.push("/linux/namespaces", json!({"type": "cgroup"}));
    let r = b.check(&[])?;
    let paths: Vec<&str> = s(&r, "/cgroup")
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .collect();
    ensure(paths.iter().all(|p| *p == "/"), || {
        format!("cgroup paths in the namespace: {paths:?}")
    })
}

fn ns_absent(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let kept: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "network" && n["type"] != "ipc")
        .cloned()
        .collect();
    b.set("/linux/namespaces", json!(kept));
    let r = b.check(&[])?;
    eq("net namespace", s(&r, "/ns/net"), ctx.host.ns("net"))?;
    eq("ipc namespace", s(&r, "/ns/ipc"), ctx.host.ns("ipc"))
}

/// A second container joins the first one's network namespace by path.
fn ns_path(ctx: &Ctx) -> Res {
    let mut first = Bundle::new(ctx);
    first.args(&["/bin/sleep", "30"]);
    let (id, out) = first.create();
    out.check("create")?;
    let pid = i(&first.state(&id)?, "/pid");
    let target = std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .map_err(|e| crate::harness::Outcome::Fail(e.to_string()))?;
    let mut b = Bundle::new(ctx);
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            if n["type"] == "network" {
                json!({"type": "network", "path": format!("/proc/{pid}/ns/net")})
            } else {
                n.clone()
            }
        })
        .collect();
    b.set("/linux/namespaces", json!(ns));
    let r = b.check(&[])?;
    eq("net namespace", s(&r, "/ns/net"), target.to_str().unwrap())
}

fn ns_user(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.push("/linux/namespaces", json!({"type": "user"}));
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": 200000, "size": 65536}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 300000, "size": 65536}]),
    );
    // /sys of the host cannot be mounted from a new user namespace without its own netns
    // (it has one here); cgroup v1 mounts are not allowed at all.
    let mounts: Vec<Value> = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] != "cgroup")
        .cloned()
        .collect();
    b.set("/mounts", json!(mounts));
    let r = b.check(&[])?;
    ensure(s(&r, "/ns/user") != ctx.host.ns("user"), || {
        "user namespace is the host's".into()
    })?;
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    eq("uid_map", norm(s(&r, "/uid_map")), "0 200000 65536".into())?;
    eq("gid_map", norm(s(&r, "/gid_map")), "0 300000 65536".into())?;
    eq("uid in the namespace", i(&r, "/uid"), 0)
}

fn time_offsets(ctx: &Ctx) -> Res {
    if ctx.host.ns("time").is_empty() {
        return skip("no-namespace", "this kernel has no time namespace");
    }
    let mut b = Bundle::new(ctx);
    b.push("/linux/namespaces", json!({"type": "time"}));
    b.set("/linux/timeOffsets", json!({"monotonic": {"secs": 864000, "nanosecs": 0}, "boottime": {"secs": 1728000, "nanosecs": 0}}));
    let r = b.check(&[])?;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let d = i(&r, "/clocks/monotonic") - now.tv_sec;
    ensure((864000 - 60..=864000 + 5).contains(&d), || {
        format!("monotonic offset: expected ~864000 s, observed {d}")
    })?;
    let mut boot = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut boot) };
    let d = i(&r, "/clocks/boottime") - boot.tv_sec;
    ensure((1728000 - 60..=1728000 + 5).contains(&d), || {
        format!("boottime offset: expected ~1728000 s, observed {d}")
    })
}

fn hostname(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/hostname", json!("oci-host-name"));
    let r = b.check(&[])?;
    eq("hostname", s(&r, "/hostname"), "oci-host-name")
}

fn domainname(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/domainname", json!("oci.example"));
    let r = b.check(&[])?;
    eq("domainname", s(&r, "/domainname"), "oci.example")
}

/// Setting a hostname without a UTS namespace would change the host's: an error.
fn hostname_no_uts(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let kept: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "uts")
        .cloned()
        .collect();
    b.set("/linux/namespaces", json!(kept));
    b.set("/hostname", json!("oci-should-fail"));
    let (id, out) = b.create();
    ensure(!out.ok(), || {
        "create set a hostname without a UTS namespace".into()
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}

fn devices(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/linux/devices", json!([
        {"path": "/dev/oci-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1, "gid": 2},
        {"path": "/dev/sub/oci-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/oci-fifo", "type": "p", "fileMode": 0o600}
    ]));
    let r = b.check(&[
        "--stat",
        "/dev/oci-null",
        "--stat",
        "/dev/sub/oci-loop",
        "--stat",
        "/dev/oci-fifo",
    ])?;
    let st = |p: &str, k: &str| {
        r.pointer(&format!("/stats/{}/{k}", p.replace('/', "~1")))
            .cloned()
            .unwrap_or(Value::Null)
    };
    eq(
        "/dev/oci-null",
        (
            st("/dev/oci-null", "type"),
            st("/dev/oci-null", "major"),
            st("/dev/oci-null", "minor"),
            st("/dev/oci-null", "mode"),
            st("/dev/oci-null", "uid"),
            st("/dev/oci-null", "gid"),
        ),
        (
            json!("c"),
            json!(1),
            json!(3),
            json!(0o640),
            json!(1),
            json!(2),
        ),
    )?;
    eq(
        "/dev/sub/oci-loop",
        (
            st("/dev/sub/oci-loop", "type"),
            st("/dev/sub/oci-loop", "major"),
            st("/dev/sub/oci-loop", "minor"),
        ),
        (json!("b"), json!(7), json!(200)),
    )?;
    eq("/dev/oci-fifo", st("/dev/oci-fifo", "type"), json!("p"))
}

fn default_devices(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let want = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let mut args = Vec::new();
    for (p, _, _) in &want {
        args.extend(["--stat", p]);
    }
    args.extend(["--write", "/dev/null"]);
    let r = b.check(&args)?;
    for (p, maj, min) in want {
        let k = p.replace('/', "~1");
        eq(
            p,
            (
                s(&r, &format!("/stats/{k}/type")),
                i(&r, &format!("/stats/{k}/major")),
                i(&r, &format!("/stats/{k}/minor")),
                i(&r, &format!("/stats/{k}/mode")),
            ),
            ("c", maj, min, 0o666),
        )?;
    }
    eq("write /dev/null errno", i(&r, "/writes/~1dev~1null"), 0)
}

fn pts_shm(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let r = b.check(&[])?;
    let pts = super::mounts::mount_at(&r, "/dev/pts")?;
    eq("/dev/pts fstype", pts.fstype.as_str(), "devpts")?;
    ensure(pts.super_opts.iter().any(|o| o == "ptmxmode=666"), || {
        format!("devpts options: {:?}", pts.super_opts)
    })?;
    eq(
        "/dev/shm fstype",
        super::mounts::mount_at(&r, "/dev/shm")?.fstype,
        "tmpfs".into(),
    )
}

fn dev_links(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    let links = [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/ptmx", "pts/ptmx"),
    ];
    let mut args = Vec::new();
    for (p, _) in &links {
        args.extend(["--stat", p]);
    }
    let r = b.check(&args)?;
    for (p, target) in links {
        eq(
            p,
            s(&r, &format!("/stats/{}/target", p.replace('/', "~1"))),
            target,
        )?;
    }
    Ok(())
}

fn sysctl(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/sysctl",
        json!({"kernel.shmmni": "1234", "net.ipv4.ip_forward": "1"}),
    );
    let r = b.check(&[
        "--read",
        "/proc/sys/kernel/shmmni",
        "--read",
        "/proc/sys/net/ipv4/ip_forward",
    ])?;
    eq(
        "kernel.shmmni",
        s(&r, "/files/~1proc~1sys~1kernel~1shmmni").trim(),
        "1234",
    )?;
    eq(
        "net.ipv4.ip_forward",
        s(&r, "/files/~1proc~1sys~1net~1ipv4~1ip_forward").trim(),
        "1",
    )
}

fn sysctl_refused(ctx: &Ctx) -> Res {
    let before = std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit").unwrap_or_default();
    let mut b = Bundle::new(ctx);
    b.set("/linux/sysctl", json!({"kernel.printk_ratelimit": "7"}));
    let (id, out) = b.create();
    let after = std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit").unwrap_or_default();
    if before != after {
        let _ = std::fs::write("/proc/sys/kernel/printk_ratelimit", &before);
        return fail("the runtime changed the host's kernel.printk_ratelimit");
    }
    ensure(!out.ok(), || {
        "a sysctl that is not namespaced was accepted".into()
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}

fn personality(ctx: &Ctx) -> Res {
    let mut b = Bundle::new(ctx);
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    let r = b.check(&[])?;
    eq(
        "personality (PER_LINUX32 = 8)",
        i(&r, "/personality") & 0xff,
        8,
    )
}

fn memory_policy(ctx: &Ctx) -> Res {
    if !std::path::Path::new("/sys/devices/system/node/node0").exists() {
        return skip(
            "no-numa",
            "this kernel has no NUMA support (no /sys/devices/system/node)",
        );
    }
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/memoryPolicy",
        json!({"mode": "MPOL_BIND", "nodes": "0"}),
    );
    let r = b.check(&[])?;
    eq(
        "mempolicy (MPOL_BIND = 2, nodes)",
        (i(&r, "/mempolicy/mode"), i(&r, "/mempolicy/nodes")),
        (2, 1),
    )
}

/// A network namespace held by a `sleep` we started (killed by its pid on drop): the
/// runtime runs in it, so the devices it moves are ours and the host's are never touched.
struct NetnsHolder(std::process::Child);

impl NetnsHolder {
    fn start() -> Option<NetnsHolder> {
        let child = std::process::Command::new("unshare")
            .args(["-n", "sleep", "60"])
            .spawn()
            .ok()?;
        let h = NetnsHolder(child);
        let own = std::fs::read_link("/proc/self/ns/net").ok()?;
        for _ in 0..200 {
            match std::fs::read_link(format!("/proc/{}/ns/net", h.0.id())) {
                Ok(ns) if ns != own => return Some(h),
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        None
    }

    /// `ip ARGS` inside the namespace.
    fn ip(&self, args: &[&str]) -> bool {
        std::process::Command::new("nsenter")
            .args(["-t", &self.0.id().to_string(), "-n", "ip"])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn net_devices(ctx: &Ctx) -> Res {
    let Some(ns) = NetnsHolder::start() else {
        return skip("no-netns", "cannot make a network namespace (unshare -n)");
    };
    if !ns.ip(&[
        "link", "add", "ocid0", "type", "veth", "peer", "name", "ocid1",
    ]) {
        return skip(
            "no-veth",
            "cannot create a veth pair (no veth driver or no ip)",
        );
    }
    let global = ns.ip(&["addr", "add", "192.0.2.7/24", "dev", "ocid0"])
        && ns.ip(&["addr", "add", "2001:db8::7/64", "dev", "ocid0"]);
    ensure(global, || "could not add the test addresses".into())?;
    let nsfd = std::fs::File::open(format!("/proc/{}/ns/net", ns.0.id()))
        .or_else(|e| fail(format!("open the test network namespace: {e}")))?;
    let mut b = Bundle::new(ctx);
    b.set("/linux/netDevices", json!({"ocid0": {"name": "oci0"}}));
    let flags = "/sys/class/net/oci0/flags";
    b.args(&[
        "/checker",
        "--read",
        flags,
        "--read",
        "/proc/net/if_inet6",
        "--read",
        "/proc/net/fib_trie",
    ]);
    b.write();
    let id = b.new_id();
    let dir = b.dir.to_str().unwrap().to_string();
    let out = b.rt_with(&["run", "--bundle", &dir, &id], |cmd| {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = nsfd.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and calls only setns, which
        // is async-signal-safe; nsfd outlives the spawn.
        unsafe {
            cmd.pre_exec(move || match libc::setns(fd, libc::CLONE_NEWNET) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
    });
    let r = crate::bundle::parse_report(&out.check("run")?.stdout)?;
    let file = |p: &str| s(&r, &format!("/files/{}", p.replace('/', "~1"))).to_string();
    let up = u32::from_str_radix(file(flags).trim().trim_start_matches("0x"), 16).unwrap_or(0);
    ensure(up & 1 == 1, || {
        format!("oci0 is not up in the container (flags {:?})", file(flags))
    })?;
    let v6 = file("/proc/net/if_inet6");
    ensure(
        v6.lines()
            .any(|l| l.starts_with("20010db8000000000000000000000007") && l.ends_with("oci0")),
        || format!("2001:db8::7 was not kept on oci0: {v6}"),
    )?;
    let v4 = file("/proc/net/fib_trie");
    ensure(v4.contains("192.0.2.7"), || {
        format!("192.0.2.7 was not kept: {v4}")
    })
}

fn intel_rdt(ctx: &Ctx) -> Res {
    if std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .contains("resctrl")
    {
        return skip(
            "resctrl-host",
            "this host has resctrl; the case checks the error without it",
        );
    }
    let mut b = Bundle::new(ctx);
    b.set(
        "/linux/intelRdt",
        json!({"closID": "oci-test", "l3CacheSchema": "L3:0=f"}),
    );
    let (id, out) = b.create();
    ensure(!out.ok(), || {
        "intelRdt was accepted on a host without resctrl".into()
    })?;
    ensure(!b.rt(&["state", &id]).ok(), || {
        "the failed container still has a state".into()
    })
}
