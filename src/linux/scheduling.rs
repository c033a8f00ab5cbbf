//! `process.scheduler`, `process.ioPriority`, `process.execCPUAffinity`, `linux.personality`
//! and `linux.memoryPolicy`: checked at create (errors name the field), applied by init or
//! the exec child just before execve, while it still has its capabilities.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};

/// struct sched_attr, SCHED_ATTR_SIZE_VER1 (56 bytes: the kernel refuses the UTIL_CLAMP
/// flags with the 48-byte VER0; the spec has no utilization values, so they stay 0 as in runc).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
    util_min: u32,
    util_max: u32,
}

/// oci-spec 0.10 spells two flags differently from the spec (SCHED_RESET_ON_FORK,
/// SCHED_FLAG_D_L_OVERRUN): a config using the spec's names is rewritten before parsing.
pub fn respell_flags(process: &mut serde_json::Value) {
    let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    else {
        return;
    };
    for f in flags {
        match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => *f = "SCHED_RESET_ON_FORK".into(),
            Some("SCHED_FLAG_DL_OVERRUN") => *f = "SCHED_FLAG_D_L_OVERRUN".into(),
            _ => {}
        }
    }
}

fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

pub fn check_scheduler(s: &Scheduler) -> Result<()> {
    let f = "process.scheduler";
    let nice = s.nice().unwrap_or(0);
    let fair = matches!(
        s.policy(),
        LinuxSchedulerPolicy::SchedOther | LinuxSchedulerPolicy::SchedBatch
    );
    if fair && !(-20..=19).contains(&nice) {
        bail!("{f}.nice {nice}: must be from -20 to 19");
    }
    let deadline_params = s.runtime().is_some() || s.deadline().is_some() || s.period().is_some();
    if deadline_params && *s.policy() != LinuxSchedulerPolicy::SchedDeadline {
        bail!("{f}: runtime, deadline and period are for SCHED_DEADLINE only");
    }
    let prio = s.priority().unwrap_or(0);
    let realtime = matches!(
        s.policy(),
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    if realtime && !(1..=99).contains(&prio) {
        bail!("{f}.priority {prio}: SCHED_FIFO and SCHED_RR need 1 to 99");
    }
    if !realtime && prio != 0 {
        bail!("{f}.priority {prio}: only SCHED_FIFO and SCHED_RR take a priority");
    }
    if *s.policy() == LinuxSchedulerPolicy::SchedDeadline {
        let (r, d, p) = (
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        );
        if r == 0 || d == 0 {
            bail!("{f}: SCHED_DEADLINE needs runtime and deadline");
        }
        if r > d || (p != 0 && d > p) {
            bail!("{f}: SCHED_DEADLINE needs runtime <= deadline <= period");
        }
    }
    Ok(())
}

pub fn apply_scheduler(s: &Scheduler) -> Result<()> {
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy_number(*s.policy()),
        flags: s
            .flags()
            .iter()
            .flatten()
            .map(|f| flag_bit(*f))
            .fold(0, |a, b| a | b),
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: SchedAttr is repr(C) with the kernel's sched_attr (VER1) layout and its own size in
    // `size`; it is a live local.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("process.scheduler: sched_setattr");
    }
    Ok(())
}

pub fn check_io_priority(p: &LinuxIOPriority) -> Result<()> {
    if !(0..=7).contains(&p.priority()) {
        bail!(
            "process.ioPriority.priority {}: must be from 0 (highest) to 7",
            p.priority()
        );
    }
    Ok(())
}

pub fn apply_io_priority(p: &LinuxIOPriority) -> Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let class: i64 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let value = class << 13 | p.priority();
    // SAFETY: ioprio_set takes integers only.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("process.ioPriority: ioprio_set");
    }
    Ok(())
}

/// "0-3,7" -> [0, 1, 2, 3, 7].
pub fn parse_cpu_list(field: &str, list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let bad = || anyhow::anyhow!("{field} {list:?}: not a CPU list such as 0-3,7");
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<usize>().map_err(|_| bad())?,
                b.parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b || b >= libc::CPU_SETSIZE as usize {
            return Err(bad());
        }
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

pub fn apply_cpu_affinity(field: &str, list: &str) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for cpu in parse_cpu_list(field, list)? {
        set.set(cpu)
            .with_context(|| format!("{field}: CPU {cpu}"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("{field} {list:?}: sched_setaffinity"))
}

pub fn check_personality(p: &LinuxPersonality) -> Result<()> {
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        bail!("linux.personality.flags {f:?}: no flags are defined");
    }
    Ok(())
}

pub fn apply_personality(p: &LinuxPersonality) -> Result<()> {
    let domain: libc::c_ulong = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality takes an integer and touches no memory of ours.
    if unsafe { libc::personality(domain) } < 0 {
        return Err(std::io::Error::last_os_error()).context("linux.personality: personality");
    }
    Ok(())
}

fn mempolicy_parts(m: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>, u64)> {
    let mode = match m.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    let flags = m.flags().iter().flatten().fold(0, |a, f| {
        a | match f {
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
        }
    });
    let nodes = match m.nodes().as_deref().filter(|n| !n.is_empty()) {
        Some(n) => parse_cpu_list("linux.memoryPolicy.nodes", n)?,
        None => Vec::new(),
    };
    let needs_nodes = matches!(mode, 2 | 3 | 5 | 6);
    if needs_nodes && nodes.is_empty() {
        bail!("linux.memoryPolicy.nodes: required with {:?}", m.mode());
    }
    if matches!(mode, 0 | 4) && !nodes.is_empty() {
        bail!(
            "linux.memoryPolicy.nodes: must be empty with {:?}",
            m.mode()
        );
    }
    let mut mask = vec![0u64; nodes.iter().max().map_or(1, |n| n / 64 + 1)];
    for n in &nodes {
        mask[n / 64] |= 1 << (n % 64);
    }
    let maxnode = mask.len() as u64 * 64 + 1;
    Ok((mode | flags, mask, maxnode))
}

pub fn check_memory_policy(m: &LinuxMemoryPolicy) -> Result<()> {
    mempolicy_parts(m).map(|_| ())
}

pub fn apply_memory_policy(m: &LinuxMemoryPolicy) -> Result<()> {
    let (mode, mask, maxnode) = mempolicy_parts(m)?;
    // SAFETY: the kernel reads (maxnode - 1) / 64 u64 words from `mask`: exactly mask.len(), a live
    // Vec (mempolicy_parts sets maxnode so).
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask.as_ptr(), maxnode) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("linux.memoryPolicy: set_mempolicy");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("f", "0-3,7").unwrap(), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse_cpu_list("f", "5").unwrap(), vec![5]);
        for bad in ["", "a", "3-1", "1-", "-1", "0,,1", "99999"] {
            let e = parse_cpu_list("process.execCPUAffinity.final", bad).unwrap_err();
            assert!(
                e.to_string().contains("process.execCPUAffinity.final"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn scheduler_checks_name_the_field() {
        let s: Scheduler = serde_json::from_str(r#"{"policy":"SCHED_OTHER","nice":25}"#).unwrap();
        assert!(check_scheduler(&s)
            .unwrap_err()
            .to_string()
            .contains("process.scheduler.nice"));
        let s: Scheduler = serde_json::from_str(r#"{"policy":"SCHED_FIFO"}"#).unwrap();
        assert!(check_scheduler(&s).is_err());
        let s: Scheduler = serde_json::from_str(r#"{"policy":"SCHED_BATCH","nice":5}"#).unwrap();
        check_scheduler(&s).unwrap();
    }

    #[test]
    fn spec_flag_names_parse() {
        let mut v = serde_json::json!({"scheduler": {"policy": "SCHED_OTHER",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]}});
        respell_flags(&mut v);
        let s: Scheduler = serde_json::from_value(v["scheduler"].clone()).unwrap();
        let bits = s.flags().iter().flatten().fold(0, |a, f| a | flag_bit(*f));
        assert_eq!(bits, 0x01 | 0x04 | 0x02);
    }

    #[test]
    fn memory_policy_modes_and_nodes() {
        let m: LinuxMemoryPolicy = serde_json::from_str(
            r#"{"mode":"MPOL_BIND","nodes":"0-1,65","flags":["MPOL_F_STATIC_NODES"]}"#,
        )
        .unwrap();
        let (mode, mask, maxnode) = mempolicy_parts(&m).unwrap();
        assert_eq!(mode, 2 | 1 << 15);
        assert_eq!(mask, vec![0b11, 0b10]);
        assert_eq!(maxnode, 129);
        let m: LinuxMemoryPolicy = serde_json::from_str(r#"{"mode":"MPOL_BIND"}"#).unwrap();
        assert!(check_memory_policy(&m).is_err());
    }
}
