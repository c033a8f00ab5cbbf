//! cgroup v2 (unified hierarchy) specifics: on a pure v2 host the only `CgroupDir`; on a hybrid
//! host the controller-less cgroup2 at /sys/fs/cgroup/unified, kept in step with the v1 dirs.
//! Resources: controllers are enabled in the ancestors' cgroup.subtree_control, then the
//! planners here turn OCI groups into `Write`s with runc's v1 → v2 conversions.

use super::write::{read, Write};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory};
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The `hierarchy` name of the v2 dir.
pub const HIERARCHY: &str = "unified";

/// Kill the whole subtree atomically with cgroup.kill (Linux 5.14+): unlike a pid-by-pid
/// kill, forks racing with it cannot escape. Returns false when the kernel lacks the file or
/// the dir is gone.
pub fn kill(dir: &Path) -> Result<bool> {
    let f = dir.join("cgroup.kill");
    match super::write_file(&f, "1") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("write {}", f.display())),
    }
}

/// O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP).
pub fn open_dir(dir: &Path) -> Result<OwnedFd> {
    let f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .with_context(|| format!("open {}", dir.display()))?;
    Ok(f.into())
}

// ---- resources on the unified hierarchy ----

const R: &str = "linux.resources";

/// Controllers the kernel offers in `dir` (its cgroup.controllers); empty if unreadable.
pub fn controllers(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The ancestors of `dir` inside its cgroup2 mount (those holding cgroup.subtree_control),
/// top-down, without `dir` itself.
pub fn ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.join("cgroup.subtree_control").exists())
        .map(Path::to_path_buf)
        .collect();
    out.reverse();
    out
}

/// Enable every controller available down to `dir`, writing cgroup.subtree_control only in
/// the ancestors `may_write` allows (as runc: all at once, then one by one, ignoring refusals:
/// a controller that stays unavailable is reported by the field that needs it).
pub fn enable_controllers(dir: &Path, may_write: impl Fn(&Path) -> bool) {
    for a in ancestors(dir).iter().filter(|a| may_write(a)) {
        let have = controllers(a);
        let enabled: BTreeSet<String> = std::fs::read_to_string(a.join("cgroup.subtree_control"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let missing: Vec<String> = have.difference(&enabled).map(|c| format!("+{c}")).collect();
        if missing.is_empty() {
            continue;
        }
        let f = a.join("cgroup.subtree_control");
        if super::write_file(&f, &missing.join(" ")).is_err() {
            for m in &missing {
                let _ = super::write_file(&f, m);
            }
        }
    }
}

/// runc's -1 = "max", 0 = unset.
fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// v1 memory+swap semantics to v2's swap-only memory.swap.max (runc's conversion).
pub fn swap_value(swap: i64, limit: i64) -> std::result::Result<i64, &'static str> {
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err("unable to set swap limit without memory limit");
    }
    if limit < 0 {
        return Err("invalid memory limit");
    }
    if swap < limit {
        return Err("memory+swap limit should be >= memory limit");
    }
    Ok(swap - limit)
}

pub fn memory(dir: &Path, m: &LinuxMemory) -> Result<Vec<Write>> {
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    let mut out = Vec::new();
    if m.check_before_update() == Some(true) && limit > 0 {
        let cur: i64 = read(dir, "memory.current")?.parse().unwrap_or(0);
        if limit < cur {
            bail!("{R}.memory.limit {limit}: below the current usage {cur} (checkBeforeUpdate)");
        }
    }
    let v2swap =
        swap_value(swap, limit).map_err(|e| anyhow::anyhow!("{R}.memory.swap {swap}: {e}"))?;
    // swap == limit means "no swap": 0, which num() would drop as unset.
    let swap_str = num(v2swap).or_else(|| (v2swap == 0 && swap > 0).then(|| "0".to_string()));
    if let Some(s) = swap_str {
        let w = Write::new(format!("{R}.memory.swap"), swap, "memory.swap.max", &s);
        // Without swap accounting, "no swap" and "unlimited" are already true.
        out.push(if s == "max" || s == "0" {
            w.ok_if_missing()
        } else {
            w
        });
    }
    if let Some(v) = num(limit) {
        out.push(Write::new(
            format!("{R}.memory.limit"),
            limit,
            "memory.max",
            v,
        ));
    }
    if let Some(v) = m.reservation().and_then(num) {
        let r = m.reservation().unwrap_or(0);
        out.push(Write::new(
            format!("{R}.memory.reservation"),
            r,
            "memory.low",
            v,
        ));
    }
    Ok(out)
}

/// Fields with no v2 file: (field, set?) pairs the caller warns about.
pub fn memory_ignored(m: &LinuxMemory) -> Vec<&'static str> {
    let mut out = Vec::new();
    if m.swappiness().is_some() {
        out.push("swappiness");
    }
    if m.disable_oom_killer() == Some(true) {
        out.push("disableOOMKiller");
    }
    out
}

/// runc's current shares → weight mapping: a quadratic in log2(shares) through
/// (2, 1), (1024, 100) and (262144, 10000), so the defaults match.
pub fn cpu_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        s if s <= 2 => 1,
        s if s >= 262_144 => 10_000,
        s => {
            let l = (s as f64).log2();
            let exp = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            // Round away float noise before the ceiling so exact points stay exact.
            let v = 10f64.powf(exp);
            let r = v.round();
            if (v - r).abs() < 1e-9 {
                r as u64
            } else {
                v.ceil() as u64
            }
        }
    }
}

pub fn cpu(dir: &Path, c: &LinuxCpu) -> Result<Vec<Write>> {
    let f = |n: &str| format!("{R}.cpu.{n}");
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        bail!(
            "{}: realtime CPU bandwidth is not available on cgroup v2",
            f("realtimeRuntime/realtimePeriod")
        );
    }
    let mut out = Vec::new();
    if let Some(i) = c.idle() {
        out.push(Write::new(f("idle"), i, "cpu.idle", i));
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        out.push(Write::new(f("shares"), s, "cpu.weight", cpu_weight(s)));
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if let Some(b) = c.burst() {
        out.push(Write::new(f("burst"), b, "cpu.max.burst", b).retry_einval(quota.is_some()));
    }
    if quota.is_some() || period.is_some() {
        // A lone period keeps the current quota (runc would reset it to "max").
        let q = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => read(dir, "cpu.max")
                .ok()
                .and_then(|s| s.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "max".into()),
        };
        let value = match period {
            Some(p) => format!("{q} {p}"),
            None => q,
        };
        let shown = format!("{}/{}", quota.unwrap_or(0), period.unwrap_or(0));
        let out_w = Write::new(f("quota/period"), shown, "cpu.max", value);
        // The burst may need to be retried after cpu.max: keep it after in the list.
        let pos = out.iter().position(|w| w.file == "cpu.max.burst");
        match pos {
            Some(p) => out.insert(p, out_w),
            None => out.push(out_w),
        }
    }
    Ok(out)
}

/// blkio weight (10..1000) to io.weight (1..10000), runc's linear map.
pub fn io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// io: BFQ's own weight where the scheduler is there (same scale as v1), else io.weight
/// converted; throttles go to io.max.
pub fn io(dir: &Path, b: &LinuxBlockIo) -> Vec<Write> {
    let f = |n: &str| format!("{R}.blockIO.{n}");
    let bfq = std::fs::read_to_string(dir.join("io.bfq.weight")).ok();
    let mut out = Vec::new();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        out.push(match bfq {
            Some(_) => Write::new(f("weight"), w, "io.bfq.weight", w),
            None => Write::new(f("weight"), w, "io.weight", io_weight(w)),
        });
    }
    // Per-device BFQ weights need a kernel whose file reads "default N".
    let bfq_dev = bfq.as_deref().is_some_and(|s| s.starts_with("default"));
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let Some(w) = d.weight() else { continue };
        let dev = format!("{}:{}", d.major(), d.minor());
        let field = f(&format!("weightDevice[{i}].weight"));
        out.push(if bfq_dev {
            Write::new(field, w, "io.bfq.weight", format!("{dev} {w}"))
        } else {
            Write::new(field, w, "io.weight", format!("{dev} {}", io_weight(w)))
        });
    }
    for (name, list, stem) in super::v1::throttles(b) {
        let key = match stem {
            "read_bps" => "rbps",
            "write_bps" => "wbps",
            "read_iops" => "riops",
            _ => "wiops",
        };
        for (i, t) in list.iter().enumerate() {
            let value = format!("{}:{} {key}={}", t.major(), t.minor(), t.rate());
            out.push(Write::new(
                f(&format!("{name}[{i}]")),
                t.rate(),
                "io.max",
                value,
            ));
        }
    }
    out
}

/// Leaf weights have no v2 counterpart.
pub fn io_ignored(b: &LinuxBlockIo) -> bool {
    b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
}

pub fn hugetlb(limits: &[LinuxHugepageLimit]) -> Vec<Write> {
    let mut out = Vec::new();
    for (i, h) in limits.iter().enumerate() {
        let field = format!("{R}.hugepageLimits[{i}]");
        let shown = format!("{} {}", h.page_size(), h.limit());
        let v = num(h.limit()).unwrap_or_else(|| "0".into());
        out.push(Write::new(
            &field,
            &shown,
            format!("hugetlb.{}.max", h.page_size()),
            &v,
        ));
        let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size());
        out.push(Write::new(&field, &shown, rsvd, &v).ok_if_missing());
    }
    out
}

/// `linux.resources.unified`: each key must name a file of `dir` (no paths); a missing file
/// is explained by its controller.
pub fn unified(dir: &Path, map: &HashMap<String, String>) -> Result<Vec<Write>> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let have = controllers(dir);
    let mut out = Vec::new();
    for k in keys {
        let field = format!("{R}.unified[{k:?}]");
        if k.is_empty() || k.contains('/') || k.starts_with('.') {
            bail!("{field}: not a cgroup file name");
        }
        if !dir.join(k).is_file() {
            let Some((ctrl, _)) = k.split_once('.') else {
                bail!("{field}: must be CONTROLLER.PARAMETER");
            };
            if ctrl != "cgroup" && !have.contains(ctrl) {
                bail!(
                    "{field}: controller {ctrl:?} is not available in {} (cgroup.controllers: {})",
                    dir.display(),
                    have.iter().cloned().collect::<Vec<_>>().join(" ")
                );
            }
            bail!("{field}: no such file {}", dir.join(k).display());
        }
        out.push(Write::new(&field, &map[k], k.as_str(), &map[k]));
    }
    Ok(out)
}
