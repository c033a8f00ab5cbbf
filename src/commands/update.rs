//! update: runc's flags, or a LinuxResources JSON (`-r file`, `-r -` for stdin: what the
//! containerd shim sends), merged into the container's resources.

use crate::cli::UpdateArgs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::path::Path;

pub fn run(root: &Path, a: &UpdateArgs) -> Result<()> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("update: Intel RDT is not supported (no resctrl on this host)");
    }
    let resources = resources(a)?;
    Ok(carrack::update(root, &a.id, &resources)?)
}

/// The resources to change: `-r`'s, amended by the flags. Only the fields set replace the
/// container's own (the library merges them).
fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut changes = match &a.resources {
        Some(p) => read_resources(p)?,
        None => json!({}),
    };
    apply_flags(a, &mut changes)?;
    unlimited_memory_lifts_swap(&mut changes);
    carrack::config::from_json_value(&changes).context("update: resources")
}

/// As runc: `memory.limit` -1 (unlimited) with no swap in the same update lifts the swap limit
/// too. Swap 0 tells the cgroup layer to do so where swap is accounted (cgroups/v1.rs); the
/// stored swap would otherwise stay below the new unlimited memory, which the kernel refuses.
fn unlimited_memory_lifts_swap(v: &mut Value) {
    let Some(m) = v.get_mut("memory").and_then(Value::as_object_mut) else {
        return;
    };
    if m.get("limit") == Some(&json!(-1)) && m.get("swap").is_none_or(Value::is_null) {
        m.insert("swap".into(), json!(0));
    }
}

fn read_resources(p: &Path) -> Result<Value> {
    let text = if p == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("--resources -: read stdin")?;
        s
    } else {
        std::fs::read_to_string(p).with_context(|| format!("--resources {}", p.display()))?
    };
    let v: Value = serde_json::from_str(&text).context("--resources: not JSON")?;
    if !v.is_object() {
        bail!("--resources: must be a JSON object (linux.resources)");
    }
    Ok(v)
}

fn apply_flags(a: &UpdateArgs, v: &mut Value) -> Result<()> {
    fn set(v: &mut Value, section: &str, key: &str, val: Value) {
        let obj = v.as_object_mut().expect("an object");
        let sec = obj
            .entry(section)
            .or_insert_with(|| Value::Object(Map::new()));
        if !sec.is_object() {
            *sec = Value::Object(Map::new());
        }
        sec.as_object_mut()
            .expect("an object")
            .insert(key.into(), val);
    }
    let bytes = |flag: &str, s: &Option<String>| -> Result<Option<i64>> {
        s.as_deref()
            .map(|x| parse_bytes(x).with_context(|| format!("--{flag} {x:?}")))
            .transpose()
    };
    if let Some(w) = a.blkio_weight {
        set(v, "blockIO", "weight", json!(w));
    }
    for (key, val) in [
        ("period", a.cpu_period.map(|x| json!(x))),
        ("quota", a.cpu_quota.map(|x| json!(x))),
        ("shares", a.cpu_share.map(|x| json!(x))),
        ("burst", a.cpu_burst.map(|x| json!(x))),
        ("idle", a.cpu_idle.map(|x| json!(x))),
        ("realtimePeriod", a.cpu_rt_period.map(|x| json!(x))),
        ("realtimeRuntime", a.cpu_rt_runtime.map(|x| json!(x))),
        ("cpus", a.cpuset_cpus.clone().map(Value::from)),
        ("mems", a.cpuset_mems.clone().map(Value::from)),
    ] {
        if let Some(val) = val {
            set(v, "cpu", key, val);
        }
    }
    for (flag, key, s) in [
        ("memory", "limit", &a.memory),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("memory-swap", "swap", &a.memory_swap),
        ("kernel-memory", "kernel", &a.kernel_memory),
        ("kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(n) = bytes(flag, s)? {
            set(v, "memory", key, json!(n));
        }
    }
    if let Some(p) = a.pids_limit {
        set(v, "pids", "limit", json!(p));
    }
    Ok(())
}

/// "-1", "1024", "64m", "1.5g" (1024-based, case-insensitive, optional trailing "b").
pub fn parse_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| anyhow::anyhow!("not a size"))?;
    if n < 0.0 {
        bail!("negative size");
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("2kb").unwrap(), 2048);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn flags_become_resources() {
        let a = UpdateArgs {
            memory: Some("128m".into()),
            memory_swap: Some("256m".into()),
            cpu_quota: Some(50000),
            pids_limit: Some(10),
            ..Default::default()
        };
        let mut v = json!({"cpu": {"period": 100000}});
        apply_flags(&a, &mut v).unwrap();
        assert_eq!(v["memory"]["limit"], 128 << 20);
        assert_eq!(v["memory"]["swap"], 256 << 20);
        assert_eq!(v["cpu"]["quota"], 50000);
        assert_eq!(v["cpu"]["period"], 100000);
        assert_eq!(v["pids"]["limit"], 10);
    }

    /// The library merges what is set: the typed resources must carry nothing more than the
    /// JSON and the flags gave (no defaults of unset fields).
    #[test]
    fn typed_resources_carry_only_what_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.json");
        let given = json!({
            "memory": {"limit": 1 << 20, "swap": 2 << 20},
            "cpu": {"shares": 512, "quota": -1, "period": 100000, "cpus": "0-1"},
            "pids": {"limit": 50},
            "blockIO": {"weight": 100},
            "devices": [{"allow": false, "access": "rwm"}],
            "unified": {"memory.high": "max"}
        });
        std::fs::write(&file, given.to_string()).unwrap();
        let a = UpdateArgs {
            resources: Some(file),
            memory: Some("64m".into()),
            ..Default::default()
        };
        let mut want = given;
        want["memory"]["limit"] = json!(64 << 20);
        assert_eq!(serde_json::to_value(resources(&a).unwrap()).unwrap(), want);
        let a = UpdateArgs {
            pids_limit: Some(7),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(resources(&a).unwrap()).unwrap(),
            json!({"pids": {"limit": 7}})
        );
    }

    #[test]
    fn minus_one_is_unlimited_and_memory_minus_one_lifts_swap() {
        let a = UpdateArgs {
            memory: Some("-1".into()),
            pids_limit: Some(-1),
            cpu_quota: Some(-1),
            ..Default::default()
        };
        let mut v = json!({});
        apply_flags(&a, &mut v).unwrap();
        unlimited_memory_lifts_swap(&mut v);
        assert_eq!(v["memory"], json!({"limit": -1, "swap": 0}));
        assert_eq!(
            (v["pids"]["limit"].clone(), v["cpu"]["quota"].clone()),
            (json!(-1), json!(-1))
        );
        let mut v = json!({"memory": {"limit": -1, "swap": 1 << 30}});
        unlimited_memory_lifts_swap(&mut v);
        assert_eq!(v["memory"]["swap"], 1 << 30, "an explicit swap stays");
    }
}
