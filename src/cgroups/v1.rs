//! cgroup v1 specifics. Each v1 hierarchy is one `CgroupDir` whose `hierarchy` is the
//! controllers field of /proc/self/cgroup ("memory", "cpu,cpuacct", "name=systemd").
//! The resource planners here turn one OCI group into `Write`s for its v1 hierarchy.

use super::write::{read, Write};
use anyhow::{Context, Result};
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxThrottleDevice,
};
use std::path::Path;

pub fn has_controller(controllers: &str, name: &str) -> bool {
    controllers.split(',').any(|c| c == name)
}

/// Prepare a directory carrack has just created (called parents first).
pub fn init_created(controllers: &str, dir: &Path) -> Result<()> {
    if has_controller(controllers, "cpuset") {
        inherit_cpuset(dir)?;
    }
    Ok(())
}

/// Before joining or creating `path`: its existing ancestors (and itself) on a cpuset
/// hierarchy may have empty cpus/mems (Kubernetes' cgroupfs driver makes pod cgroups so), and
/// the kernel refuses tasks below them (ENOSPC). Fill them from their parents, top down, as
/// runc does; the hierarchy's root is left alone.
pub fn prepare_existing(controllers: &str, path: &Path) -> Result<()> {
    if !has_controller(controllers, "cpuset") {
        return Ok(());
    }
    let below_root = |p: &&Path| p.parent().is_some_and(|up| up.join("cpuset.cpus").exists());
    let mut chain: Vec<&Path> = path
        .ancestors()
        .skip_while(|p| !p.is_dir())
        .take_while(below_root)
        .collect();
    chain.reverse();
    for dir in chain {
        inherit_cpuset(dir)?;
    }
    Ok(())
}

/// A new v1 cpuset starts with empty cpus/mems (unless cgroup.clone_children is set), and the
/// kernel refuses tasks into it (ENOSPC), so copy the parent's values.
fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().context("cpuset dir has no parent")?;
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        let cur =
            crate::linux::fs::read_text(&own).with_context(|| format!("read {}", own.display()))?;
        if !cur.trim().is_empty() {
            continue;
        }
        let from = parent.join(file);
        let val = crate::linux::fs::read_text(&from)
            .with_context(|| format!("read {}", from.display()))?;
        super::write_file(&own, val.trim()).with_context(|| format!("write {}", own.display()))?;
    }
    Ok(())
}

// ---- resources: each planner turns one OCI group into the writes for its v1 hierarchy ----

const R: &str = "linux.resources";

/// runc's order: swap before limit when raising past the current limit (the kernel requires
/// memsw >= limit at every step), limit first otherwise.
pub fn memory(dir: &Path, m: &LinuxMemory) -> Result<Vec<Write>> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let memsw = "memory.memsw.limit_in_bytes";
    // "Unlimited memory" means unlimited memory+swap too, where swap accounting exists.
    if limit == -1 && swap == 0 && dir.join(memsw).exists() {
        swap = -1;
    }
    let lim = (limit != 0).then(|| {
        Write::new(
            format!("{R}.memory.limit"),
            limit,
            "memory.limit_in_bytes",
            limit,
        )
    });
    let sw = (swap != 0).then(|| Write::new(format!("{R}.memory.swap"), swap, memsw, swap));
    let mut out = Vec::new();
    let swap_first = match (limit, swap) {
        (0, _) | (_, 0) => false,
        (_, -1) => true,
        (_, s) => {
            let cur: u64 = read(dir, "memory.limit_in_bytes")?
                .parse()
                .unwrap_or(u64::MAX);
            u64::try_from(s).is_ok_and(|s| cur < s)
        }
    };
    if swap_first {
        out.extend(sw.clone());
        out.extend(lim);
    } else {
        out.extend(lim);
        out.extend(sw);
    }
    if let Some(r) = m.reservation().filter(|r| *r != 0) {
        out.push(Write::new(
            format!("{R}.memory.reservation"),
            r,
            "memory.soft_limit_in_bytes",
            r,
        ));
    }
    if let Some(d) = m.disable_oom_killer() {
        out.push(Write::new(
            format!("{R}.memory.disableOOMKiller"),
            d,
            "memory.oom_control",
            u8::from(d),
        ));
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            anyhow::bail!("{R}.memory.swappiness {s}: out of range 0-100");
        }
        out.push(Write::new(
            format!("{R}.memory.swappiness"),
            s,
            "memory.swappiness",
            s,
        ));
    }
    if let Some(h) = m.use_hierarchy() {
        out.push(Write::new(
            format!("{R}.memory.useHierarchy"),
            h,
            "memory.use_hierarchy",
            u8::from(h),
        ));
    }
    Ok(out)
}

/// `memory.kernelTCP` (runc writes it where the file exists; 0 means unset). The other
/// kernel memory limit, `memory.kernel`, is gone from Linux and only warned about.
pub fn kernel_tcp(dir: &Path, m: &LinuxMemory) -> Option<Write> {
    let file = "memory.kmem.tcp.limit_in_bytes";
    let v = m.kernel_tcp().filter(|v| *v != 0)?;
    dir.join(file)
        .exists()
        .then(|| Write::new(format!("{R}.memory.kernelTCP"), v, file, v))
}

/// cpu hierarchy: shares, CFS bandwidth, RT bandwidth, idle. Period, burst and RT period may
/// be refused until their partner is written, so they are retried after it (as runc).
pub fn cpu(c: &LinuxCpu) -> Vec<Write> {
    let mut out = Vec::new();
    let f = |n: &str| format!("{R}.cpu.{n}");
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        out.push(Write::new(f("shares"), s, "cpu.shares", s).verify());
    }
    let quota = c.quota().filter(|q| *q != 0);
    if let Some(p) = c.period().filter(|p| *p != 0) {
        out.push(Write::new(f("period"), p, "cpu.cfs_period_us", p).retry_einval(quota.is_some()));
    }
    if let Some(b) = c.burst() {
        out.push(Write::new(f("burst"), b, "cpu.cfs_burst_us", b).retry_einval(quota.is_some()));
    }
    if let Some(q) = quota {
        out.push(Write::new(f("quota"), q, "cpu.cfs_quota_us", q));
    }
    let runtime = c.realtime_runtime().filter(|r| *r != 0);
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        out.push(
            Write::new(f("realtimePeriod"), p, "cpu.rt_period_us", p)
                .retry_einval(runtime.is_some()),
        );
    }
    if let Some(r) = runtime {
        out.push(Write::new(f("realtimeRuntime"), r, "cpu.rt_runtime_us", r));
    }
    if let Some(i) = c.idle() {
        out.push(Write::new(f("idle"), i, "cpu.idle", i));
    }
    out
}

/// cpuset.cpus / cpuset.mems (same file names on v2).
pub fn cpuset(c: &LinuxCpu) -> Vec<Write> {
    let mut out = Vec::new();
    for (name, val, file) in [
        ("cpus", c.cpus(), "cpuset.cpus"),
        ("mems", c.mems(), "cpuset.mems"),
    ] {
        if let Some(v) = val.as_deref().filter(|v| !v.is_empty()) {
            out.push(Write::new(format!("{R}.cpu.{name}"), v, file, v));
        }
    }
    out
}

/// pids.max (same on v2): > 0 a limit, < 0 unlimited, 0 unset (runc).
pub fn pids(limit: i64) -> Vec<Write> {
    let value = match limit {
        0 => return Vec::new(),
        l if l < 0 => "max".to_string(),
        l => l.to_string(),
    };
    vec![Write::new(
        format!("{R}.pids.limit"),
        limit,
        "pids.max",
        value,
    )]
}

/// blkio: CFQ names (blkio.weight) where present, else BFQ's (blkio.bfq.weight); the
/// throttle files are the same for both.
pub fn blkio(dir: &Path, b: &LinuxBlockIo) -> Vec<Write> {
    let prefix = if !dir.join("blkio.weight").exists() && dir.join("blkio.bfq.weight").exists() {
        "blkio.bfq."
    } else {
        "blkio."
    };
    let f = |n: &str| format!("{R}.blockIO.{n}");
    let mut out = Vec::new();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        out.push(Write::new(f("weight"), w, format!("{prefix}weight"), w));
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        out.push(Write::new(f("leafWeight"), w, "blkio.leaf_weight", w));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight() {
            let field = f(&format!("weightDevice[{i}].weight"));
            let file = format!("{prefix}weight_device");
            out.push(Write::new(field, w, file, format!("{dev} {w}")));
        }
        if let Some(w) = d.leaf_weight() {
            let field = f(&format!("weightDevice[{i}].leafWeight"));
            out.push(Write::new(
                field,
                w,
                "blkio.leaf_weight_device",
                format!("{dev} {w}"),
            ));
        }
    }
    for (name, list, file) in throttles(b) {
        for (i, t) in list.iter().enumerate() {
            let value = format!("{}:{} {}", t.major(), t.minor(), t.rate());
            out.push(Write::new(
                f(&format!("{name}[{i}]")),
                &value,
                format!("blkio.throttle.{file}_device"),
                &value,
            ));
        }
    }
    out
}

/// The four throttle lists: (OCI name, entries, v1 file stem).
pub fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice], &'static str); 4] {
    fn l(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or(&[])
    }
    [
        (
            "throttleReadBpsDevice",
            l(b.throttle_read_bps_device()),
            "read_bps",
        ),
        (
            "throttleWriteBpsDevice",
            l(b.throttle_write_bps_device()),
            "write_bps",
        ),
        (
            "throttleReadIOPSDevice",
            l(b.throttle_read_iops_device()),
            "read_iops",
        ),
        (
            "throttleWriteIOPSDevice",
            l(b.throttle_write_iops_device()),
            "write_iops",
        ),
    ]
}

/// hugetlb.<size>.limit_in_bytes, and the reservation limit where the kernel has it.
pub fn hugetlb(limits: &[LinuxHugepageLimit]) -> Vec<Write> {
    let mut out = Vec::new();
    for (i, h) in limits.iter().enumerate() {
        let field = format!("{R}.hugepageLimits[{i}]");
        let shown = format!("{} {}", h.page_size(), h.limit());
        let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        out.push(Write::new(&field, &shown, file, h.limit()));
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size());
        out.push(Write::new(&field, &shown, rsvd, h.limit()).ok_if_missing());
    }
    out
}

pub fn net_cls(n: &LinuxNetwork) -> Vec<Write> {
    n.class_id()
        .map(|c| Write::new(format!("{R}.network.classID"), c, "net_cls.classid", c))
        .into_iter()
        .collect()
}

pub fn net_prio(n: &LinuxNetwork) -> Vec<Write> {
    let mut out = Vec::new();
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let value = format!("{} {}", p.name(), p.priority());
        out.push(Write::new(
            format!("{R}.network.priorities[{i}]"),
            &value,
            "net_prio.ifpriomap",
            &value,
        ));
    }
    out
}
