//! events: the container's cgroup stats in runc's `events` shape, once (--stats) or every
//! --interval until the container stops.

use crate::cli::EventsArgs;
use crate::state::{Status, Store};
use anyhow::{bail, Result};
use std::path::Path;
use std::time::Duration;

pub fn run(root: &Path, a: &EventsArgs) -> Result<()> {
    crate::config::validate_id(&a.id)?;
    let store = Store::new(root)?;
    let interval = parse_duration(&a.interval)?;
    let mut oom = None;
    loop {
        let (state, status) = store.load(&a.id)?;
        if status == Status::Stopped {
            if a.stats {
                bail!("container not running");
            }
            return Ok(());
        }
        let ev = serde_json::json!({"type": "stats", "id": a.id, "data": stats(&state)?});
        println!("{ev}");
        if a.stats {
            return Ok(());
        }
        if oom.is_none() {
            oom = Some(crate::cgroups::OomWatch::new(&state.cgroup)?);
        }
        // Sleep the interval, printing an OOM event the moment the kernel reports one.
        let deadline = std::time::Instant::now() + interval;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match oom.as_mut().and_then(|w| w.as_mut()) {
                Some(w) => {
                    if w.wait(left) {
                        println!("{}", serde_json::json!({"type": "oom", "id": a.id}));
                    }
                }
                None => std::thread::sleep(left),
            }
        }
    }
}

/// runc's stats object: the cgroup's, plus the interfaces of the container's netns.
fn stats(state: &crate::state::State) -> Result<serde_json::Value> {
    let mut data = state.cgroup.stats()?;
    let ifaces = network_interfaces(state.pid);
    if !ifaces.is_empty() {
        data["network_interfaces"] = serde_json::Value::Array(ifaces);
    }
    Ok(data)
}

/// /proc/<pid>/net/dev of the container's init, without lo, in runc's field names.
fn network_interfaces(pid: i32) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let n: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if name == "lo" || n.len() < 12 {
                return None;
            }
            Some(serde_json::json!({
                "name": name,
                "rx_bytes": n[0], "rx_packets": n[1], "rx_errors": n[2], "rx_dropped": n[3],
                "tx_bytes": n[8], "tx_packets": n[9], "tx_errors": n[10], "tx_dropped": n[11],
            }))
        })
        .collect()
}

/// Go-style durations as runc takes them: "5s", "500ms", "1m".
fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| c.is_alphabetic())
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--interval {s:?}: not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => bail!("--interval {s:?}: unknown unit"),
    };
    if secs <= 0.0 {
        bail!("--interval {s:?}: must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}
