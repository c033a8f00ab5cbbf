//! events: the container's statistics in runc's `events` shape, once (--stats) or every
//! --interval until the container stops, and its OOM kills.

use crate::cli::EventsArgs;
use anyhow::{bail, Result};
use std::path::Path;
use std::time::Duration;

pub fn run(root: &Path, a: &EventsArgs) -> Result<()> {
    let interval = parse_duration(&a.interval)?;
    if a.stats {
        let data = carrack::events(root, &a.id)?;
        println!(
            "{}",
            serde_json::json!({"type": "stats", "id": a.id, "data": data})
        );
        return Ok(());
    }
    for ev in carrack::watch_events(root, &a.id, interval)? {
        let ev = match ev? {
            carrack::Event::Stats(data) => {
                serde_json::json!({"type": "stats", "id": a.id, "data": data})
            }
            carrack::Event::Oom => serde_json::json!({"type": "oom", "id": a.id}),
        };
        println!("{ev}");
    }
    Ok(())
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
