//! `Cgroup::stats`: the "data" object of runc's `events --stats`, read from whichever
//! hierarchy serves each controller. Field names and Go's `omitempty` (a zero number or an
//! empty list is left out) follow runc's types, so tools that parse runc's output parse ours;
//! keys are inserted in the order of runc's struct fields, which serde_json keeps.

use super::resources::{Serve, Sites};
use super::Cgroup;
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// USER_HZ: the unit of cpuacct.stat.
const CLOCK_TICKS: u64 = 100;

fn text(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

/// A one-number file; "max" reads as `max`.
fn num(dir: &Path, file: &str, max: u64) -> u64 {
    match text(dir, file).as_deref().map(str::trim) {
        Some("max") => max,
        Some(s) => s.parse().unwrap_or(0),
        None => 0,
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events).
pub fn flat_keyed(t: &str) -> BTreeMap<String, u64> {
    t.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    text(dir, file).map(|t| flat_keyed(&t)).unwrap_or_default()
}

/// An object of numbers; `omit` lists the keys runc tags omitempty.
fn obj(pairs: &[(&str, u64)], omit: &[&str]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if *v != 0 || !omit.contains(k) {
            m.insert((*k).to_string(), json!(v));
        }
    }
    Value::Object(m)
}

fn insert_list(m: &mut Map<String, Value>, key: &str, v: Vec<u64>) {
    if !v.is_empty() {
        m.insert(key.into(), json!(v));
    }
}

pub fn collect(cg: &Cgroup) -> Result<Value> {
    let s = Sites::of(cg, false);
    let mut data = Map::new();
    data.insert("cpu".into(), cpu(&s));
    data.insert("cpuset".into(), cpuset(&s));
    data.insert("memory".into(), memory(&s));
    data.insert("pids".into(), pids(&s));
    data.insert("blkio".into(), blkio(&s));
    data.insert("hugetlb".into(), hugetlb(&s));
    data.insert("intel_rdt".into(), json!({}));
    // Filled by the caller, which knows the container's network namespace.
    data.insert("network_interfaces".into(), Value::Null);
    Ok(Value::Object(data))
}

fn cpu(s: &Sites) -> Value {
    let mut usage = Map::new();
    let mut throttling = (0, 0, 0);
    let mut kernel_user = (0, 0);
    match s.serve("cpuacct", Some("cpu")) {
        Some(Serve::V1(d)) => {
            usage.insert("total".into(), json!(num(d, "cpuacct.usage", 0)));
            let percpu = |f: &str| -> Vec<u64> {
                text(d, f)
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            };
            insert_list(&mut usage, "percpu", percpu("cpuacct.usage_percpu"));
            insert_list(
                &mut usage,
                "percpu_kernel",
                percpu("cpuacct.usage_percpu_sys"),
            );
            insert_list(
                &mut usage,
                "percpu_user",
                percpu("cpuacct.usage_percpu_user"),
            );
            let st = keyed(d, "cpuacct.stat");
            let ns = |t: u64| t * (1_000_000_000 / CLOCK_TICKS);
            kernel_user = (
                ns(st.get("system").copied().unwrap_or(0)),
                ns(st.get("user").copied().unwrap_or(0)),
            );
        }
        Some(Serve::V2(d)) => {
            let st = keyed(d, "cpu.stat");
            let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
            usage.insert("total".into(), json!(us("usage_usec")));
            kernel_user = (us("system_usec"), us("user_usec"));
            throttling = (
                st.get("nr_periods").copied().unwrap_or(0),
                st.get("nr_throttled").copied().unwrap_or(0),
                us("throttled_usec"),
            );
        }
        None => {}
    }
    if let Some(Serve::V1(d)) = s.serve("cpu", None) {
        let st = keyed(d, "cpu.stat");
        let g = |k: &str| st.get(k).copied().unwrap_or(0);
        throttling = (g("nr_periods"), g("nr_throttled"), g("throttled_time"));
    }
    if usage.get("total").is_some_and(|v| v == 0) {
        usage.remove("total");
    }
    usage.insert("kernel".into(), json!(kernel_user.0));
    usage.insert("user".into(), json!(kernel_user.1));
    json!({
        "usage": usage,
        "throttling": obj(
            &[("periods", throttling.0), ("throttledPeriods", throttling.1), ("throttledTime", throttling.2)],
            &["periods", "throttledPeriods", "throttledTime"],
        ),
    })
}

/// "0-2,5" → [0, 1, 2, 5].
pub fn parse_list(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<u64>().ok()),
        }
    }
    out
}

fn cpuset(s: &Sites) -> Value {
    let mut m = Map::new();
    let files = match s.serve("cpuset", Some("cpuset")) {
        Some(Serve::V1(d)) => Some((d, "cpuset.cpus", "cpuset.mems")),
        Some(Serve::V2(d)) => Some((d, "cpuset.cpus.effective", "cpuset.mems.effective")),
        None => None,
    };
    if let Some((d, c, mm)) = files {
        insert_list(&mut m, "cpus", parse_list(&text(d, c).unwrap_or_default()));
        insert_list(&mut m, "mems", parse_list(&text(d, mm).unwrap_or_default()));
    }
    Value::Object(m)
}

const ENTRY_OMIT: &[&str] = &["usage", "max"];

fn mem_entry(d: &Path, prefix: &str) -> Value {
    let f = |n: &str| format!("{prefix}{n}");
    obj(
        &[
            ("limit", num(d, &f("limit_in_bytes"), u64::MAX)),
            ("usage", num(d, &f("usage_in_bytes"), 0)),
            ("max", num(d, &f("max_usage_in_bytes"), 0)),
            ("failcnt", num(d, &f("failcnt"), 0)),
        ],
        ENTRY_OMIT,
    )
}

fn memory(s: &Sites) -> Value {
    let mut m = Map::new();
    let (raw, cache_key) = match s.serve("memory", Some("memory")) {
        Some(Serve::V1(d)) => {
            m.insert("usage".into(), mem_entry(d, "memory."));
            m.insert("swap".into(), mem_entry(d, "memory.memsw."));
            m.insert("kernel".into(), mem_entry(d, "memory.kmem."));
            m.insert("kernelTCP".into(), mem_entry(d, "memory.kmem.tcp."));
            (keyed(d, "memory.stat"), "cache")
        }
        Some(Serve::V2(d)) => {
            let usage = num(d, "memory.current", 0);
            let limit = num(d, "memory.max", u64::MAX);
            let events = keyed(d, "memory.events");
            let failcnt = events.get("max").copied().unwrap_or(0);
            let entry = |limit, usage, max, failcnt| {
                obj(
                    &[
                        ("limit", limit),
                        ("usage", usage),
                        ("max", max),
                        ("failcnt", failcnt),
                    ],
                    ENTRY_OMIT,
                )
            };
            m.insert(
                "usage".into(),
                entry(limit, usage, num(d, "memory.peak", 0), failcnt),
            );
            // runc reports v1's memory+swap here.
            let swap = num(d, "memory.swap.current", 0);
            let swap_max = num(d, "memory.swap.max", u64::MAX);
            m.insert(
                "swap".into(),
                entry(swap_max.saturating_add(limit), swap + usage, 0, 0),
            );
            m.insert("kernel".into(), entry(0, 0, 0, 0));
            m.insert("kernelTCP".into(), entry(0, 0, 0, 0));
            (keyed(d, "memory.stat"), "file")
        }
        None => (BTreeMap::new(), ""),
    };
    if let Some(c) = raw.get(cache_key).filter(|c| **c != 0) {
        // First, as in runc's Memory type.
        m.shift_insert(0, "cache".into(), json!(c));
    }
    if !raw.is_empty() {
        m.insert("raw".into(), json!(raw));
    }
    Value::Object(m)
}

fn pids(s: &Sites) -> Value {
    match s.serve("pids", Some("pids")) {
        Some(Serve::V1(d) | Serve::V2(d)) => obj(
            &[
                ("current", num(d, "pids.current", 0)),
                ("limit", num(d, "pids.max", 0)),
            ],
            &["current", "limit"],
        ),
        None => json!({}),
    }
}

/// One blkio entry; every field is omitempty in runc.
fn blk(major: u64, minor: u64, op: &str, value: u64) -> Value {
    let mut m = Map::new();
    for (k, v) in [("major", major), ("minor", minor)] {
        if v != 0 {
            m.insert(k.into(), json!(v));
        }
    }
    if !op.is_empty() {
        m.insert("op".into(), json!(op));
    }
    if value != 0 {
        m.insert("value".into(), json!(value));
    }
    Value::Object(m)
}

fn dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// v1 "8:0 Read 123" lines ("Total N" skipped).
pub fn v1_blkio_entries(t: &str) -> Vec<Value> {
    t.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (maj, min) = dev(it.next()?)?;
            let op = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some(blk(maj, min, op, v))
        })
        .collect()
}

/// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 …" → (bytes entries, ios entries).
pub fn v2_io_entries(t: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in t.lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(dev) else {
            continue;
        };
        let kv: BTreeMap<&str, u64> = it
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k, v.parse().ok()?))
            })
            .collect();
        let g = |k: &str| kv.get(k).copied().unwrap_or(0);
        bytes.push(blk(maj, min, "Read", g("rbytes")));
        bytes.push(blk(maj, min, "Write", g("wbytes")));
        ios.push(blk(maj, min, "Read", g("rios")));
        ios.push(blk(maj, min, "Write", g("wios")));
    }
    (bytes, ios)
}

fn blkio(s: &Sites) -> Value {
    let mut m = Map::new();
    let (bytes, ios) = match s.serve("blkio", Some("io")) {
        Some(Serve::V1(d)) => {
            // CFQ/BFQ accounting where a scheduler provides it, else the throttle layer's.
            let pick = |names: &[&str]| {
                names
                    .iter()
                    .filter_map(|n| text(d, n))
                    .map(|t| v1_blkio_entries(&t))
                    .find(|e| !e.is_empty())
                    .unwrap_or_default()
            };
            (
                pick(&[
                    "blkio.io_service_bytes_recursive",
                    "blkio.bfq.io_service_bytes_recursive",
                    "blkio.throttle.io_service_bytes_recursive",
                ]),
                pick(&[
                    "blkio.io_serviced_recursive",
                    "blkio.bfq.io_serviced_recursive",
                    "blkio.throttle.io_serviced_recursive",
                ]),
            )
        }
        Some(Serve::V2(d)) => v2_io_entries(&text(d, "io.stat").unwrap_or_default()),
        None => (Vec::new(), Vec::new()),
    };
    if !bytes.is_empty() {
        m.insert("ioServiceBytesRecursive".into(), json!(bytes));
    }
    if !ios.is_empty() {
        m.insert("ioServicedRecursive".into(), json!(ios));
    }
    Value::Object(m)
}

/// Page sizes from the file names (hugetlb.2MB.limit_in_bytes / hugetlb.2MB.max).
fn page_sizes(d: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(d)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let size = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    v.sort();
    v
}

fn hugetlb(s: &Sites) -> Value {
    let mut m = Map::new();
    match s.serve("hugetlb", Some("hugetlb")) {
        Some(Serve::V1(d)) => {
            for size in page_sizes(d, ".limit_in_bytes") {
                let f = |n: &str| format!("hugetlb.{size}.{n}");
                m.insert(
                    size.clone(),
                    obj(
                        &[
                            ("usage", num(d, &f("usage_in_bytes"), 0)),
                            ("max", num(d, &f("max_usage_in_bytes"), 0)),
                            ("failcnt", num(d, &f("failcnt"), 0)),
                        ],
                        &["usage", "max"],
                    ),
                );
            }
        }
        Some(Serve::V2(d)) => {
            for size in page_sizes(d, ".max") {
                let events = keyed(d, &format!("hugetlb.{size}.events"));
                m.insert(
                    size.clone(),
                    obj(
                        &[
                            ("usage", num(d, &format!("hugetlb.{size}.current"), 0)),
                            ("failcnt", events.get("max").copied().unwrap_or(0)),
                        ],
                        &["usage", "max"],
                    ),
                );
            }
        }
        None => {}
    }
    Value::Object(m)
}
