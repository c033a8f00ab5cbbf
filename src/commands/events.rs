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
    loop {
        let (state, status) = store.load(&a.id)?;
        if status == Status::Stopped {
            if a.stats {
                bail!("container not running");
            }
            return Ok(());
        }
        let ev = serde_json::json!({"type": "stats", "id": a.id, "data": state.cgroup.stats()?});
        println!("{ev}");
        if a.stats {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
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
