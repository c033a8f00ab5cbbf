//! `Cgroup::apply`: route each OCI resource group to the hierarchy that serves its controller
//! (a v1 hierarchy that has it, else the unified dir where it is enabled), plan the writes
//! with v1.rs / v2.rs, and run them.

use super::write::{self, Write};
use super::{bpf, devices, v1, v2, Cgroup, CgroupDir, Kind};
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxMemory, LinuxResources};
use std::collections::BTreeSet;
use std::path::Path;

const R: &str = "linux.resources";

/// Where a controller lives for this container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// The container's dirs seen by controller: built once per apply/stats.
pub struct Sites<'a> {
    v1: Vec<(&'a str, &'a Path)>,
    v2: Option<&'a Path>,
    v2_controllers: BTreeSet<String>,
}

impl<'a> Sites<'a> {
    /// `enable`: first enable v2 controllers (apply); stats only looks.
    pub fn of(cg: &'a Cgroup, enable: bool) -> Sites<'a> {
        let mut v1 = Vec::new();
        let mut unified: Option<&CgroupDir> = None;
        for d in &cg.dirs {
            match d.kind() {
                Kind::V1 { controllers } => v1.push((controllers, d.path.as_path())),
                Kind::Unified => unified = Some(d),
            }
        }
        if let (true, Some(u)) = (enable, unified) {
            let pure = v1.is_empty();
            // Pure v2: the whole parent chain, as runc. Hybrid: the host's cgroup2 tree is
            // not ours to reconfigure, only the dirs carrack made.
            v2::enable_controllers(&u.path, |a| {
                pure || (u.created.iter().any(|c| c == a) && a != u.path)
            });
        }
        let v2 = unified.map(|u| u.path.as_path());
        Sites {
            v2_controllers: v2.map(v2::controllers).unwrap_or_default(),
            v1,
            v2,
        }
    }

    /// `v1name` on a v1 hierarchy first; else `v2name` if the unified dir has it enabled.
    pub fn serve(&self, v1name: &str, v2name: Option<&str>) -> Option<Serve<'a>> {
        if let Some((_, p)) = self.v1.iter().find(|(c, _)| v1::has_controller(c, v1name)) {
            return Some(Serve::V1(p));
        }
        match (v2name, self.v2) {
            (Some(n), Some(p)) if self.v2_controllers.contains(n) => Some(Serve::V2(p)),
            _ => None,
        }
    }

    pub fn unified(&self) -> Option<&'a Path> {
        self.v2
    }

    fn pure_v2(&self) -> bool {
        self.v1.is_empty() && self.v2.is_some()
    }

    fn need(&self, field: &str, v1name: &str, v2name: Option<&str>) -> Result<Serve<'a>> {
        match self.serve(v1name, v2name) {
            Some(s) => Ok(s),
            None => {
                let v2 = match (v2name, self.v2) {
                    (Some(n), Some(p)) => format!(
                        ", and {n:?} is not enabled in {} (cgroup.controllers: {:?})",
                        p.display(),
                        self.v2_controllers
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    (None, _) => " (it has no cgroup v2 counterpart)".to_string(),
                    _ => String::new(),
                };
                bail!("{field}: no {v1name} cgroup on this host: no v1 hierarchy has it{v2}")
            }
        }
    }
}

fn run(serve: Serve, writes: &[Write]) -> Result<()> {
    let (Serve::V1(d) | Serve::V2(d)) = serve;
    write::run(d, writes)
}

pub fn apply(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    let s = Sites::of(cg, true);
    if crate::rootless::cgroups() {
        // As runc: a rootless container's device rules are tried and their errors ignored
        // (a non-root user may not restrict devices); everything else must apply.
        if let Err(e) = devices(&s, r) {
            crate::logging::debug(&format!("rootless: device rules not applied: {e:#}"));
        }
        return apply_sites(&s, r, false);
    }
    apply_sites(&s, r, true)
}

/// `with_devices` false lets unit tests run everything else on a fake directory tree (a
/// BPF program cannot be attached to a tmpfs dir).
pub fn apply_sites(s: &Sites, r: &LinuxResources, with_devices: bool) -> Result<()> {
    cpuset(s, r)?;
    if with_devices {
        devices(s, r)?;
    }
    if let Some(m) = r.memory() {
        memory(s, m)?;
    }
    cpu(s, r)?;
    if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
        let at = s.need(&format!("{R}.pids"), "pids", Some("pids"))?;
        run(at, &v1::pids(p.limit()))?;
    }
    blkio(s, r)?;
    hugetlb(s, r)?;
    network(s, r)?;
    rdma(s, r)?;
    unified(s, r)
}

fn memory(s: &Sites, m: &LinuxMemory) -> Result<()> {
    if m.kernel().is_some() {
        crate::logging::warn(&format!(
            "{R}.memory.kernel ignored: kernel memory limits were removed from Linux"
        ));
    }
    let tcp = m.kernel_tcp().filter(|v| *v != 0);
    let set = m.limit().is_some_and(|v| v != 0)
        || m.swap().is_some_and(|v| v != 0)
        || m.reservation().is_some_and(|v| v != 0)
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
        || m.use_hierarchy().is_some()
        || tcp.is_some();
    if !set {
        return Ok(());
    }
    let tcp_ignored = || {
        crate::logging::warn(&format!(
            "{R}.memory.kernelTCP ignored: this kernel has no memory.kmem.tcp.limit_in_bytes"
        ))
    };
    match s.need(&format!("{R}.memory"), "memory", Some("memory"))? {
        Serve::V1(d) => {
            let mut w = v1::memory(d, m)?;
            match v1::kernel_tcp(d, m) {
                Some(t) => w.push(t),
                None if tcp.is_some() => tcp_ignored(),
                None => {}
            }
            write::run(d, &w)
        }
        Serve::V2(d) => {
            if tcp.is_some() {
                tcp_ignored();
            }
            for f in v2::memory_ignored(m) {
                crate::logging::warn(&format!(
                    "{R}.memory.{f} ignored: cgroup v2 has no such setting"
                ));
            }
            write::run(d, &v2::memory(d, m)?)
        }
    }
}

fn cpu(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    let set = c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some()
        || c.realtime_runtime().is_some_and(|v| v != 0)
        || c.realtime_period().is_some_and(|v| v != 0)
        || c.idle().is_some();
    if !set {
        return Ok(());
    }
    match s.need(&format!("{R}.cpu"), "cpu", Some("cpu"))? {
        Serve::V1(d) => write::run(d, &v1::cpu(c)),
        Serve::V2(d) => write::run(d, &v2::cpu(d, c)?),
    }
}

fn cpuset(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    let w = v1::cpuset(c);
    if w.is_empty() {
        return Ok(());
    }
    run(
        s.need(&format!("{R}.cpu.cpus/mems"), "cpuset", Some("cpuset"))?,
        &w,
    )
}

fn devices(s: &Sites, r: &LinuxResources) -> Result<()> {
    let rules = devices::rules(r.devices().as_deref().unwrap_or(&[]))?;
    if let Some(Serve::V1(d)) = s.serve("devices", None) {
        let list = crate::linux::fs::read_text(d.join("devices.list")).ok();
        return write::run(d, &devices::v1_writes(&rules, list.as_deref()));
    }
    // BPF needs no controller: on pure v2 it is the device cgroup. On a hybrid host without a
    // v1 devices hierarchy the host's own policy is left alone (runc does the same).
    match s.unified() {
        Some(u) if s.pure_v2() => {
            let state = devices::State::from_rules(rules.iter().map(|(_, r)| r));
            bpf::install(u, &state).map_err(|e| anyhow::anyhow!("{R}.devices: {e:#}"))
        }
        _ if r.devices().as_ref().is_some_and(|d| !d.is_empty()) => {
            bail!("{R}.devices: no devices cgroup on this host")
        }
        _ => Ok(()),
    }
}

fn blkio(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let any = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || v1::throttles(b).iter().any(|(_, l, _)| !l.is_empty());
    if !any {
        return Ok(());
    }
    match s.need(&format!("{R}.blockIO"), "blkio", Some("io"))? {
        Serve::V1(d) => write::run(d, &v1::blkio(d, b)),
        Serve::V2(d) => {
            if v2::io_ignored(b) {
                crate::logging::warn(&format!(
                    "{R}.blockIO leaf weights ignored: cgroup v2 has no leaf weight"
                ));
            }
            write::run(d, &v2::io(d, b))
        }
    }
}

fn hugetlb(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(h) = r.hugepage_limits().as_deref().filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    for (i, l) in h.iter().enumerate() {
        // It becomes part of a file name (hugetlb.<size>.limit_in_bytes): a `/` would
        // leave the cgroup directory.
        if !is_page_size(l.page_size()) {
            bail!(
                "{R}.hugepageLimits[{i}].pageSize {:?}: not a hugepage size such as 2MB or 1GB",
                l.page_size()
            );
        }
    }
    match s.need(&format!("{R}.hugepageLimits"), "hugetlb", Some("hugetlb"))? {
        Serve::V1(d) => write::run(d, &v1::hugetlb(h)),
        Serve::V2(d) => write::run(d, &v2::hugetlb(h)),
    }
}

/// The kernel's spelling of a hugepage size: digits and KB, MB or GB (hugetlb.2MB.max).
pub(super) fn is_page_size(s: &str) -> bool {
    // By bytes: a config's string may hold any character, and a str cut inside one panics.
    let s = s.as_bytes();
    let digits = s.len().saturating_sub(2);
    matches!(&s[digits..], b"KB" | b"MB" | b"GB")
        && digits > 0
        && s[..digits].iter().all(|b| b.is_ascii_digit())
        && s[0] != b'0'
}

fn network(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(n) = r.network() else { return Ok(()) };
    let cls = v1::net_cls(n);
    if !cls.is_empty() {
        run(
            s.need(&format!("{R}.network.classID"), "net_cls", None)?,
            &cls,
        )?;
    }
    let prio = v1::net_prio(n);
    if !prio.is_empty() {
        run(
            s.need(&format!("{R}.network.priorities"), "net_prio", None)?,
            &prio,
        )?;
    }
    Ok(())
}

/// rdma.max has the same format on v1 and v2: "<device> hca_handle=N hca_object=M".
pub fn rdma_writes(
    map: &std::collections::HashMap<String, oci_spec::runtime::LinuxRdma>,
) -> Vec<Write> {
    let mut devs: Vec<&String> = map.keys().collect();
    devs.sort();
    let mut out = Vec::new();
    for dev in devs {
        let l = &map[dev];
        let mut value = dev.clone();
        if let Some(h) = l.hca_handles() {
            value.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            value.push_str(&format!(" hca_object={o}"));
        }
        if value != *dev {
            out.push(Write::new(
                format!("{R}.rdma[{dev:?}]"),
                &value,
                "rdma.max",
                &value,
            ));
        }
    }
    out
}

fn rdma(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.rdma().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let w = rdma_writes(m);
    run(s.need(&format!("{R}.rdma"), "rdma", Some("rdma"))?, &w)
}

/// Last, so a raw key can override what the typed fields wrote (runc's order).
fn unified(s: &Sites, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    let Some(u) = s.unified() else {
        bail!("{R}.unified: this host has no cgroup v2 hierarchy");
    };
    write::run(u, &v2::unified(u, m)?)
}
