//! linux.resources and runc's `org.systemd.property.*` annotations as systemd unit
//! properties (runc's genV1/genV2ResourcesProperties). What systemd cannot express is written
//! to the cgroup files afterwards (cgroups::apply), as runc's driver does.

use crate::cgroups::dbus::{prop, Value};
use crate::cgroups::{devices, v2};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;

const R: &str = "linux.resources";

/// All properties for `r` (`unified`: a pure v2 host) plus the annotations'.
pub fn properties(
    r: &LinuxResources,
    annotations: &HashMap<String, String>,
    unified: bool,
    with_devices: bool,
) -> Result<Vec<Value>> {
    let mut p = Vec::new();
    for acct in ["MemoryAccounting", "CPUAccounting", "TasksAccounting"] {
        p.push(prop(acct, Value::Bool(true)));
    }
    p.push(prop(
        if unified {
            "IOAccounting"
        } else {
            "BlockIOAccounting"
        },
        Value::Bool(true),
    ));
    resources(r, unified, &mut p)?;
    if with_devices {
        devices(r, &mut p)?;
    }
    p.extend(annotation_props(annotations)?);
    Ok(p)
}

/// update: only the resource properties.
pub fn update_properties(r: &LinuxResources, unified: bool) -> Result<Vec<Value>> {
    let mut p = Vec::new();
    resources(r, unified, &mut p)?;
    devices(r, &mut p)?;
    Ok(p)
}

fn u64v(v: i64) -> Value {
    // -1 (unlimited) is systemd's infinity, u64::MAX.
    Value::U64(v as u64)
}

fn resources(r: &LinuxResources, unified: bool, p: &mut Vec<Value>) -> Result<()> {
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        if limit != 0 {
            p.push(prop(
                if unified { "MemoryMax" } else { "MemoryLimit" },
                u64v(limit),
            ));
        }
        if unified {
            if let Some(low) = m.reservation().filter(|v| *v != 0) {
                p.push(prop("MemoryLow", u64v(low)));
            }
            let swap = m.swap().unwrap_or(0);
            let v = v2::swap_value(swap, limit)
                .map_err(|e| anyhow::anyhow!("{R}.memory.swap {swap}: {e}"))?;
            if v != 0 || (swap > 0 && swap == limit) {
                p.push(prop("MemorySwapMax", u64v(v)));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            p.push(if unified {
                prop("CPUWeight", Value::U64(v2::cpu_weight(s)))
            } else {
                prop("CPUShares", Value::U64(s))
            });
        }
        cpu_quota(c.quota().unwrap_or(0), c.period().unwrap_or(0), p);
        if unified {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                p.push(prop("AllowedCPUs", bits(cpus, &format!("{R}.cpu.cpus"))?));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                p.push(prop(
                    "AllowedMemoryNodes",
                    bits(mems, &format!("{R}.cpu.mems"))?,
                ));
            }
        }
    }
    if let Some(l) = r.pids().map(|p| p.limit()).filter(|l| *l > 0 || *l == -1) {
        p.push(prop("TasksMax", u64v(l)));
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        p.push(if unified {
            prop("IOWeight", Value::U64(v2::io_weight(w)))
        } else {
            prop("BlockIOWeight", Value::U64(w as u64))
        });
    }
    Ok(())
}

/// runc's addCpuQuota: the period as is, the quota as µs per CPU-second rounded up to
/// systemd's 1% (10 ms) steps so the cgroup's cpu.max can still hold the exact value.
fn cpu_quota(quota: i64, period: u64, p: &mut Vec<Value>) {
    if period != 0 {
        p.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = u64::MAX;
    if quota > 0 {
        let period = if period == 0 { 100_000 } else { period };
        per_sec = quota as u64 * 1_000_000 / period;
        if per_sec % 10_000 != 0 {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    p.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// "0-2,4" → systemd's CPU set bytes: bit i of byte j is CPU 8j+i.
fn bits(list: &str, field: &str) -> Result<Value> {
    let mut out: Vec<u8> = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) else {
            bail!("{field} {list:?}: not a list of numbers and ranges");
        };
        if a > b || b >= 8192 {
            bail!("{field} {list:?}: bad range {part:?}");
        }
        for i in a..=b {
            if out.len() <= i / 8 {
                out.resize(i / 8 + 1, 0);
            }
            out[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(Value::Array(
        "y".into(),
        out.into_iter().map(Value::Byte).collect(),
    ))
}

/// The effective device rules (deny-all, the config's, runc's defaults) as DevicePolicy and
/// DeviceAllow: "auto" when everything is allowed, else "strict" with an allow list of
/// `/dev/{char,block}/M:m`, `char-GROUP` (a whole major, named as in /proc/devices) and
/// `char-*`/`block-*` entries, as runc's generateDeviceProperties.
fn devices(r: &LinuxResources, p: &mut Vec<Value>) -> Result<()> {
    let rules = devices::rules(r.devices().as_deref().unwrap_or(&[]))?;
    let state = devices::State::from_rules(rules.iter().map(|(_, r)| r));
    if state.default_allow {
        p.push(prop("DevicePolicy", Value::str("auto")));
        return Ok(());
    }
    p.push(prop("DevicePolicy", Value::str("strict")));
    let groups = std::fs::read_to_string("/proc/devices").unwrap_or_default();
    let mut allow = Vec::new();
    for e in &state.exceptions {
        let kind = if e.typ == 'b' { "block" } else { "char" };
        let path = match (e.major, e.minor) {
            (None, _) => format!("{kind}-*"),
            (Some(maj), None) => match device_group(&groups, kind, maj) {
                Some(g) => format!("{kind}-{g}"),
                // runc skips a major no driver registered: nothing can use it anyway.
                None => continue,
            },
            (Some(maj), Some(min)) => format!("/dev/{kind}/{maj}:{min}"),
        };
        allow.push(Value::Struct(vec![
            Value::Str(path),
            Value::Str(devices::access_str(e.access)),
        ]));
    }
    p.push(prop("DeviceAllow", Value::Array("(ss)".into(), allow)));
    Ok(())
}

/// The name /proc/devices gives `major` in its "Character devices:"/"Block devices:" part.
fn device_group(text: &str, kind: &str, major: u32) -> Option<String> {
    let header = if kind == "block" {
        "Block devices:"
    } else {
        "Character devices:"
    };
    let mut inside = false;
    for line in text.lines() {
        if line.ends_with("devices:") {
            inside = line == header;
            continue;
        }
        let mut f = line.split_whitespace();
        if inside && f.next().and_then(|m| m.parse::<u32>().ok()) == Some(major) {
            return f.next().map(str::to_string);
        }
    }
    None
}

const ANNOTATION: &str = "org.systemd.property.";

/// runc's `org.systemd.property.NAME=VALUE` annotations: VALUE in GVariant text form (the
/// subset engines use: booleans, typed and untyped integers, doubles, quoted strings, string
/// arrays). A NAME ending in a lowercase letter + "Sec" is seconds, sent as NAME-"Sec"+"USec".
pub fn annotation_props(a: &HashMap<String, String>) -> Result<Vec<Value>> {
    let mut keys: Vec<&String> = a.keys().filter(|k| k.starts_with(ANNOTATION)).collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let field = format!("annotations[{k:?}]");
        let name = &k[ANNOTATION.len()..];
        let mut chars = name.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            || !chars.all(|c| c.is_ascii_alphanumeric())
        {
            bail!("{field}: {name:?} is not a systemd property name");
        }
        let value = parse_gvariant(a[k].trim()).with_context(|| format!("{field}: {:?}", a[k]))?;
        let secs = name
            .strip_suffix("Sec")
            .filter(|t| t.chars().last().is_some_and(|c| c.is_ascii_lowercase()));
        match secs {
            Some(stem) => out.push(prop(&format!("{stem}USec"), sec_to_usec(&value, &field)?)),
            None => out.push(prop(name, value)),
        }
    }
    Ok(out)
}

fn sec_to_usec(v: &Value, field: &str) -> Result<Value> {
    let us = match v {
        Value::U64(n) => n.checked_mul(1_000_000),
        Value::U32(n) => (*n as u64).checked_mul(1_000_000),
        Value::I32(n) if *n >= 0 => (*n as u64).checked_mul(1_000_000),
        Value::I64(n) if *n >= 0 => (*n as u64).checked_mul(1_000_000),
        Value::Double(d) if *d >= 0.0 => Some((d * 1e6) as u64),
        _ => None,
    };
    match us {
        Some(us) => Ok(Value::U64(us)),
        None => bail!("{field}: a number of seconds is expected"),
    }
}

fn parse_gvariant(s: &str) -> Result<Value> {
    match s {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some((ty, n)) = s.split_once(' ') {
        let n = n.trim();
        let bad = || anyhow::anyhow!("not a {ty}");
        return Ok(match ty {
            "uint64" | "@t" => Value::U64(n.parse().map_err(|_| bad())?),
            "int64" | "@x" => Value::I64(n.parse().map_err(|_| bad())?),
            "uint32" | "@u" => Value::U32(n.parse().map_err(|_| bad())?),
            "int32" | "@i" => Value::I32(n.parse().map_err(|_| bad())?),
            "double" | "@d" => Value::Double(n.parse().map_err(|_| bad())?),
            "boolean" | "@b" => match n {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad()),
            },
            _ if ty.starts_with('[') || ty.starts_with('\'') || ty.starts_with('"') => {
                return parse_untyped(s)
            }
            _ => bail!("cannot parse the GVariant value (type {ty:?} is not supported)"),
        });
    }
    parse_untyped(s)
}

fn parse_untyped(s: &str) -> Result<Value> {
    if let Some(inner) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        let mut items = Vec::new();
        for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match parse_untyped(part)? {
                v @ Value::Str(_) => items.push(v),
                _ => bail!("only arrays of strings are supported"),
            }
        }
        return Ok(Value::Array("s".into(), items));
    }
    for q in ['\'', '"'] {
        if let Some(t) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return Ok(Value::Str(t.to_string()));
        }
    }
    // GVariant: an untyped integer is an int32 (a larger one int64), with a '.' a double.
    if let Ok(n) = s.parse::<i32>() {
        return Ok(Value::I32(n));
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Value::I64(n));
    }
    if s.contains('.') {
        if let Ok(d) = s.parse::<f64>() {
            return Ok(Value::Double(d));
        }
    }
    bail!("cannot parse the GVariant value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(p: &'a [Value], name: &str) -> Option<&'a Value> {
        p.iter().find_map(|v| match v {
            Value::Struct(f) if f[0] == Value::str(name) => match &f[1] {
                Value::Variant(inner) => Some(&**inner),
                _ => None,
            },
            _ => None,
        })
    }

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn resources_v2() {
        let r = res(
            r#"{"memory":{"limit":104857600,"reservation":52428800,"swap":209715200},
            "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-2,9","mems":"0"},
            "pids":{"limit":42},"blockIO":{"weight":500}}"#,
        );
        let p = properties(&r, &HashMap::new(), true, false).unwrap();
        assert_eq!(find(&p, "MemoryMax"), Some(&Value::U64(104857600)));
        assert_eq!(find(&p, "MemoryLow"), Some(&Value::U64(52428800)));
        assert_eq!(find(&p, "MemorySwapMax"), Some(&Value::U64(104857600)));
        assert_eq!(find(&p, "CPUWeight"), Some(&Value::U64(100)));
        assert_eq!(find(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(find(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(
            find(&p, "AllowedCPUs"),
            Some(&Value::Array(
                "y".into(),
                vec![Value::Byte(0b111), Value::Byte(0b10)]
            ))
        );
        assert_eq!(find(&p, "TasksMax"), Some(&Value::U64(42)));
        assert_eq!(find(&p, "IOWeight"), Some(&Value::U64(v2::io_weight(500))));
        assert_eq!(find(&p, "IOAccounting"), Some(&Value::Bool(true)));
        // Unlimited is systemd's infinity; a fractional percent rounds up to 1%.
        let r = res(
            r#"{"memory":{"limit":-1},"cpu":{"quota":1234,"period":100000},"pids":{"limit":-1}}"#,
        );
        let p = properties(&r, &HashMap::new(), true, false).unwrap();
        assert_eq!(find(&p, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(find(&p, "MemorySwapMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(find(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(20_000)));
        assert_eq!(find(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
        let e = properties(
            &res(r#"{"memory":{"limit":100,"swap":50}}"#),
            &HashMap::new(),
            true,
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("linux.resources.memory.swap 50"),
            "{e}"
        );
        let e = properties(
            &res(r#"{"cpu":{"cpus":"3-1"}}"#),
            &HashMap::new(),
            true,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("linux.resources.cpu.cpus"), "{e}");
    }

    #[test]
    fn resources_v1_names() {
        let r =
            res(r#"{"memory":{"limit":1048576},"cpu":{"shares":512},"blockIO":{"weight":300}}"#);
        let p = properties(&r, &HashMap::new(), false, false).unwrap();
        assert_eq!(find(&p, "MemoryLimit"), Some(&Value::U64(1048576)));
        assert_eq!(find(&p, "CPUShares"), Some(&Value::U64(512)));
        assert_eq!(find(&p, "BlockIOWeight"), Some(&Value::U64(300)));
        assert!(find(&p, "MemoryMax").is_none() && find(&p, "CPUWeight").is_none());
    }

    #[test]
    fn device_rules() {
        let r =
            res(r#"{"devices":[{"allow":true,"type":"c","major":10,"minor":200,"access":"rw"}]}"#);
        let mut p = Vec::new();
        devices(&r, &mut p).unwrap();
        assert_eq!(find(&p, "DevicePolicy"), Some(&Value::str("strict")));
        let Some(Value::Array(_, allow)) = find(&p, "DeviceAllow") else {
            panic!("{p:?}")
        };
        let entry = |a: &str, b: &str| Value::Struct(vec![Value::str(a), Value::str(b)]);
        assert!(
            allow.contains(&entry("/dev/char/10:200", "rw")),
            "{allow:?}"
        );
        assert!(allow.contains(&entry("/dev/char/1:3", "rwm")), "{allow:?}");
        assert!(allow.contains(&entry("char-*", "m")) && allow.contains(&entry("block-*", "m")));
        let r = res(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#);
        let mut p = Vec::new();
        devices(&r, &mut p).unwrap();
        assert_eq!(find(&p, "DevicePolicy"), Some(&Value::str("auto")));
        let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(device_group(text, "char", 136).as_deref(), Some("pts"));
        assert_eq!(device_group(text, "block", 8).as_deref(), Some("sd"));
        assert_eq!(device_group(text, "block", 136), None);
    }

    #[test]
    fn annotations() {
        let a: HashMap<String, String> = [
            ("org.systemd.property.TimeoutStopSec", "uint64 15"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.CPUQuotaPeriodUSec", "uint64 20000"),
            ("org.systemd.property.Wants", "['a.service', \"b.service\"]"),
            ("org.systemd.property.IgnoreOnIsolate", "true"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = annotation_props(&a).unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(find(&p, "TimeoutStopUSec"), Some(&Value::U64(15_000_000)));
        assert_eq!(
            find(&p, "CollectMode"),
            Some(&Value::str("inactive-or-failed"))
        );
        assert_eq!(find(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(20000)));
        assert_eq!(find(&p, "IgnoreOnIsolate"), Some(&Value::Bool(true)));
        assert_eq!(
            find(&p, "Wants"),
            Some(&Value::Array(
                "s".into(),
                vec![Value::str("a.service"), Value::str("b.service")]
            ))
        );
        for (k, v) in [
            ("org.systemd.property.Bad-Name", "1"),
            ("org.systemd.property.X", "{1}"),
        ] {
            let a = HashMap::from([(k.to_string(), v.to_string())]);
            let e = annotation_props(&a).unwrap_err();
            assert!(format!("{e:#}").starts_with("annotations["), "{e:#}");
        }
    }
}
