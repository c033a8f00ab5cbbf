//! events: the container's statistics (its cgroup's, and the network interfaces of its
//! netns), once or every interval until it stops, with its OOM kills as they happen.

use crate::cgroups::OomWatch;
use crate::state::{State, Status, Store, WrongStatus};
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, Instant};

/// One sample of a container that runs; a stopped one is an error.
pub fn sample(root: &Path, id: &str) -> Result<serde_json::Value> {
    let (state, status) = Store::new(root)?.load(id)?;
    if status == Status::Stopped {
        return Err(WrongStatus(status).into());
    }
    stats(&state)
}

/// What `Events` yields.
#[derive(Debug, Clone)]
pub enum Event {
    /// A sample of the statistics, in runc's shape.
    Stats(serde_json::Value),
    /// The kernel killed a process of the container for lack of memory.
    Oom,
}

/// A sample now and every `interval`, and each OOM kill as it happens, until the container
/// stops (the iterator then ends). The state is read once per interval.
pub struct Events {
    store: Store,
    id: String,
    interval: Duration,
    /// After a sample: the end of the wait for the next one.
    deadline: Option<Instant>,
    /// The cgroup of the last sample, until the watch is made from it.
    last: Option<State>,
    /// Made once, after the first sample (None inside: the cgroup cannot report OOM kills).
    oom: Option<Option<OomWatch>>,
    done: bool,
}

pub fn watch(root: &Path, id: &str, interval: Duration) -> Result<Events> {
    Ok(Events {
        store: Store::new(root)?,
        id: id.to_string(),
        interval,
        deadline: None,
        last: None,
        oom: None,
        done: false,
    })
}

impl Events {
    /// Sleep until the next sample is due; Some(Oom) when the kernel reports one first.
    fn wait(&mut self) -> Result<Option<Event>> {
        if self.oom.is_none() {
            if let Some(s) = self.last.take() {
                self.oom = Some(OomWatch::new(&s.cgroup)?);
            }
        }
        let Some(deadline) = self.deadline else {
            return Ok(None);
        };
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.oom.as_mut().and_then(|w| w.as_mut()) {
                Some(w) => {
                    if w.wait(left) {
                        return Ok(Some(Event::Oom));
                    }
                }
                None => std::thread::sleep(left),
            }
        }
        self.deadline = None;
        Ok(None)
    }

    fn step(&mut self) -> Result<Option<Event>> {
        if let Some(oom) = self.wait()? {
            return Ok(Some(oom));
        }
        let (state, status) = self.store.load(&self.id)?;
        if status == Status::Stopped {
            self.done = true;
            return Ok(None);
        }
        let data = stats(&state)?;
        if self.oom.is_none() {
            self.last = Some(state);
        }
        self.deadline = Some(Instant::now() + self.interval);
        Ok(Some(Event::Stats(data)))
    }
}

impl Iterator for Events {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        r.transpose()
    }
}

/// runc's stats object: the cgroup's, plus the interfaces of the container's netns.
fn stats(state: &State) -> Result<serde_json::Value> {
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
